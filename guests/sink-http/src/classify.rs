//! Turns the outcome of one request into what the host should do with its messages:
//! acknowledge, retry (possibly after a delay), dead-letter, or stop the connector. The
//! decision is the SDK's [`RetryPolicy`]; this file words the reasons.

use std::time::SystemTime;

use danube_connect_sdk::Error;
use danube_connect_sdk::http::{HttpError, Outcome, Response, RetryPolicy};

/// Response body bytes quoted in an invalid-data or fatal reason.
pub const QUOTED_BODY_BYTES: usize = 512;

/// Classifies a response. `request` names it in messages, e.g. `POST https://h/x`.
pub fn classify_response(
    policy: &RetryPolicy,
    request: &str,
    response: &Response,
    now: SystemTime,
) -> Result<(), Error> {
    let what = format!("{request} answered {}", response.status());
    match policy.decide(response, now) {
        outcome @ (Outcome::Delivered | Outcome::Retry { .. }) => outcome.result(what),
        Outcome::Redirect => {
            let target = response.header("location").unwrap_or("?");
            Err(Error::fatal(format!(
                "{what}, a redirect to {target}: redirects are not followed, point `url` at the final address"
            )))
        }
        outcome => outcome.result(format!("{what}: {}", quote(response.body()))),
    }
}

/// Classifies a request that got no response.
pub fn classify_error(policy: &RetryPolicy, error: HttpError) -> Error {
    let reason = error.to_string();
    match policy.decide_error(&error).result(reason.clone()) {
        Err(e) => e,
        // Not reached: a request without a response is never delivered.
        Ok(()) => Error::retryable(reason),
    }
}

/// The start of a response body for an error message.
fn quote(body: &[u8]) -> String {
    let cut = body.len().min(QUOTED_BODY_BYTES);
    let text = String::from_utf8_lossy(&body[..cut]);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else if cut < body.len() {
        format!("{text}…")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response::new(
            status,
            headers
                .iter()
                .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
                .collect(),
            body.as_bytes().to_vec(),
        )
    }

    fn classify(r: &Response) -> Result<(), Error> {
        classify_response(&policy(), "POST http://h/x", r, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn success() {
        for status in [200, 201, 202, 204, 299] {
            assert!(classify(&response(status, &[], "")).is_ok());
        }
    }

    #[test]
    fn default_retryable_statuses() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            let e = classify(&response(status, &[], "")).unwrap_err();
            assert!(e.is_retryable(), "{status}");
        }
        let e = classify(&response(501, &[], "nope")).unwrap_err();
        assert!(matches!(e, Error::InvalidData(_)));
    }

    #[test]
    fn other_4xx_is_invalid_data_with_status_and_body() {
        let body = "x".repeat(2000);
        let e = classify(&response(422, &[], &body)).unwrap_err();
        let Error::InvalidData(msg) = e else {
            panic!("expected invalid data, got {e:?}")
        };
        assert!(
            msg.starts_with("POST http://h/x answered 422: xxx"),
            "{msg}"
        );
        assert!(msg.len() < 600, "body not truncated: {}", msg.len());
        assert!(msg.ends_with('…'));
        let e = classify(&response(400, &[], "")).unwrap_err();
        assert_eq!(e.message(), "POST http://h/x answered 400: (empty body)");
    }

    #[test]
    fn auth_failures_and_redirects_are_fatal() {
        assert!(matches!(
            classify(&response(401, &[], "bad token")),
            Err(Error::Fatal(_))
        ));
        let e = classify(&response(301, &[("Location", "https://new/")], "")).unwrap_err();
        assert!(matches!(&e, Error::Fatal(m) if m.contains("https://new/")));
    }

    #[test]
    fn configured_list_replaces_the_default() {
        let p = RetryPolicy {
            retry_on_status: Some(vec![409]),
            ..policy()
        };
        let r = classify_response(&p, "r", &response(409, &[], ""), SystemTime::now());
        assert!(r.unwrap_err().is_retryable());
        let r = classify_response(&p, "r", &response(503, &[], ""), SystemTime::now());
        assert!(matches!(r, Err(Error::InvalidData(_))));
    }

    #[test]
    fn retry_after_is_honoured() {
        let r = response(429, &[("Retry-After", "7")], "");
        let e = classify(&r).unwrap_err();
        assert!(matches!(
            e,
            Error::Retryable(danube_connect_sdk::Retry {
                after_ms: Some(7000),
                ..
            })
        ));
    }

    #[test]
    fn transport_errors() {
        let url = "https://blocked.example/x".to_string();
        let e = classify_error(&policy(), HttpError::Denied { url: url.clone() });
        assert!(matches!(&e, Error::Fatal(m) if m.contains(&url)));
        let e = classify_error(
            &policy(),
            HttpError::Timeout {
                url: url.clone(),
                detail: "d".into(),
            },
        );
        assert!(e.is_retryable());
        let e = classify_error(
            &policy(),
            HttpError::Connect {
                url: url.clone(),
                detail: "ConnectionRefused".into(),
            },
        );
        assert!(e.is_retryable());
        let e = classify_error(
            &policy(),
            HttpError::InvalidRequest {
                url,
                detail: "d".into(),
            },
        );
        assert!(matches!(e, Error::InvalidData(_)));
    }
}
