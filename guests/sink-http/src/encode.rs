//! Turns a batch into HTTP requests: bodies, per-request headers and idempotency keys.
//!
//! * `per_message`: one request per message, the payload as body, metadata as headers.
//! * `json_array` / `ndjson`: messages with the same URL and topic share requests, split so
//!   no body exceeds `max_batch_bytes` (a single larger message goes alone).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use danube_connect_sdk::{Error, Message};
use sha2::{Digest, Sha256};

use crate::config::{BodyMode, NonJson, Settings, is_token_char};

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub url: String,
    /// Indices into the batch of the messages this request carries, in batch order.
    pub indices: Vec<u32>,
    /// Metadata headers for this request (static headers are added when sending).
    pub headers: Vec<(String, String)>,
    /// Same for a redelivery of the same message(s); also the `webhook-id`.
    pub idempotency_key: String,
    pub body: Vec<u8>,
}

/// The requests for a batch plus the messages that cannot be sent at all.
#[derive(Debug)]
pub struct Encoded {
    pub requests: Vec<Outgoing>,
    /// Messages refused before sending (unusable URL, non-JSON payload), as invalid data.
    pub rejected: Vec<(u32, Error)>,
}

pub fn encode(settings: &Settings, batch: &[Message]) -> Encoded {
    let mut rejected = Vec::new();
    let mut routed = Vec::new();
    for (i, message) in batch.iter().enumerate() {
        // A wasm32 batch cannot hold more than u32::MAX messages.
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        match settings.url.render(message) {
            Ok(url) => routed.push((index, url, message)),
            Err(e) => rejected.push((
                index,
                Error::invalid_data(format!("cannot build the URL: {e}")),
            )),
        }
    }
    let requests = match settings.body {
        BodyMode::PerMessage => routed
            .into_iter()
            .map(|(index, url, message)| per_message(settings, index, url, message))
            .collect(),
        mode => batched(settings, mode, routed, &mut rejected),
    };
    Encoded { requests, rejected }
}

fn per_message(settings: &Settings, index: u32, url: String, m: &Message) -> Outgoing {
    let mut headers = Vec::new();
    if settings.metadata_headers {
        headers.push(("X-Danube-Topic".into(), header_value(m.topic())));
        headers.push(("X-Danube-Offset".into(), m.offset().to_string()));
        headers.push(("X-Danube-Publish-Time".into(), m.publish_time().to_string()));
        if !m.producer().is_empty() {
            headers.push(("X-Danube-Producer".into(), header_value(m.producer())));
        }
        if let Some(key) = m.key() {
            headers.push(("X-Danube-Key".into(), header_value(key)));
        }
        for (name, value) in m.attributes() {
            if !name.is_empty() {
                let name: String = name
                    .chars()
                    .map(|c| if is_token_char(c) { c } else { '-' })
                    .collect();
                headers.push((
                    format!("{}{name}", settings.attribute_header_prefix),
                    header_value(value),
                ));
            }
        }
    }
    Outgoing {
        url,
        indices: vec![index],
        headers,
        idempotency_key: message_key(m.topic(), m.offset()),
        body: m.payload().to_vec(),
    }
}

/// Messages of one (URL, topic) pair, encoded as array elements / lines.
struct Group<'a> {
    url: String,
    topic: &'a str,
    items: Vec<(u32, u64, Vec<u8>)>,
}

fn batched<'a>(
    settings: &Settings,
    mode: BodyMode,
    routed: Vec<(u32, String, &'a Message)>,
    rejected: &mut Vec<(u32, Error)>,
) -> Vec<Outgoing> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for (index, url, m) in routed {
        let item = match element(m, mode, settings.non_json) {
            Ok(item) => item,
            Err(e) => {
                rejected.push((index, e));
                continue;
            }
        };
        let entry = (index, m.offset(), item);
        match groups
            .iter_mut()
            .find(|g| g.url == url && g.topic == m.topic())
        {
            Some(group) => group.items.push(entry),
            None => groups.push(Group {
                url,
                topic: m.topic(),
                items: vec![entry],
            }),
        }
    }
    let mut out = Vec::new();
    for group in groups {
        for chunk in split(group.items, settings.max_batch_bytes, mode) {
            out.push(batch_request(
                settings,
                &group.url,
                group.topic,
                mode,
                chunk,
            ));
        }
    }
    out
}

