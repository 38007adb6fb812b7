//! What an HTTP answer means for the messages behind it: delivered, retried (and when),
//! dead-lettered, or the connector stopped. One policy for every HTTP sink, like Vector's
//! `HttpRetryLogic`; the sinks only word the reasons.
//!
//! `testdata/http_retry_cases.json` holds the cases this policy must decide; the Python
//! sink's `classify.py` is checked against the same table (`tests/python_classifier.rs`).

use std::time::SystemTime;

use super::{HttpError, Response};
use crate::Error;

/// Default for [`RetryPolicy::fatal_on_status`]: a revoked credential would otherwise send
/// the whole stream to the dead-letter topic, one batch at a time.
pub const DEFAULT_FATAL_ON_STATUS: [u16; 2] = [401, 403];

/// Default for [`RetryPolicy::max_retry_after_ms`]: ten minutes.
pub const DEFAULT_MAX_RETRY_AFTER_MS: u32 = 600_000;

/// What a refusal that retrying cannot fix is blamed on: a status neither retried, a
/// redirect nor in [`RetryPolicy::fatal_on_status`], or a request the client could not build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rejection {
    /// The messages: they go to the dead-letter topic. For sinks whose requests carry the
    /// messages as they are (a webhook), so one bad message does not stop the stream.
    #[default]
    InvalidData,
    /// The setup: the connector stops. For sinks whose requests are shaped by their
    /// configuration (a table, a query) and that tell bad rows apart by other means.
    Fatal,
}

/// Which statuses are retried or fatal, how long a `Retry-After` may hold, and what any
/// other refusal means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Statuses retried; `None`: 408, 429 and every 5xx but 501.
    pub retry_on_status: Option<Vec<u16>>,
    /// Statuses that stop the connector.
    pub fatal_on_status: Vec<u16>,
    /// Upper bound for a server's `Retry-After`, in ms.
    pub max_retry_after_ms: u32,
    pub rejection: Rejection,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_on_status: None,
            fatal_on_status: DEFAULT_FATAL_ON_STATUS.to_vec(),
            max_retry_after_ms: DEFAULT_MAX_RETRY_AFTER_MS,
            rejection: Rejection::InvalidData,
        }
    }
}

/// The policy's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: acknowledge.
    Delivered,
    /// Retry, not before `after_ms` when the server said so.
    Retry { after_ms: Option<u32> },
    /// 3xx: fatal. wasi:http does not follow redirects, and every later request would meet
    /// the same one; the reason should name the `Location`.
    Redirect,
    /// Dead-letter the messages.
    InvalidData,
    /// Stop the connector.
    Fatal,
}

impl Outcome {
    /// The name the shared case table uses: `delivered`, `retryable`, `invalid-data` or
    /// `fatal` (a redirect is fatal).
    pub fn kind(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry { .. } => "retryable",
            Outcome::InvalidData => "invalid-data",
            Outcome::Redirect | Outcome::Fatal => "fatal",
        }
    }

    /// `Ok` when delivered, otherwise the connector error carrying `reason`.
    pub fn result(self, reason: impl Into<String>) -> Result<(), Error> {
        let reason = reason.into();
        match self {
            Outcome::Delivered => Ok(()),
            Outcome::Retry { after_ms: Some(ms) } => Err(Error::retry_after(reason, ms)),
            Outcome::Retry { after_ms: None } => Err(Error::retryable(reason)),
            Outcome::InvalidData => Err(Error::invalid_data(reason)),
            Outcome::Redirect | Outcome::Fatal => Err(Error::fatal(reason)),
        }
    }
}

impl RetryPolicy {
    /// Whether `status` is retried.
    pub fn is_retryable(&self, status: u16) -> bool {
        match &self.retry_on_status {
            Some(list) => list.contains(&status),
            None => {
                status == 408 || status == 429 || ((500..=599).contains(&status) && status != 501)
            }
        }
    }

    /// Decides on a response; `now` dates a `Retry-After` given as an HTTP date.
    pub fn decide(&self, response: &Response, now: SystemTime) -> Outcome {
        let status = response.status();
        if response.is_success() {
            Outcome::Delivered
        } else if self.is_retryable(status) {
            Outcome::Retry {
                after_ms: retry_after_ms(
                    response.header("retry-after"),
                    now,
                    self.max_retry_after_ms,
                ),
            }
        } else if (300..400).contains(&status) {
            Outcome::Redirect
        } else if self.fatal_on_status.contains(&status) {
            Outcome::Fatal
        } else {
            self.rejected()
        }
    }

    /// Decides on a request that got no response.
    pub fn decide_error(&self, error: &HttpError) -> Outcome {
        match error {
            // Retrying cannot help until the operator changes the allow-list or the URL.
            HttpError::Denied { .. } => Outcome::Fatal,
            HttpError::InvalidRequest { .. } => self.rejected(),
            HttpError::Timeout { .. } | HttpError::Connect { .. } | HttpError::Other { .. } => {
                Outcome::Retry { after_ms: None }
            }
        }
    }

