"""Transform-and-forward sink: each batch is parsed, passed through `transform.transform`, and
POSTed as one JSON array. Payloads that are not JSON, and messages the transform rejects, go
to the dead-letter topic with the reason; messages it filters out are acknowledged unsent."""

import json
from types import SimpleNamespace

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, metrics
from wit_world.imports.danube_connect_types import (
    BatchError_All,
    BatchError_Some,
    Error_Config,
    Error_Fatal,
    Error_InvalidData,
    Error_Retryable,
    Retry,
)

import classify
import http_client
import settings
import transform


# The checked `[config]`, set by `open`. Module state, not an attribute: componentize-py makes
# a new `Sink` object for every call into the component.
SETTINGS = None


def to_error(failure):
    """A `classify.Failure` as the WIT `error` variant."""
    if failure.kind == classify.RETRYABLE:
        return Error_Retryable(Retry(failure.message, failure.after_ms))
    if failure.kind == classify.FATAL:
        return Error_Fatal(failure.message)
    return Error_InvalidData(failure.message)


def meta_of(message):
    return SimpleNamespace(
        topic=message.topic,
        offset=message.offset,
        key=message.key,
        attributes=dict(message.attributes),
        publish_time_us=message.publish_time_us,
    )


def forward(documents):
    """POSTs the serialised documents as one JSON array; `None` when delivered, else a
    `classify.Failure` for all of them."""
    s = SETTINGS
    body = ("[" + ",".join(documents) + "]").encode()
    try:
        response = http_client.post(s.target, s.headers, body, s.timeout_ms)
    except http_client.HttpFailure as e:
        return e.failure
    return classify.classify_response(
        f"POST {s.target.url}",
        response.status,
        response.headers,
        response.body,
        s.fatal_on_status,
    )


class Sink(exports.Sink):
    def open(self, config_json):
        global SETTINGS
        try:
            SETTINGS = settings.parse(json.loads(config_json or "{}"))
        except (ValueError, settings.ConfigError) as e:
            raise Err(Error_Config(str(e))) from None
        log.log(log.Level.INFO, "sink-python open", [("url", SETTINGS.target.url)])

    def process(self, batch):
        if SETTINGS is None:
            raise Err(BatchError_All(Error_Fatal("process called before open")))
        failed = []  # (index, error) of messages that are not delivered
        forwarded = []  # indices of the messages in the request
        documents = []
        filtered = 0
        for index, message in enumerate(batch):
            try:
                doc = json.loads(message.payload)
            except (ValueError, UnicodeDecodeError) as e:
                failed.append((index, Error_InvalidData(f"payload is not JSON: {e}")))
                continue
            try:
                out = transform.transform(doc, meta_of(message), SETTINGS.transform)
            except Exception as e:  # the user's code decides what is bad input
                failed.append((index, Error_InvalidData(f"transform: {type(e).__name__}: {e}")))
                continue
            if out is None:
                filtered += 1
                continue
            try:
                documents.append(json.dumps(out, separators=(",", ":")))
            except (TypeError, ValueError) as e:
                failed.append((index, Error_InvalidData(f"transform returned non-JSON: {e}")))
                continue
            forwarded.append(index)

        if filtered:
            metrics.counter_add("messages_filtered_total", filtered, [])
        if documents:
            failure = forward(documents)
            if failure is not None:
                error = to_error(failure)
                if failure.kind == classify.FATAL:
                    # Stop now: nothing of this batch is acknowledged.
                    raise Err(BatchError_All(error))
                failed.extend((index, error) for index in forwarded)
        if failed:
            raise Err(BatchError_Some(failed))

    def close(self):
        pass
