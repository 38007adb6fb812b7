//! One request, start to end: its route, its method, its credentials, its body. Pure, so
//! the whole path a request takes is tested natively; answering is left to the caller.

use crate::answer::Refusal;
use crate::record;
use crate::route::Routes;
use crate::split::split;
use danube_connect_sdk::Record;
use danube_connect_sdk::inbound_http::Request;

#[derive(Debug)]
pub enum Outcome {
    /// Answer at once with this 4xx.
    Refuse(Refusal),
    /// Valid but carrying no record (an empty batch): answer 200 at once.
    Empty,
    /// Publish these; answer once Danube persisted them.
    Publish(Vec<Record>),
}

pub fn handle(routes: &Routes, request: &Request) -> Outcome {
    match records(routes, request) {
        Ok(records) if records.is_empty() => Outcome::Empty,
        Ok(records) => Outcome::Publish(records),
        Err(refusal) => Outcome::Refuse(refusal),
    }
}

fn records(routes: &Routes, request: &Request) -> Result<Vec<Record>, Refusal> {
    let route = routes
        .find(request.path_only())
        .ok_or_else(|| Refusal::new(404, "no webhook at this path"))?;
    if !route.allows(&request.method) {
        return Err(
            Refusal::new(405, "method not allowed").with_header("allow", route.allow_header())
        );
    }
    route.auth.verify(request).map_err(|reason| {
        let refusal = Refusal::new(401, reason);
        match route.auth.challenge() {
            Some(scheme) => refusal.with_header("www-authenticate", scheme),
            None => refusal,
        }
    })?;
    let split = split(route.format, request.header("content-type"), &request.body)
        .map_err(|reason| Refusal::new(400, reason))?;
    let count = split.payloads.len();
    if count > route.max_records {
        return Err(Refusal::new(
            413,
            format!(
                "the request carries {count} records, more than the {} this webhook takes",
                route.max_records
            ),
        ));
    }
    Ok(record::build(route, request, &split))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use crate::testing::{RECEIVED_AT_MS, hmac_sha256, request};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use danube_connect_sdk::Config;

    const KEY: &[u8] = b"0123456789abcdef";

    fn routes() -> Routes {
        let secret = format!("whsec_{}", BASE64.encode(KEY));
        let json = format!(
            r#"{{"routes":[
                {{"path":"/open","topic":"/default/open"}},
                {{"path":"/swh","topic":"/default/swh","auth":"standard_webhooks","secret":"{secret}",
                  "format":"json_batch","max_records_per_request":3}},
                {{"path":"/gh","topic":"/default/gh","auth":"github","secret":"gh-secret","format":"json",
                  "forward_headers":["x-github-event"]}},
                {{"path":"/token","topic":"/default/token","methods":["POST","PUT"],"auth":"bearer","token":"t0k"}}
            ]}}"#
        );
        Config::new(json)
            .parse::<RawConfig>()
            .and_then(RawConfig::validate)
            .expect("valid config")
    }

    fn standard_webhook(body: &[u8]) -> Request {
        let ts = (RECEIVED_AT_MS / 1000).to_string();
        let mut signed = format!("msg_1.{ts}.").into_bytes();
        signed.extend_from_slice(body);
        let signature = format!("v1,{}", BASE64.encode(hmac_sha256(KEY, &signed)));
        request(
            "POST",
            "/swh",
            &[
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", &ts),
                ("webhook-signature", &signature),
            ],
            body,
        )
    }

    fn github(body: &[u8], secret: &[u8]) -> Request {
        let signature = format!("sha256={}", hex::encode(hmac_sha256(secret, body)));
        request(
            "POST",
            "/gh",
            &[
                ("x-hub-signature-256", &signature),
                ("x-github-event", "push"),
                ("x-github-delivery", "d-9"),
            ],
            body,
        )
    }

    fn refusal(outcome: Outcome) -> Refusal {
        match outcome {
            Outcome::Refuse(r) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn published(outcome: Outcome) -> Vec<Record> {
        match outcome {
            Outcome::Publish(records) => records,
            other => panic!("expected records, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_path_is_404_and_a_wrong_method_405_with_allow() {
        let r = routes();
        let missing = refusal(handle(&r, &request("POST", "/nope?x=/open", &[], b"")));
        assert_eq!(missing.status, 404);
        let wrong = refusal(handle(&r, &request("GET", "/token", &[], b"")));
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.headers, vec![("allow".into(), "POST, PUT".into())]);
    }

    #[test]
    fn the_query_is_ignored_and_raw_keeps_the_bytes() {
        let body = b"\x00\xffanything";
        let records = published(handle(&routes(), &request("POST", "/open?a=1", &[], body)));
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].payload, body);
        assert_eq!(records[0].topic.as_deref(), Some("/default/open"));
    }

    #[test]
    fn a_signed_batch_is_split_into_exact_elements() {
        let body = br#"[{"n": 1.0}, {"n":2}]"#;
        let records = published(handle(&routes(), &standard_webhook(body)));
        let payloads: Vec<&[u8]> = records.iter().map(|r| r.payload.as_slice()).collect();
        assert_eq!(payloads, vec![&br#"{"n": 1.0}"#[..], &br#"{"n":2}"#[..]]);
        assert!(records.iter().all(|r| r.key.as_deref() == Some("msg_1")));
    }

    #[test]
    fn a_bad_signature_is_401_before_the_body_is_read() {
        let mut req = standard_webhook(b"[1]");
        req.body = b"[1,".to_vec();
        let r = refusal(handle(&routes(), &req));
        assert_eq!(
            (r.status, r.reason.as_str()),
            (401, "webhook-signature does not match")
        );
    }

    #[test]
    fn bad_json_is_400_naming_the_problem() {
        let r = refusal(handle(&routes(), &standard_webhook(b"{\"a\":1}\n{\"a\":")));
        assert_eq!(r.status, 400);
        assert!(r.reason.starts_with("line 2 is not JSON"), "{}", r.reason);
        let r = refusal(handle(&routes(), &github(b"{nope", b"gh-secret")));
        assert_eq!(r.status, 400);
        assert!(
            r.reason
                .starts_with("the body is not JSON: key must be a string"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn too_many_records_is_413_and_none_is_answered_at_once() {
        let r = refusal(handle(&routes(), &standard_webhook(b"[1,2,3,4]")));
        assert_eq!(r.status, 413);
        assert!(r.reason.contains("4 records"), "{}", r.reason);
        assert!(matches!(
            handle(&routes(), &standard_webhook(b" [ ] ")),
            Outcome::Empty
        ));
    }

    #[test]
    fn github_forwards_its_event_and_keys_by_delivery() {
        let records = published(handle(&routes(), &github(br#"{"zen":"x"}"#, b"gh-secret")));
        assert_eq!(records[0].key.as_deref(), Some("d-9"));
        assert!(
            records[0]
                .attributes
                .contains(&("http.header.x-github-event".into(), "push".into()))
        );
        let r = refusal(handle(&routes(), &github(b"{}", b"another")));
        assert_eq!(r.status, 401);
    }

    #[test]
    fn bearer_accepts_its_token_and_challenges_otherwise() {
        let ok = request("PUT", "/token", &[("authorization", "Bearer t0k")], b"x");
        assert_eq!(published(handle(&routes(), &ok)).len(), 1);
        let wrong = request("POST", "/token", &[("authorization", "Bearer t0K")], b"x");
        let r = refusal(handle(&routes(), &wrong));
        assert_eq!(r.status, 401);
        assert_eq!(
            r.headers,
            vec![("www-authenticate".into(), "Bearer".into())]
        );
    }
}