/// Greedy split: a chunk grows until the next element would push the body past `max`.
fn split(
    items: Vec<(u32, u64, Vec<u8>)>,
    max: usize,
    mode: BodyMode,
) -> Vec<Vec<(u32, u64, Vec<u8>)>> {
    // json_array: `[` + `]` + a comma per element after the first; ndjson: a newline each.
    let (base, per_item) = match mode {
        BodyMode::JsonArray => (2, 1),
        _ => (0, 1),
    };
    let mut chunks = Vec::new();
    let mut current: Vec<(u32, u64, Vec<u8>)> = Vec::new();
    let mut size = base;
    for item in items {
        let cost = item.2.len() + per_item;
        if !current.is_empty() && size + cost > max {
            chunks.push(std::mem::take(&mut current));
            size = base;
        }
        size += cost;
        current.push(item);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn batch_request(
    settings: &Settings,
    url: &str,
    topic: &str,
    mode: BodyMode,
    chunk: Vec<(u32, u64, Vec<u8>)>,
) -> Outgoing {
    let first = chunk.first().map_or(0, |c| c.1);
    let last = chunk.last().map_or(0, |c| c.1);
    let count = chunk.len();
    let mut body = Vec::with_capacity(chunk.iter().map(|c| c.2.len() + 1).sum::<usize>() + 2);
    let mut indices = Vec::with_capacity(count);
    if mode == BodyMode::JsonArray {
        body.push(b'[');
    }
    for (n, (index, _, item)) in chunk.into_iter().enumerate() {
        if mode == BodyMode::JsonArray && n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&item);
        if mode == BodyMode::Ndjson {
            body.push(b'\n');
        }
        indices.push(index);
    }
    if mode == BodyMode::JsonArray {
        body.push(b']');
    }
    let mut headers = Vec::new();
    if settings.metadata_headers {
        headers.push(("X-Danube-Topic".into(), header_value(topic)));
        headers.push(("X-Danube-First-Offset".into(), first.to_string()));
        headers.push(("X-Danube-Last-Offset".into(), last.to_string()));
        headers.push(("X-Danube-Count".into(), count.to_string()));
    }
    Outgoing {
        url: url.to_string(),
        indices,
        headers,
        idempotency_key: batch_key(topic, first, last, count),
        body,
    }
}

/// One array element or line: JSON payloads as they are, others per `non_json`.
fn element(m: &Message, mode: BodyMode, non_json: NonJson) -> Result<Vec<u8>, Error> {
    let payload = m.payload();
    if serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok() {
        let trimmed = payload.trim_ascii();
        return Ok(if mode == BodyMode::Ndjson {
            // Raw line breaks in valid JSON can only be whitespace between tokens.
            trimmed
                .iter()
                .map(|b| if matches!(b, b'\n' | b'\r') { b' ' } else { *b })
                .collect()
        } else {
            trimmed.to_vec()
        });
    }
    let as_string = |s: &str| serde_json::to_vec(s).map_err(|e| Error::invalid_data(e.to_string()));
    match non_json {
        NonJson::Reject => Err(Error::invalid_data(format!(
            "payload of {}@{} is not JSON; set non_json = \"string\" or \"base64\" to send such payloads",
            m.topic(),
            m.offset()
        ))),
        NonJson::String => as_string(m.payload_str()?),
        NonJson::Base64 => as_string(&BASE64.encode(payload)),
    }
}

/// Header values go verbatim when printable ASCII; other bytes become `%XX`.
fn header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x20..=0x7e).contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Idempotency key of one message: the same topic and offset always give the same key.
pub fn message_key(topic: &str, offset: u64) -> String {
    format!("msg_{}", digest(&format!("message\n{topic}\n{offset}")))
}

/// Idempotency key of a batch request: the same messages grouped the same way give the
/// same key.
pub fn batch_key(topic: &str, first: u64, last: u64, count: usize) -> String {
    format!(
        "batch_{}",
        digest(&format!("batch\n{topic}\n{first}\n{last}\n{count}"))
    )
}

