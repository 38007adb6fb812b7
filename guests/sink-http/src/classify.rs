//! Turns the outcome of one request into what the host should do with its messages:
//! acknowledge, retry (possibly after a delay), dead-letter, or stop the connector.

use std::time::SystemTime;

use danube_connect_sdk::Error;
use danube_connect_sdk::http::{HttpError, Response};

/// Response body bytes quoted in an invalid-data or fatal reason.
pub const QUOTED_BODY_BYTES: usize = 512;

/// Which statuses are retried or fatal, and how long a `Retry-After` may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `None`: 408, 429 and every 5xx but 501.
    pub retry_on_status: Option<Vec<u16>>,
    pub fatal_on_status: Vec<u16>,
    pub max_retry_after_ms: u32,
}

impl RetryPolicy {
    fn is_retryable(&self, status: u16) -> bool {
        match &self.retry_on_status {
            Some(list) => list.contains(&status),
            None => {
                status == 408 || status == 429 || ((500..=599).contains(&status) && status != 501)
            }
        }
    }
}

/// Classifies a response. `request` names it in messages, e.g. `POST https://h/x`.
pub fn classify_response(
    policy: &RetryPolicy,
    request: &str,
    response: &Response,
    now: SystemTime,
) -> Result<(), Error> {
    let status = response.status();
    if response.is_success() {
        return Ok(());
    }
    let what = format!("{request} answered {status}");
    if policy.is_retryable(status) {
        let delay = retry_after_ms(
            response.header("retry-after"),
            now,
            policy.max_retry_after_ms,
        );
        return Err(match delay {
            Some(ms) => Error::retry_after(what, ms),
            None => Error::retryable(what),
        });
    }
    if (300..400).contains(&status) {
        // wasi:http does not follow redirects, and every later message would hit the same one.
        let target = response.header("location").unwrap_or("?");
        return Err(Error::fatal(format!(
            "{what}, a redirect to {target}: redirects are not followed, point `url` at the final address"
        )));
    }
    let detail = format!("{what}: {}", quote(response.body()));
    if policy.fatal_on_status.contains(&status) {
        Err(Error::fatal(detail))
    } else {
        Err(Error::invalid_data(detail))
    }
}

/// Classifies a request that got no response.
pub fn classify_error(error: HttpError) -> Error {
    match error {
        // Retrying cannot help until the operator changes the allow-list or the URL.
        HttpError::Denied { .. } => Error::fatal(error.to_string()),
        // The URL or a header built from this message is unusable.
        HttpError::InvalidRequest { .. } => Error::invalid_data(error.to_string()),
        HttpError::Timeout { .. } | HttpError::Connect { .. } | HttpError::Other { .. } => {
            Error::retryable(error.to_string())
        }
    }
}

/// `Retry-After` as delta seconds or an HTTP-date, in ms from `now`, capped at `cap_ms`.
/// A date in the past means "now" (0); anything unparsable is ignored.
pub fn retry_after_ms(value: Option<&str>, now: SystemTime, cap_ms: u32) -> Option<u32> {
    let value = value?.trim();
    let ms = match value.parse::<u64>() {
        Ok(seconds) => seconds.saturating_mul(1000),
        Err(_) => {
            let when = httpdate::parse_http_date(value).ok()?;
            when.duration_since(now)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        }
    };
    Some(u32::try_from(ms.min(u64::from(cap_ms))).unwrap_or(cap_ms))
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
    use std::time::Duration;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retry_on_status: None,
            fatal_on_status: vec![401, 403],
            max_retry_after_ms: 600_000,
        }
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
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after_ms(Some("120"), now, 600_000), Some(120_000));
        assert_eq!(retry_after_ms(Some(" 0 "), now, 600_000), Some(0));
        assert_eq!(retry_after_ms(Some("99999"), now, 600_000), Some(600_000));
        // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480; 30 s later:
        assert_eq!(
            retry_after_ms(Some("Wed, 21 Oct 2015 07:28:30 GMT"), now, 600_000),
            Some(30_000)
        );
        assert_eq!(
            retry_after_ms(Some("Wed, 21 Oct 2015 07:00:00 GMT"), now, 600_000),
            Some(0)
        );
        assert_eq!(retry_after_ms(Some("soon"), now, 600_000), None);
        assert_eq!(retry_after_ms(None, now, 600_000), None);
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
        let e = classify_error(HttpError::Denied { url: url.clone() });
        assert!(matches!(&e, Error::Fatal(m) if m.contains(&url)));
        let e = classify_error(HttpError::Timeout {
            url: url.clone(),
            detail: "d".into(),
        });
        assert!(e.is_retryable());
        let e = classify_error(HttpError::Connect {
            url: url.clone(),
            detail: "ConnectionRefused".into(),
        });
        assert!(e.is_retryable());
        let e = classify_error(HttpError::InvalidRequest {
            url,
            detail: "d".into(),
        });
        assert!(matches!(e, Error::InvalidData(_)));
    }
}
