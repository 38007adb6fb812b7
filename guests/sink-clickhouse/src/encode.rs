//! Messages → `JSONEachRow` lines, kept in one buffer so any run of rows can be sent as a
//! request body without copying row by row (bad-row isolation sends sub-ranges).

use std::collections::HashSet;
use std::ops::Range;

use danube_connect_sdk::{Error, FieldPath, Message};
use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::config::{Mapping, MetadataColumns, Settings, TimeUnit};

/// Encoded rows of one batch and where each came from.
#[derive(Debug, Default)]
pub struct Rows {
    buf: Vec<u8>,
    /// End of each row in `buf` (one past its newline).
    ends: Vec<usize>,
    /// Index of each row's message in the batch.
    origin: Vec<u32>,
    /// Topic (index into `topics`) and offset of each row, for deduplication tokens.
    source: Vec<(u32, u64)>,
    topics: Vec<String>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The request body for `rows`: their lines, each ending in a newline.
    pub fn body(&self, rows: Range<usize>) -> &[u8] {
        if rows.is_empty() {
            return &[];
        }
        let start = if rows.start == 0 {
            0
        } else {
            self.ends[rows.start - 1]
        };
        &self.buf[start..self.ends[rows.end - 1]]
    }

    /// The batch index of the message row `row` was made from.
    pub fn origin(&self, row: usize) -> u32 {
        self.origin[row]
    }

    /// Topic and offset of each row in `rows`, in order.
    pub fn sources(&self, rows: Range<usize>) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.source[rows]
            .iter()
            .map(|(t, o)| (self.topics[*t as usize].as_str(), *o))
    }

    fn topic_index(&mut self, topic: &str) -> u32 {
        // Batches hold one or a few topics: a linear scan beats hashing.
        match self.topics.iter().position(|t| t == topic) {
            Some(i) => i as u32,
            None => {
                self.topics.push(topic.to_owned());
                (self.topics.len() - 1) as u32
            }
        }
    }
}

/// Encodes a batch. Messages whose payload cannot become a row come back as invalid-data
/// failures (batch index, reason); they never reach ClickHouse.
pub fn encode(settings: &Settings, batch: Vec<Message>) -> (Rows, Vec<(u32, Error)>) {
    let payload_bytes: usize = batch.iter().map(|m| m.payload.len()).sum();
    let mut rows = Rows {
        buf: Vec::with_capacity(payload_bytes + batch.len() * 64),
        ends: Vec::with_capacity(batch.len()),
        origin: Vec::with_capacity(batch.len()),
        source: Vec::with_capacity(batch.len()),
        topics: Vec::new(),
    };
    let mut rejected = Vec::new();
    // Consume the batch so each payload is freed once encoded: peak memory stays near one
    // copy of the batch rather than two.
    for (index, message) in batch.into_iter().enumerate() {
        let index = index as u32;
        let mark = rows.buf.len();
        match encode_row(settings, &message, &mut rows.buf) {
            Ok(()) => {
                rows.buf.push(b'\n');
                rows.ends.push(rows.buf.len());
                rows.origin.push(index);
                let topic = rows.topic_index(&message.topic);
                rows.source.push((topic, message.offset));
            }
            Err(reason) => {
                rows.buf.truncate(mark);
                rejected.push((index, Error::invalid_data(reason)));
            }
        }
    }
    (rows, rejected)
}

fn encode_row(settings: &Settings, m: &Message, out: &mut Vec<u8>) -> Result<(), String> {
    match &settings.mapping {
        Mapping::AllFields => splice(settings, m, out),
        Mapping::Paths(paths) => project(settings, paths, m, out),
    }
}

/// Writes `,"name":value` (no comma before the first field of an object).
fn field(out: &mut Vec<u8>, first: &mut bool, name: &str, value: &impl Serialize) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    // Writing a string or a JSON value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, name);
    out.push(b':');
    let _ = serde_json::to_writer(&mut *out, value);
}

fn not_json(e: serde_json::Error) -> String {
    format!("payload is not valid JSON: {e}")
}

fn not_an_object(kind: &str) -> String {
    format!("payload is a JSON {kind}, but a row must be a JSON object")
}

/// Every field of the payload object is a column: the payload is copied as is and the
/// metadata (and any missing defaults) appended before its closing brace.
fn splice(settings: &Settings, m: &Message, out: &mut Vec<u8>) -> Result<(), String> {
    let present: Option<HashSet<String>> = if settings.defaults.is_empty() {
        serde_json::from_slice::<IgnoredAny>(&m.payload).map_err(not_json)?;
        None
    } else {
        match serde_json::from_slice::<Value>(&m.payload).map_err(not_json)? {
            Value::Object(map) => Some(map.into_iter().map(|(k, _)| k).collect()),
            other => return Err(not_an_object(json_kind(&other))),
        }
    };
    let text = m.payload.trim_ascii();
    let Some(inner) = text.strip_prefix(b"{").and_then(|t| t.strip_suffix(b"}")) else {
        let value: Value = serde_json::from_slice(text).map_err(not_json)?;
        return Err(not_an_object(json_kind(&value)));
    };
    out.push(b'{');
    out.extend_from_slice(inner);
    let mut first = inner.trim_ascii().is_empty();
    if let Some(present) = present {
        for (column, value) in &settings.defaults {
            if !present.contains(column) {
                field(out, &mut first, column, value);
            }
        }
    }
    metadata(&settings.metadata, m, out, &mut first);
    out.push(b'}');
    Ok(())
}

