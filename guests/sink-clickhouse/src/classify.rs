//! What a failed ClickHouse request means: the `Code: N` ClickHouse puts in the body (and, on
//! newer servers, in `X-ClickHouse-Exception-Code`) decides first; without a code it knows,
//! the SDK's HTTP retry policy decides from the status and `Retry-After`.

use std::time::SystemTime;

use danube_connect_sdk::Error;
use danube_connect_sdk::http::{HttpError, Outcome, Rejection, Response, RetryPolicy};

/// Error body bytes quoted in a reason.
const QUOTED_BODY_BYTES: usize = 1024;

/// A request that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The rows themselves are bad: isolate them and dead-letter them.
    Data(String),
    /// Worth retrying later: the host backs off.
    Transient {
        reason: String,
        after_ms: Option<u32>,
    },
    /// Retrying cannot help until the operator acts (credentials, table, settings).
    Fatal(String),
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::Data(r) | Failure::Fatal(r) | Failure::Transient { reason: r, .. } => r,
        }
    }

    /// The connector error for the rows this failure applies to.
    pub fn to_error(&self) -> Error {
        match self {
            Failure::Data(r) => Error::invalid_data(r.clone()),
            Failure::Transient {
                reason,
                after_ms: Some(ms),
            } => Error::retry_after(reason.clone(), *ms),
            Failure::Transient { reason, .. } => Error::retryable(reason.clone()),
            Failure::Fatal(r) => Error::fatal(r.clone()),
        }
    }
}

/// Codes meaning the input rows could not be parsed, converted or accepted.
const DATA_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    25,  // CANNOT_PARSE_ESCAPE_SEQUENCE
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA (e.g. an unknown or duplicate field)
    131, // TOO_LARGE_STRING_SIZE
    321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    376, // CANNOT_PARSE_UUID
    441, // CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
    467, // CANNOT_PARSE_BOOL
    469, // VIOLATED_CONSTRAINT
    691, // UNKNOWN_ELEMENT_OF_ENUM
];

/// Codes of an overloaded, restarting or briefly unavailable server.
const TRANSIENT_CODES: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    201, // QUOTA_EXCEEDED
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    225, // NO_ZOOKEEPER
    236, // ABORTED
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    285, // TOO_FEW_LIVE_REPLICAS
    286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    425, // SYSTEM_ERROR
    473, // DEADLOCK_AVOIDED
    999, // KEEPER_EXCEPTION
];

/// Codes the server keeps answering until someone changes the setup.
const FATAL_CODES: &[u32] = &[
    16,  // NO_SUCH_COLUMN_IN_TABLE
    60,  // UNKNOWN_TABLE
    62,  // SYNTAX_ERROR
    73,  // UNKNOWN_FORMAT
    81,  // UNKNOWN_DATABASE
    115, // UNKNOWN_SETTING
    164, // READONLY
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    194, // REQUIRED_PASSWORD
    195, // IP_ADDRESS_NOT_ALLOWED
    497, // ACCESS_DENIED
    516, // AUTHENTICATION_FAILED
];

/// Codes that deserve a pause before the next attempt: the server asked for less load.
const SLOW_DOWN_CODES: &[u32] = &[202, 241, 252];

/// The `N` of `Code: N` in a ClickHouse error body.
pub fn exception_code(body: &str) -> Option<u32> {
    let rest = &body[body.find("Code: ")? + "Code: ".len()..];
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    digits.parse().ok()
}

/// The 1-based row ClickHouse names in a parse error (`(at row N)`), if any.
pub fn failing_row(reason: &str) -> Option<usize> {
    let rest = &reason[reason.find("(at row ")? + "(at row ".len()..];
    let end = rest.find(')')?;
    rest[..end].trim().parse().ok()
}

/// The status part of the decision. A refusal is the setup's fault, never the rows': bad
/// rows are told apart by their code, and isolating them on a mere status would cost a
/// request per row.
fn status_policy() -> RetryPolicy {
    RetryPolicy {
        rejection: Rejection::Fatal,
        ..RetryPolicy::default()
    }
}

/// The failure for a decision of the status policy.
fn failure(outcome: Outcome, reason: String) -> Failure {
    match outcome {
        Outcome::Retry { after_ms } => Failure::Transient { reason, after_ms },
        Outcome::InvalidData => Failure::Data(reason),
        // Not reached for `Delivered`: only answers that did not succeed are classified.
        Outcome::Delivered | Outcome::Redirect | Outcome::Fatal => Failure::Fatal(reason),
    }
}

