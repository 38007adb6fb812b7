"""The part of the sink you edit: what happens to each message before it is forwarded.

`transform(doc, meta)` receives one message's payload parsed from JSON (`doc`) and where it
came from (`meta`: `topic`, `offset`, `key`, `attributes` as a dict, `publish_time_us`), and
returns what to forward:

- a JSON-serialisable value (usually the edited `doc`): it goes into the batch's JSON array;
- `None`: the message is filtered out; it is acknowledged and not forwarded;
- raising an exception: the message is bad; it goes to the dead-letter topic, with
  `dlq.error` naming the exception.

`options` is the `[config.transform]` table of the connector's config (`{}` when absent), so
one build can serve several pipelines. Rebuild the component after editing this file.

The example below shapes device readings for a receiver:
"""


def transform(doc, meta, options):
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, got {type(doc).__name__}")

    # Filter: heartbeats carry no reading.
    if doc.get("type") in options.get("drop_types", ["heartbeat"]):
        return None

    # Rename: fields the receiver knows under another name, e.g. {"device": "device_id"}.
    for old, new in options.get("rename", {"device": "device_id"}).items():
        if old in doc:
            doc[new] = doc.pop(old)

    # Drop: fields the receiver must not see.
    for name in options.get("drop_fields", ["debug"]):
        doc.pop(name, None)

    # Add: where the message came from, and static fields from the config.
    doc["source"] = {"topic": meta.topic, "offset": meta.offset, "key": meta.key}
    doc.update(options.get("add", {}))
    return doc