/// Columns picked from JSON paths, defaults for those missing, then the metadata.
fn project(
    settings: &Settings,
    paths: &[(String, FieldPath)],
    m: &Message,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let value: Value = serde_json::from_slice(&m.payload).map_err(not_json)?;
    if !value.is_object() {
        return Err(not_an_object(json_kind(&value)));
    }
    out.push(b'{');
    let mut first = true;
    for (column, path) in paths {
        match path.get(&value) {
            Some(v) => field(out, &mut first, column, v),
            None => {
                if let Some((_, d)) = settings.defaults.iter().find(|(c, _)| c == column) {
                    field(out, &mut first, column, d);
                }
            }
        }
    }
    for (column, d) in &settings.defaults {
        if !paths.iter().any(|(c, _)| c == column) {
            field(out, &mut first, column, d);
        }
    }
    metadata(&settings.metadata, m, out, &mut first);
    out.push(b'}');
    Ok(())
}

fn metadata(meta: &MetadataColumns, m: &Message, out: &mut Vec<u8>, first: &mut bool) {
    if let Some(c) = &meta.topic {
        field(out, first, c, &m.topic);
    }
    if let Some(c) = &meta.offset {
        field(out, first, c, &m.offset);
    }
    if let Some(c) = &meta.publish_time {
        let t = match meta.publish_time_unit {
            TimeUnit::Seconds => m.publish_time_us / 1_000_000,
            TimeUnit::Milliseconds => m.publish_time_us / 1_000,
            TimeUnit::Microseconds => m.publish_time_us,
        };
        field(out, first, c, &t);
    }
    if let Some(c) = &meta.producer {
        field(out, first, c, &m.producer_name);
    }
    if let (Some(c), Some(key)) = (&meta.key, &m.key) {
        field(out, first, c, key);
    }
    for (name, column) in &meta.attributes {
        if let Some((_, v)) = m.attributes.iter().find(|(n, _)| n == name) {
            field(out, first, column, v);
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use danube_connect_sdk::Config;

    fn settings(extra: &str) -> Settings {
        let json = format!(r#"{{"url":"http://h:8123","table":"t"{extra}}}"#);
        Config::new(json)
            .parse::<RawConfig>()
            .unwrap()
            .validate()
            .unwrap()
    }

    fn msg(offset: u64, payload: &str) -> Message {
        let mut m = Message::new("/default/t", offset, payload.as_bytes().to_vec())
            .with_key("k1")
            .with_attribute("trace", "abc");
        m.publish_time_us = 1_700_000_000_123_456;
        m.producer_name = "p".into();
        m
    }

    fn lines(rows: &Rows) -> Vec<Value> {
        std::str::from_utf8(rows.body(0..rows.len()))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn all_fields_are_copied_and_metadata_appended() {
        let s = settings(
            r#","metadata":{"topic":"_topic","offset":"_offset","publish_time":"_ts","publish_time_unit":"milliseconds","producer":"_p","key":"_key","attributes":{"trace":"trace_id","absent":"x"}}"#,
        );
        let (rows, rejected) = encode(
            &s,
            vec![msg(7, r#" {"id": 1, "s": "a\"b"} "#), msg(8, "{}")],
        );
        assert!(rejected.is_empty());
        let l = lines(&rows);
        assert_eq!(
            l[0],
            serde_json::json!({"id":1,"s":"a\"b","_topic":"/default/t","_offset":7,
                "_ts":1_700_000_000_123u64,"_p":"p","_key":"k1","trace_id":"abc"})
        );
        assert_eq!(l[1]["_offset"], 8);
        assert_eq!(rows.origin(1), 1);
    }

    #[test]
    fn bad_payloads_are_rejected_with_a_reason_and_skipped() {
        let s = settings("");
        let (rows, rejected) = encode(
            &s,
            vec![
                msg(0, r#"{"id":1}"#),
                msg(1, "{not json"),
                msg(2, "[1,2]"),
                msg(3, r#"{"id":4}"#),
            ],
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.origin(1), 3);
        assert_eq!(rejected.len(), 2);
        assert_eq!(rejected[0].0, 1);
        assert!(rejected[0].1.message().contains("not valid JSON"));
        assert_eq!(rejected[1].0, 2);
        assert!(rejected[1].1.message().contains("JSON array"));
        assert_eq!(rows.body(1..2), b"{\"id\":4}\n");
    }

    #[test]
    fn defaults_fill_missing_fields_only() {
        let s = settings(r#","defaults":{"v":1.5,"id":0}"#);
        let (rows, _) = encode(&s, vec![msg(0, r#"{"id":3}"#)]);
        assert_eq!(lines(&rows)[0], serde_json::json!({"id":3,"v":1.5}));
    }

    #[test]
    fn paths_pick_nested_fields() {
        let s = settings(
            r#","columns":{"cid":"order.customer","n":"n","missing":"a.b"},"defaults":{"missing":"none","extra":2}"#,
        );
        let (rows, rejected) = encode(
            &s,
            vec![
                msg(0, r#"{"order":{"customer":"c-9"},"n":3,"skip":true}"#),
                msg(1, "7"),
            ],
        );
        assert_eq!(
            lines(&rows)[0],
            serde_json::json!({"cid":"c-9","n":3,"missing":"none","extra":2})
        );
        assert!(rejected[0].1.message().contains("JSON number"));
    }

    #[test]
    fn sources_follow_rows() {
        let s = settings("");
        let mut other = msg(5, "{}");
        other.topic = "/default/u".into();
        let (rows, _) = encode(&s, vec![msg(4, "{}"), other]);
        let got: Vec<_> = rows.sources(0..2).collect();
        assert_eq!(got, vec![("/default/t", 4), ("/default/u", 5)]);
    }
}