/// Classifies a non-2xx answer. `what` names the request in the reason; `now` dates a
/// `Retry-After` given as an HTTP date.
pub fn classify_response(what: &str, response: &Response, now: SystemTime) -> Failure {
    let status = response.status();
    let text = String::from_utf8_lossy(response.body());
    let text = text.trim();
    let code = response
        .header("x-clickhouse-exception-code")
        .and_then(|h| h.trim().parse().ok())
        .or_else(|| exception_code(text));
    let quoted: String = text.chars().take(QUOTED_BODY_BYTES).collect();
    let reason = format!("{what}: ClickHouse answered {status}: {quoted}");
    match code {
        Some(c) if DATA_CODES.contains(&c) => Failure::Data(reason),
        Some(c) if TRANSIENT_CODES.contains(&c) => Failure::Transient {
            reason,
            after_ms: SLOW_DOWN_CODES.contains(&c).then_some(1_000),
        },
        Some(c) if FATAL_CODES.contains(&c) => Failure::Fatal(reason),
        // Unknown code or none at all (a proxy answering): go by the status.
        _ => failure(status_policy().decide(response, now), reason),
    }
}

/// Classifies a request that got no answer.
pub fn classify_error(what: &str, e: HttpError) -> Failure {
    failure(status_policy().decide_error(&e), format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `classify_response` for an answer with this status, code header and body.
    fn answer(status: u16, code_header: Option<&str>, body: &[u8]) -> Failure {
        let headers = code_header
            .map(|c| {
                (
                    "X-ClickHouse-Exception-Code".to_string(),
                    c.as_bytes().to_vec(),
                )
            })
            .into_iter()
            .collect();
        let response = Response::new(status, headers, body.to_vec());
        classify_response("insert", &response, SystemTime::UNIX_EPOCH)
    }

    const OLD_PARSE: &str = "Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected \" before: zz\": (while read the value of key id): (at row 3)\n, e.what() = DB::Exception\n";
    const NEW_PARSE: &str = "Code: 117. DB::Exception: Unknown field found while parsing JSONEachRow format: extra: (at row 12)\n: While executing ParallelParsingBlockInputFormat. (INCORRECT_DATA) (version 24.8.1.1)";

    #[test]
    fn reads_codes_and_rows_from_old_and_new_servers() {
        assert_eq!(exception_code(OLD_PARSE), Some(27));
        assert_eq!(exception_code(NEW_PARSE), Some(117));
        assert_eq!(exception_code("Bad Gateway"), None);
        assert_eq!(failing_row(OLD_PARSE), Some(3));
        assert_eq!(failing_row(NEW_PARSE), Some(12));
        assert_eq!(failing_row("no row here"), None);
    }

    #[test]
    fn parse_errors_are_data_even_when_the_status_is_500() {
        let f = answer(500, None, OLD_PARSE.as_bytes());
        assert!(matches!(&f, Failure::Data(r) if r.contains("Code: 27") && r.contains("500")));
        let f = answer(400, Some("117"), NEW_PARSE.as_bytes());
        assert!(matches!(f, Failure::Data(_)));
    }

    #[test]
    fn overload_is_transient_with_a_pause() {
        let body = b"Code: 252, e.displayText() = DB::Exception: Too many parts (300)";
        assert_eq!(
            answer(500, None, body),
            Failure::Transient {
                reason: format!(
                    "insert: ClickHouse answered 500: {}",
                    std::str::from_utf8(body).unwrap()
                ),
                after_ms: Some(1_000)
            }
        );
        let f = answer(503, None, b"<html>proxy</html>");
        assert!(matches!(f, Failure::Transient { after_ms: None, .. }));
        let response = Response::new(503, vec![("Retry-After".into(), b"3".to_vec())], Vec::new());
        let f = classify_response("insert", &response, SystemTime::UNIX_EPOCH);
        assert!(matches!(
            f,
            Failure::Transient {
                after_ms: Some(3_000),
                ..
            }
        ));
    }

    #[test]
    fn setup_problems_are_fatal() {
        let f = answer(
            401,
            None,
            b"Code: 193, e.displayText() = DB::Exception: Wrong password for user writer",
        );
        assert!(matches!(f, Failure::Fatal(_)));
        let f = answer(
            404,
            None,
            b"Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist.",
        );
        assert!(matches!(f, Failure::Fatal(_)));
        assert!(matches!(answer(400, None, b"?"), Failure::Fatal(_)));
    }

    #[test]
    fn no_answer_is_transient_unless_denied() {
        let f = classify_error(
            "insert",
            HttpError::Connect {
                url: "http://h".into(),
                detail: "ConnectionRefused".into(),
            },
        );
        assert!(f.to_error().is_retryable());
        let f = classify_error(
            "insert",
            HttpError::Denied {
                url: "http://h".into(),
            },
        );
        assert!(matches!(f, Failure::Fatal(_)));
    }
}
