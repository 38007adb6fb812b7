//! The records of an accepted request: its route's topic, the idempotency key, attributes
//! describing the request, and the request id as position.

use crate::pending::STREAM;
use crate::route::Route;
use crate::split::Split;
use danube_connect_sdk::Record;
use danube_connect_sdk::inbound_http::Request;

/// Headers that carry a delivery id in common webhook conventions, tried in order.
const KEY_HEADERS: &[&str] = &["webhook-id", "x-github-delivery", "idempotency-key"];

pub fn build(route: &Route, request: &Request, split: &Split<'_>) -> Vec<Record> {
    let key = idempotency_key(route, request);
    let mut common: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, value: &str| common.push((name.into(), value.into()));
    if let Some(key) = key {
        add("webhook.id", key);
    }
    add("http.path", request.path_only());
    add("http.method", &request.method);
    if let Some(content_type) = request.header("content-type") {
        add("http.content-type", content_type);
    }
    for name in &route.forward_headers {
        if let Some(value) = request.header(name) {
            add(&format!("http.header.{name}"), value);
        }
    }
    let count = split.payloads.len().to_string();
    let position = request.id.to_string();
    split
        .payloads
        .iter()
        .enumerate()
        .map(|(index, payload)| {
            let mut record = Record::new(payload.to_vec())
                .with_topic(route.topic.as_str())
                .with_position(STREAM, position.as_str());
            record.key = key.map(str::to_string);
            record.attributes = common.clone();
            if split.batch {
                record = record
                    .with_attribute("webhook.index", index.to_string())
                    .with_attribute("webhook.count", count.as_str());
            }
            record
        })
        .collect()
}

/// The route's `key_header`, or else the first usual delivery-id header present; an empty
/// value is no key.
fn idempotency_key<'r>(route: &Route, request: &'r Request) -> Option<&'r str> {
    let configured;
    let candidates: &[&str] = match &route.key_header {
        Some(name) => {
            configured = [name.as_str()];
            &configured
        }
        None => KEY_HEADERS,
    };
    candidates
        .iter()
        .filter_map(|name| request.header(name))
        .map(str::trim)
        .find(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Auth;
    use crate::split::Format;
    use crate::testing::request;

    fn route(key_header: Option<&str>, forward: &[&str]) -> Route {
        Route {
            path: "/hooks/gh".into(),
            topic: "/default/gh".into(),
            methods: vec!["POST".into()],
            auth: Auth::None,
            format: Format::JsonBatch,
            key_header: key_header.map(str::to_string),
            forward_headers: forward.iter().map(|h| (*h).to_string()).collect(),
            max_records: 10,
        }
    }

    fn attribute<'a>(record: &'a Record, name: &str) -> Option<&'a str> {
        record
            .attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_batch_shares_key_position_and_attributes_and_numbers_its_records() {
        let req = request(
            "POST",
            "/hooks/gh?attempt=2",
            &[
                ("content-type", "application/json"),
                ("x-github-delivery", "d-1"),
                ("x-github-event", "push"),
            ],
            b"[1,2]",
        );
        let split = Split {
            payloads: vec![b"1", b"2"],
            batch: true,
        };
        let records = build(&route(None, &["x-github-event", "x-absent"]), &req, &split);
        assert_eq!(records.len(), 2);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.topic.as_deref(), Some("/default/gh"));
            assert_eq!(r.key.as_deref(), Some("d-1"));
            let position = r.position.as_ref().expect("position");
            assert_eq!(
                (position.stream_id.as_str(), position.value.as_str()),
                (STREAM, "7")
            );
            assert_eq!(attribute(r, "webhook.id"), Some("d-1"));
            assert_eq!(attribute(r, "http.path"), Some("/hooks/gh"));
            assert_eq!(attribute(r, "http.method"), Some("POST"));
            assert_eq!(attribute(r, "http.content-type"), Some("application/json"));
            assert_eq!(attribute(r, "http.header.x-github-event"), Some("push"));
            assert_eq!(attribute(r, "http.header.x-absent"), None);
            assert_eq!(attribute(r, "webhook.index"), Some(i.to_string().as_str()));
            assert_eq!(attribute(r, "webhook.count"), Some("2"));
        }
        assert_eq!(records[1].payload, b"2");
    }

    #[test]
    fn a_single_record_has_no_batch_attributes_and_maybe_no_key() {
        let req = request("POST", "/hooks/gh", &[], b"x");
        let split = Split {
            payloads: vec![b"x"],
            batch: false,
        };
        let records = build(&route(None, &[]), &req, &split);
        let r = &records[0];
        assert_eq!(r.key, None);
        assert_eq!(attribute(r, "webhook.id"), None);
        assert_eq!(attribute(r, "webhook.index"), None);
        assert_eq!(attribute(r, "http.content-type"), None);
    }

    #[test]
    fn the_key_comes_from_the_configured_header_only_or_the_usual_ones_in_order() {
        let headers = [
            ("idempotency-key", "i-1"),
            ("webhook-id", ""),
            ("x-github-delivery", "g-1"),
            ("x-request-id", "r-1"),
        ];
        let req = request("POST", "/hooks/gh", &headers, b"");
        assert_eq!(idempotency_key(&route(None, &[]), &req), Some("g-1"));
        let configured = route(Some("x-request-id"), &[]);
        assert_eq!(idempotency_key(&configured, &req), Some("r-1"));
        let absent = route(Some("x-other"), &[]);
        assert_eq!(idempotency_key(&absent, &req), None);
        let swh = request(
            "POST",
            "/",
            &[("webhook-id", "msg_1"), ("idempotency-key", "i")],
            b"",
        );
        assert_eq!(idempotency_key(&route(None, &[]), &swh), Some("msg_1"));
    }
}
