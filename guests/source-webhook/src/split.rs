//! A request body into record payloads, per the route's `format`. Payloads are slices of the
//! body: the bytes the client sent, never re-serialized.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The body as it is, one record.
    #[default]
    Raw,
    /// One JSON value, one record.
    Json,
    /// A JSON array or NDJSON: one record per element or line.
    JsonBatch,
}

/// Content types that announce one JSON value per line.
const NDJSON_TYPES: &[&str] = &["application/x-ndjson", "application/jsonl"];

#[derive(Debug, PartialEq, Eq)]
pub struct Split<'a> {
    pub payloads: Vec<&'a [u8]>,
    /// The body was a batch (an array or lines), split into its elements.
    pub batch: bool,
}

/// The payloads of `body`, or the reason of a 400.
pub fn split<'a>(
    format: Format,
    content_type: Option<&str>,
    body: &'a [u8],
) -> Result<Split<'a>, String> {
    match format {
        Format::Raw => Ok(single(body)),
        Format::Json => {
            check_json(body).map_err(|e| format!("the body is not JSON: {e}"))?;
            Ok(single(body))
        }
        Format::JsonBatch => split_batch(content_type, body),
    }
}

fn split_batch<'a>(content_type: Option<&str>, body: &'a [u8]) -> Result<Split<'a>, String> {
    if content_type.is_some_and(is_ndjson) {
        return lines(body);
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return array(body);
    }
    match check_json(body) {
        Ok(()) => Ok(single(body)),
        // Several values, one per line, without the NDJSON content type.
        Err(_) if non_empty_lines(body).nth(1).is_some() => lines(body),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

fn single(body: &[u8]) -> Split<'_> {
    Split {
        payloads: vec![body],
        batch: false,
    }
}

fn array(body: &[u8]) -> Result<Split<'_>, String> {
    let not_array = |e: &dyn std::fmt::Display| format!("the body is not a JSON array: {e}");
    let text = std::str::from_utf8(body).map_err(|e| not_array(&e))?;
    let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| not_array(&e))?;
    Ok(Split {
        payloads: items.iter().map(|item| item.get().as_bytes()).collect(),
        batch: true,
    })
}

fn lines(body: &[u8]) -> Result<Split<'_>, String> {
    let mut payloads = Vec::new();
    for (number, line) in non_empty_lines(body) {
        check_json(line).map_err(|e| format!("line {number} is not JSON: {e}"))?;
        payloads.push(line);
    }
    Ok(Split {
        payloads,
        batch: true,
    })
}

/// Lines (numbered from 1, counting empty ones) stripped of surrounding whitespace, `\r`
/// included, skipping those left empty.
fn non_empty_lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_ascii()))
        .filter(|(_, line)| !line.is_empty())
}

fn check_json(bytes: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<IgnoredAny>(bytes).map(|_| ())
}

fn is_ndjson(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    NDJSON_TYPES.iter().any(|t| mime.eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads<'a>(split: &Split<'a>) -> Vec<&'a str> {
        split
            .payloads
            .iter()
            .map(|p| std::str::from_utf8(p).expect("utf-8"))
            .collect()
    }

    #[test]
    fn raw_keeps_the_body_byte_for_byte() {
        let body = b"\xff\x00 not json \r\n";
        let s = split(Format::Raw, Some("application/json"), body).expect("raw");
        assert_eq!(s.payloads, vec![&body[..]]);
        assert!(!s.batch);
        assert_eq!(
            split(Format::Raw, None, b"").expect("empty").payloads,
            vec![&b""[..]]
        );
    }

    #[test]
    fn json_checks_but_keeps_the_bytes() {
        let body = b" {\n  \"a\" : 1.50 }\n";
        let s = split(Format::Json, None, body).expect("json");
        assert_eq!(s.payloads, vec![&body[..]]);
        let err = split(Format::Json, None, b"{\"a\":").expect_err("bad");
        assert!(err.starts_with("the body is not JSON: EOF"), "{err}");
    }

    #[test]
    fn an_array_splits_into_the_exact_bytes_of_each_element() {
        let body = br#" [ {"b": 1.0, "a":[1, 2]} ,"x\u00e9", 1e3,null ] "#;
        let s = split(Format::JsonBatch, Some("application/json"), body).expect("array");
        assert_eq!(
            payloads(&s),
            vec![r#"{"b": 1.0, "a":[1, 2]}"#, r#""x\u00e9""#, "1e3", "null"]
        );
        assert!(s.batch);
        let empty = split(Format::JsonBatch, None, b"[]").expect("empty");
        assert!(empty.payloads.is_empty());
        let err = split(Format::JsonBatch, None, b"[1,").expect_err("bad");
        assert!(err.starts_with("the body is not a JSON array"), "{err}");
    }

    #[test]
    fn a_single_value_is_one_record_even_over_several_lines() {
        let body = b"{\n  \"a\": 1\n}\n";
        let s = split(Format::JsonBatch, None, body).expect("object");
        assert_eq!(s.payloads, vec![&body[..]]);
        assert!(!s.batch);
    }

    #[test]
    fn ndjson_splits_by_line() {
        let body = b"{\"a\":1}\r\n\n  {\"a\": 2}\n[3]\n";
        let by_type = split(
            Format::JsonBatch,
            Some("application/x-ndjson; charset=utf-8"),
            body,
        )
        .expect("ndjson");
        assert_eq!(payloads(&by_type), vec![r#"{"a":1}"#, r#"{"a": 2}"#, "[3]"]);
        assert!(by_type.batch);
        let by_shape = split(
            Format::JsonBatch,
            Some("text/plain"),
            b"{\"a\":1}\n{\"a\":2}",
        )
        .expect("lines");
        assert_eq!(payloads(&by_shape), vec![r#"{"a":1}"#, r#"{"a":2}"#]);
        let one_line =
            split(Format::JsonBatch, Some("application/jsonl"), b"{\"a\":1}\n").expect("one line");
        assert_eq!(payloads(&one_line), vec![r#"{"a":1}"#]);
        assert!(one_line.batch);
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        let err = split(Format::JsonBatch, None, b"{\"a\":1}\n\n{\"a\":}\n").expect_err("bad");
        assert!(err.starts_with("line 3 is not JSON: "), "{err}");
        let err =
            split(Format::JsonBatch, Some("application/x-ndjson"), b"1\nnope").expect_err("bad");
        assert!(err.starts_with("line 2 is not JSON"), "{err}");
        let err = split(Format::JsonBatch, None, b"nope").expect_err("bad");
        assert!(err.starts_with("the body is not JSON"), "{err}");
    }
}