    fn rejected(&self) -> Outcome {
        match self.rejection {
            Rejection::InvalidData => Outcome::InvalidData,
            Rejection::Fatal => Outcome::Fatal,
        }
    }
}

/// `Retry-After` as delta seconds or an HTTP date, in ms from `now`, capped at `cap_ms`.
/// A date in the past means "now" (0); anything else unparsable is ignored.
pub fn retry_after_ms(value: Option<&str>, now: SystemTime, cap_ms: u32) -> Option<u32> {
    let value = value?.trim();
    let ms = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits: too many of them is a long wait, not garbage.
        value
            .parse::<u64>()
            .unwrap_or(u64::MAX)
            .saturating_mul(1000)
    } else {
        let when = httpdate::parse_http_date(value).ok()?;
        when.duration_since(now)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    };
    Some(u32::try_from(ms.min(u64::from(cap_ms))).unwrap_or(cap_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(serde::Deserialize)]
    struct Table {
        now_unix_s: u64,
        policy: TablePolicy,
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct TablePolicy {
        fatal_on_status: Vec<u16>,
        max_retry_after_ms: u32,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        outcome: String,
        retry_after_ms: Option<u32>,
    }

    #[test]
    fn decides_every_case_of_the_shared_table() {
        let table: Table =
            serde_json::from_str(include_str!("../../testdata/http_retry_cases.json"))
                .expect("testdata/http_retry_cases.json is valid");
        let policy = RetryPolicy {
            fatal_on_status: table.policy.fatal_on_status,
            max_retry_after_ms: table.policy.max_retry_after_ms,
            ..RetryPolicy::default()
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(table.now_unix_s);
        assert!(!table.cases.is_empty());
        for case in table.cases {
            let headers = case
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.as_bytes().to_vec()))
                .collect();
            let outcome = policy.decide(&Response::new(case.status, headers, Vec::new()), now);
            let after_ms = match outcome {
                Outcome::Retry { after_ms } => after_ms,
                _ => None,
            };
            assert_eq!(
                (outcome.kind(), after_ms),
                (case.outcome.as_str(), case.retry_after_ms),
                "status {} with headers {:?}",
                case.status,
                case.headers
            );
        }
    }

    #[test]
    fn a_configured_list_replaces_the_default() {
        let p = RetryPolicy {
            retry_on_status: Some(vec![409]),
            ..RetryPolicy::default()
        };
        let now = SystemTime::UNIX_EPOCH;
        let decide = |status| p.decide(&Response::new(status, Vec::new(), Vec::new()), now);
        assert_eq!(decide(409), Outcome::Retry { after_ms: None });
        assert_eq!(decide(503), Outcome::InvalidData);
    }

    #[test]
    fn the_rejection_option_blames_messages_or_setup() {
        let fatal = RetryPolicy {
            rejection: Rejection::Fatal,
            ..RetryPolicy::default()
        };
        let now = SystemTime::UNIX_EPOCH;
        let r400 = Response::new(400, Vec::new(), Vec::new());
        assert_eq!(
            RetryPolicy::default().decide(&r400, now),
            Outcome::InvalidData
        );
        assert_eq!(fatal.decide(&r400, now), Outcome::Fatal);
        let invalid = HttpError::InvalidRequest {
            url: "u".into(),
            detail: "d".into(),
        };
        assert_eq!(
            RetryPolicy::default().decide_error(&invalid),
            Outcome::InvalidData
        );
        assert_eq!(fatal.decide_error(&invalid), Outcome::Fatal);
    }

    #[test]
    fn no_response() {
        let p = RetryPolicy::default();
        let url = || "https://blocked.example/x".to_string();
        assert_eq!(
            p.decide_error(&HttpError::Denied { url: url() }),
            Outcome::Fatal
        );
        for e in [
            HttpError::Timeout {
                url: url(),
                detail: "d".into(),
            },
            HttpError::Connect {
                url: url(),
                detail: "ConnectionRefused".into(),
            },
            HttpError::Other {
                url: url(),
                detail: "d".into(),
            },
        ] {
            assert_eq!(p.decide_error(&e), Outcome::Retry { after_ms: None });
        }
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
    fn outcomes_become_connector_errors() {
        assert!(Outcome::Delivered.result("x").is_ok());
        assert!(matches!(
            Outcome::Retry { after_ms: Some(7) }.result("x"),
            Err(Error::Retryable(crate::Retry {
                after_ms: Some(7),
                ..
            }))
        ));
        assert!(matches!(
            Outcome::Redirect.result("x"),
            Err(Error::Fatal(_))
        ));
        assert!(matches!(
            Outcome::InvalidData.result("x"),
            Err(Error::InvalidData(_))
        ));
    }
}