/// First 128 bits of SHA-256 in hex: short, header-safe, and does not reveal the topic.
fn digest(input: &str) -> String {
    Sha256::digest(input.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use danube_connect_sdk::Config;

    fn settings(extra: &str) -> Settings {
        let json = format!(r#"{{"url":"https://h/{{topic}}"{extra}}}"#);
        Config::new(json)
            .parse::<RawConfig>()
            .and_then(RawConfig::validate)
            .unwrap()
    }

    fn m(topic: &str, offset: u64, payload: &str) -> Message {
        Message::new(topic, offset, payload.as_bytes().to_vec())
    }

    fn body(o: &Outgoing) -> &str {
        std::str::from_utf8(&o.body).unwrap()
    }

    #[test]
    fn json_array_embeds_json_and_rejects_the_rest() {
        let s = settings("");
        let batch = [
            m("/a", 1, " {\"x\":1}\n"),
            m("/a", 2, "not json"),
            m("/a", 3, "[1,2]"),
        ];
        let enc = encode(&s, &batch);
        assert_eq!(enc.requests.len(), 1);
        let r = &enc.requests[0];
        assert_eq!(body(r), "[{\"x\":1},[1,2]]");
        assert_eq!(r.indices, vec![0, 2]);
        assert_eq!(r.url, "https://h/%2Fa");
        assert_eq!(enc.rejected.len(), 1);
        assert_eq!(enc.rejected[0].0, 1);
        assert!(matches!(enc.rejected[0].1, Error::InvalidData(_)));
        assert!(
            r.headers
                .contains(&("X-Danube-First-Offset".into(), "1".into()))
        );
        assert!(
            r.headers
                .contains(&("X-Danube-Last-Offset".into(), "3".into()))
        );
        assert!(r.headers.contains(&("X-Danube-Count".into(), "2".into())));
        assert_eq!(r.idempotency_key, batch_key("/a", 1, 3, 2));
    }

    #[test]
    fn non_json_as_string_or_base64() {
        let batch = [m("/a", 1, "hi \"there\"")];
        let enc = encode(&settings(r#","non_json":"string""#), &batch);
        assert_eq!(body(&enc.requests[0]), r#"["hi \"there\""]"#);
        let enc = encode(&settings(r#","non_json":"base64""#), &batch);
        assert_eq!(body(&enc.requests[0]), r#"["aGkgInRoZXJlIg=="]"#);
        let binary = [Message::new("/a", 1, vec![0xff])];
        let enc = encode(&settings(r#","non_json":"string""#), &binary);
        assert!(enc.requests.is_empty());
        assert_eq!(enc.rejected.len(), 1);
    }

    #[test]
    fn ndjson_keeps_one_document_per_line() {
        let s = settings(r#","body":"ndjson""#);
        let enc = encode(
            &s,
            &[m("/a", 1, "{\n  \"a\": \"x\\ny\"\n}"), m("/a", 2, "2")],
        );
        assert_eq!(body(&enc.requests[0]), "{   \"a\": \"x\\ny\" }\n2\n");
    }

    #[test]
    fn groups_by_url_and_topic() {
        let s = settings("");
        let batch = [m("/a", 1, "1"), m("/b", 1, "2"), m("/a", 2, "3")];
        let enc = encode(&s, &batch);
        assert_eq!(enc.requests.len(), 2);
        assert_eq!(enc.requests[0].indices, vec![0, 2]);
        assert_eq!(body(&enc.requests[0]), "[1,3]");
        assert_eq!(enc.requests[1].url, "https://h/%2Fb");
    }

    #[test]
    fn splits_at_max_batch_bytes() {
        // Each element costs 3 bytes + 1 separator; "[" and "]" add 2.
        let s = settings(r#","max_batch_bytes":10"#);
        let batch: Vec<Message> = (0..5).map(|i| m("/a", i, "100")).collect();
        let enc = encode(&s, &batch);
        let bodies: Vec<&str> = enc.requests.iter().map(body).collect();
        assert_eq!(bodies, vec!["[100,100]", "[100,100]", "[100]"]);
        assert!(enc.requests.iter().all(|r| r.body.len() <= 10));
        // A message larger than the limit travels alone.
        let enc = encode(&s, &[m("/a", 1, "\"a long string\""), m("/a", 2, "1")]);
        assert_eq!(enc.requests.len(), 2);
    }

    #[test]
    fn per_message_headers_and_keys() {
        let s = settings(r#","body":"per_message""#);
        let mut msg = m("/a", 42, "raw \u{0} bytes")
            .with_key("k\u{e9}")
            .with_attribute("trace id", "abc")
            .with_attribute("", "skipped");
        msg.publish_time_us = 1_700_000_000_000_000;
        msg.producer_name = "p1".into();
        let enc = encode(&s, &[msg]);
        let r = &enc.requests[0];
        assert_eq!(r.body, b"raw \0 bytes");
        assert_eq!(
            r.headers,
            vec![
                ("X-Danube-Topic".to_string(), "/a".to_string()),
                ("X-Danube-Offset".to_string(), "42".to_string()),
                (
                    "X-Danube-Publish-Time".to_string(),
                    "1700000000000000".to_string()
                ),
                ("X-Danube-Producer".to_string(), "p1".to_string()),
                ("X-Danube-Key".to_string(), "k%C3%A9".to_string()),
                ("X-Danube-Attr-trace-id".to_string(), "abc".to_string()),
            ]
        );
        assert_eq!(r.idempotency_key, message_key("/a", 42));
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(message_key("/a", 1), message_key("/a", 1));
        assert_ne!(message_key("/a", 1), message_key("/a", 2));
        assert_ne!(message_key("/a", 1), message_key("/b", 1));
        assert!(message_key("/a", 1).starts_with("msg_"));
        assert_eq!(message_key("/a", 1).len(), 4 + 32);
        assert_ne!(batch_key("/a", 1, 5, 5), batch_key("/a", 1, 6, 6));
    }

    #[test]
    fn unrenderable_urls_are_rejected() {
        let json = r#"{"url":"https://h/{key}","body":"per_message"}"#;
        let s = Config::new(json)
            .parse::<RawConfig>()
            .and_then(RawConfig::validate)
            .unwrap();
        let enc = encode(&s, &[m("/a", 1, "x"), m("/a", 2, "y").with_key("k")]);
        assert_eq!(enc.requests.len(), 1);
        assert_eq!(enc.requests[0].url, "https://h/k");
        assert_eq!(enc.rejected.len(), 1);
        assert_eq!(enc.rejected[0].0, 0);
    }

    #[test]
    fn metadata_headers_can_be_disabled() {
        let s = settings(r#","metadata_headers":false"#);
        let enc = encode(&s, &[m("/a", 1, "1")]);
        assert!(enc.requests[0].headers.is_empty());
    }
}
