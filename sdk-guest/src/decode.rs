//! Typed payloads as JSON: a message published with a registry schema is decoded with the
//! very version it names, so a sink can hand JSON to systems that speak it (webhooks,
//! ClickHouse) whatever the producer encoded. Avro is read as a bare datum, as Avro's
//! single-object encoding or as an object container file; a payload that is already JSON
//! (as Danube's own examples publish under an Avro subject) passes through.

use crate::schemas::{self, SchemaRef, SchemaType};
use crate::{BatchError, Error, Message};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::collections::HashMap;

/// The Avro implementation the decoder uses, for connectors that read Avro schemas too.
pub use apache_avro;

/// Header of Avro's single-object encoding: two marker bytes, then an 8-byte fingerprint.
const SINGLE_OBJECT: [u8; 2] = [0xC3, 0x01];
const SINGLE_OBJECT_HEADER: usize = 10;
/// Magic of an Avro object container file.
const CONTAINER: &[u8] = b"Obj\x01";

/// How messages of one schema version become JSON.
enum Decoding {
    /// String, bytes (and JSON Schema without the `json-schema` feature): the payload is
    /// already what it is.
    AsIs,
    /// JSON checked against its schema.
    #[cfg(feature = "json-schema")]
    Json(Box<jsonschema::Validator>),
    Avro(Box<apache_avro::Schema>),
    Refuse(String),
}

/// Decodes payloads to JSON, fetching each schema version once.
#[derive(Default)]
pub struct JsonDecoder {
    versions: HashMap<(u64, u32), Decoding>,
}

impl JsonDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rewrites `m`'s payload as JSON when its schema says how; messages without a schema
    /// are left as they are. A payload its schema cannot read is invalid data; a registry
    /// that cannot be reached is retryable.
    pub fn decode(&mut self, m: &mut Message) -> Result<(), Error> {
        let Some(schema) = m.schema() else {
            return Ok(());
        };
        let decoding = self.decoding(schema)?;
        let json = match decoding {
            Decoding::AsIs => return Ok(()),
            #[cfg(feature = "json-schema")]
            Decoding::Json(validator) => {
                return check_json(validator, m.payload()).map_err(|e| {
                    Error::invalid_data(format!(
                        "payload of {}@{} does not match schema {} v{}: {e}",
                        m.topic(),
                        m.offset(),
                        schema.id,
                        schema.version
                    ))
                });
            }
            Decoding::Refuse(why) => return Err(Error::invalid_data(why.clone())),
            Decoding::Avro(avro) => avro_to_json(avro, m.payload()).map_err(|e| {
                Error::invalid_data(format!(
                    "payload of {}@{} does not decode with schema {} v{}: {e}",
                    m.topic(),
                    m.offset(),
                    schema.id,
                    schema.version
                ))
            })?,
        };
        m.payload = json;
        Ok(())
    }

    fn decoding(&mut self, r: SchemaRef) -> Result<&Decoding, Error> {
        use std::collections::hash_map::Entry;
        match self.versions.entry((r.id, r.version)) {
            Entry::Occupied(known) => Ok(known.into_mut()),
            Entry::Vacant(slot) => Ok(slot.insert(decoding_for(schemas::get(r)?))),
        }
    }
}

/// Why a JSON payload does not match, with at most five reasons.
#[cfg(feature = "json-schema")]
fn check_json(validator: &jsonschema::Validator, payload: &[u8]) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    if validator.is_valid(&value) {
        return Ok(());
    }
    let reasons: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("at {at}: {e}")
            }
        })
        .collect();
    Err(reasons.join("; "))
}

#[cfg(feature = "json-schema")]
fn json_schema_decoding(schema: &schemas::Schema) -> Decoding {
    let compiled = serde_json::from_slice::<serde_json::Value>(&schema.definition)
        .map_err(|e| e.to_string())
        .and_then(|s| jsonschema::validator_for(&s).map_err(|e| e.to_string()));
    match compiled {
        Ok(v) => Decoding::Json(Box::new(v)),
        Err(e) => Decoding::Refuse(format!(
            "schema {} v{} is not a usable JSON Schema: {e}",
            schema.subject, schema.version
        )),
    }
}

#[cfg(not(feature = "json-schema"))]
fn json_schema_decoding(_schema: &schemas::Schema) -> Decoding {
    Decoding::AsIs
}

fn decoding_for(schema: schemas::Schema) -> Decoding {
    match schema.schema_type {
        SchemaType::JsonSchema => json_schema_decoding(&schema),
        SchemaType::String | SchemaType::Bytes => Decoding::AsIs,
        SchemaType::Avro => match std::str::from_utf8(&schema.definition)
            .map_err(|e| e.to_string())
            .and_then(|s| apache_avro::Schema::parse_str(s).map_err(|e| e.to_string()))
        {
            Ok(avro) => Decoding::Avro(Box::new(avro)),
            Err(e) => Decoding::Refuse(format!(
                "schema {} v{} is not a usable Avro schema: {e}",
                schema.subject, schema.version
            )),
        },
        SchemaType::Protobuf | SchemaType::Number => Decoding::Refuse(format!(
            "schema {} v{}: decoding {:?} payloads to JSON is not supported",
            schema.subject, schema.version, schema.schema_type
        )),
    }
}

/// A batch after decoding: the messages that decoded, and those that did not.
pub struct Decoded {
    pub messages: Vec<Message>,
    /// Index in the original batch of each of `messages`.
    origin: Vec<u32>,
    /// Original indices of the messages that did not decode, as invalid data.
    rejected: Vec<(u32, Error)>,
}

impl Decoded {
    /// The decoded messages, for a sink that consumes its batch; [`Decoded::outcome`] still
    /// knows where they came from.
    pub fn take_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.messages)
    }

    /// The outcome of delivering `messages`, told about the original batch: failures are
    /// re-indexed and joined by the messages that did not decode.
    pub fn outcome(self, delivered: Result<(), BatchError>) -> Result<(), BatchError> {
        let mut failed = self.rejected;
        match delivered {
            Ok(()) => {}
            Err(BatchError::All(e)) if failed.is_empty() => return Err(BatchError::All(e)),
            Err(BatchError::All(e)) => failed.extend(self.origin.iter().map(|&i| (i, e.clone()))),
            Err(BatchError::Some(some)) => failed.extend(
                some.into_iter()
                    .filter_map(|(i, e)| self.origin.get(i as usize).map(|&o| (o, e))),
            ),
        }
        failed.sort_by_key(|(i, _)| *i);
        BatchError::from_failures(failed)
    }
}

impl JsonDecoder {
    /// Decodes a whole batch. Messages that do not decode are set aside (see
    /// [`Decoded::outcome`]); a registry that cannot be reached fails the batch, to be
    /// retried.
    pub fn decode_batch(&mut self, batch: Vec<Message>) -> Result<Decoded, Error> {
        let mut decoded = Decoded {
            messages: Vec::with_capacity(batch.len()),
            origin: Vec::with_capacity(batch.len()),
            rejected: Vec::new(),
        };
        for (i, mut m) in batch.into_iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            match self.decode(&mut m) {
                Ok(()) => {
                    decoded.messages.push(m);
                    decoded.origin.push(index);
                }
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => decoded.rejected.push((index, e)),
            }
        }
        Ok(decoded)
    }
}

/// One Avro payload as JSON text.
pub fn avro_to_json(schema: &apache_avro::Schema, payload: &[u8]) -> Result<Vec<u8>, String> {
    if payload.first() == Some(&b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok()
    {
        return Ok(payload.to_vec());
    }
    let value = if payload.starts_with(CONTAINER) {
        let reader =
            apache_avro::Reader::with_schema(schema, payload).map_err(|e| e.to_string())?;
        let values = reader
            .map(|v| match v {
                Ok(v) if v.validate(schema) => Ok(to_json(v)),
                Ok(_) => Err("a record is cut short".to_string()),
                Err(e) => Err(e.to_string()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        match <[serde_json::Value; 1]>::try_from(values) {
            Ok([one]) => one,
            Err(many) => serde_json::Value::Array(many),
        }
    } else {
        let datum = match payload.strip_prefix(&SINGLE_OBJECT) {
            Some(_) if payload.len() >= SINGLE_OBJECT_HEADER => &payload[SINGLE_OBJECT_HEADER..],
            _ => payload,
        };
        let mut rest = datum;
        let value =
            apache_avro::from_avro_datum(schema, &mut rest, None).map_err(|e| e.to_string())?;
        // apache-avro reads a string cut short as null rather than failing.
        if !value.validate(schema) {
            return Err("the record is cut short".into());
        }
        if !rest.is_empty() {
            return Err(format!("{} bytes left over after the record", rest.len()));
        }
        to_json(value)
    };
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

/// Avro values as JSON a reader expects: unions unwrapped, bytes as base64, UUIDs and enum
/// symbols as strings, logical dates and times as the numbers Avro stores.
fn to_json(v: apache_avro::types::Value) -> serde_json::Value {
    use apache_avro::types::Value as A;
    use serde_json::Value as J;
    match v {
        A::Null => J::Null,
        A::Boolean(b) => J::Bool(b),
        A::Int(i) | A::Date(i) | A::TimeMillis(i) => J::from(i),
        A::Long(l)
        | A::TimeMicros(l)
        | A::TimestampMillis(l)
        | A::TimestampMicros(l)
        | A::TimestampNanos(l)
        | A::LocalTimestampMillis(l)
        | A::LocalTimestampMicros(l)
        | A::LocalTimestampNanos(l) => J::from(l),
        A::Float(f) => serde_json::Number::from_f64(f.into()).map_or(J::Null, J::Number),
        A::Double(d) => serde_json::Number::from_f64(d).map_or(J::Null, J::Number),
        A::String(s) | A::Enum(_, s) => J::String(s),
        A::Bytes(b) | A::Fixed(_, b) => J::String(BASE64.encode(b)),
        A::Uuid(u) => J::String(u.to_string()),
        A::Union(_, inner) => to_json(*inner),
        A::Array(items) => J::Array(items.into_iter().map(to_json).collect()),
        A::Map(items) => J::Object(items.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        A::Record(fields) => J::Object(fields.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        other => J::try_from(other).unwrap_or(J::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Record;

    const ORDER: &str = r#"{"type":"record","name":"Order","fields":[
        {"name":"id","type":"long"},
        {"name":"item","type":"string"},
        {"name":"note","type":["null","string"],"default":null},
        {"name":"raw","type":"bytes"}
    ]}"#;

    fn encoded(schema: &apache_avro::Schema, id: i64) -> Vec<u8> {
        let mut r = Record::new(schema).unwrap();
        r.put("id", id);
        r.put("item", "pen");
        r.put(
            "note",
            apache_avro::types::Value::Union(1, Box::new("gift".into())),
        );
        r.put("raw", apache_avro::types::Value::Bytes(vec![1, 2, 255]));
        apache_avro::to_avro_datum(schema, r).unwrap()
    }

    #[test]
    fn datums_single_objects_and_containers_decode_to_the_same_json() {
        let schema = apache_avro::Schema::parse_str(ORDER).unwrap();
        let want = serde_json::json!({"id": 7, "item": "pen", "note": "gift", "raw": "AQL/"});
        let datum = encoded(&schema, 7);
        let got: serde_json::Value =
            serde_json::from_slice(&avro_to_json(&schema, &datum).unwrap()).unwrap();
        assert_eq!(got, want);

        let mut single = vec![0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
        single.extend_from_slice(&datum);
        let got: serde_json::Value =
            serde_json::from_slice(&avro_to_json(&schema, &single).unwrap()).unwrap();
        assert_eq!(got, want);

        let mut writer = apache_avro::Writer::new(&schema, Vec::new());
        writer
            .append_value_ref(
                &apache_avro::from_avro_datum(&schema, &mut &datum[..], None).unwrap(),
            )
            .unwrap();
        let container = writer.into_inner().unwrap();
        let got: serde_json::Value =
            serde_json::from_slice(&avro_to_json(&schema, &container).unwrap()).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn corrupt_payloads_are_refused_and_json_passes() {
        let schema = apache_avro::Schema::parse_str(ORDER).unwrap();
        let datum = encoded(&schema, 7);
        assert!(avro_to_json(&schema, &datum[..datum.len() - 2]).is_err());
        // Cut inside the last string field: apache-avro alone would read a null.
        let text = apache_avro::Schema::parse_str(
            r#"{"type":"record","name":"T","fields":[{"name":"s","type":"string"}]}"#,
        )
        .unwrap();
        let mut r = Record::new(&text).unwrap();
        r.put("s", "pen");
        let short = apache_avro::to_avro_datum(&text, r).unwrap();
        assert!(avro_to_json(&text, &short[..short.len() - 1]).is_err());
        let mut longer = datum.clone();
        longer.extend_from_slice(b"junk");
        assert!(
            avro_to_json(&schema, &longer)
                .unwrap_err()
                .contains("left over")
        );
        let json = br#"{"id":1,"item":"x","note":null,"raw":""}"#;
        assert_eq!(avro_to_json(&schema, json).unwrap(), json.to_vec());
    }

    #[test]
    fn the_decoder_uses_the_version_a_message_names() {
        let schema = apache_avro::Schema::parse_str(ORDER).unwrap();
        let registered =
            schemas::register("orders-avro", SchemaType::Avro, ORDER.as_bytes(), None).unwrap();
        let mut decoder = JsonDecoder::new();
        let mut typed = Message::new("/default/o", 1, encoded(&schema, 9))
            .with_schema(registered.id, registered.version);
        decoder.decode(&mut typed).unwrap();
        let v: serde_json::Value = typed.payload_json().unwrap();
        assert_eq!(v["id"], 9);

        let mut plain = Message::new("/default/o", 2, b"\x00\x01".to_vec());
        decoder.decode(&mut plain).unwrap();
        assert_eq!(plain.payload(), b"\x00\x01");

        let mut corrupt = Message::new("/default/o", 3, b"\x02".to_vec())
            .with_schema(registered.id, registered.version);
        assert!(matches!(
            decoder.decode(&mut corrupt),
            Err(Error::InvalidData(_))
        ));
        let mut unknown = Message::new("/default/o", 4, b"{}".to_vec()).with_schema(999, 1);
        assert!(matches!(
            decoder.decode(&mut unknown),
            Err(Error::Retryable(_))
        ));
    }

    #[test]
    fn outcomes_are_told_about_the_original_batch() {
        let schema = apache_avro::Schema::parse_str(ORDER).unwrap();
        let r =
            schemas::register("orders-batch", SchemaType::Avro, ORDER.as_bytes(), None).unwrap();
        let batch = vec![
            Message::new("/t", 0, encoded(&schema, 1)).with_schema(r.id, r.version),
            Message::new("/t", 1, b"\x02".to_vec()).with_schema(r.id, r.version),
            Message::new("/t", 2, b"plain".to_vec()),
        ];
        let mut decoder = JsonDecoder::new();
        let decoded = decoder.decode_batch(batch.clone()).unwrap();
        assert_eq!(decoded.messages.len(), 2);
        // The second delivered message (original index 2) failed too.
        let out = decoded.outcome(Err(BatchError::some(vec![(1, Error::retryable("503"))])));
        let Err(BatchError::Some(failed)) = out else {
            panic!("{out:?}")
        };
        let at: Vec<u32> = failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, vec![1, 2]);
        assert!(matches!(failed[0].1, Error::InvalidData(_)));

        let decoded = decoder.decode_batch(batch).unwrap();
        let out = decoded.outcome(Err(BatchError::all(Error::retryable("down"))));
        let Err(BatchError::Some(failed)) = out else {
            panic!("{out:?}")
        };
        assert_eq!(failed.len(), 3);
    }

    #[cfg(feature = "json-schema")]
    #[test]
    fn json_schema_payloads_are_checked_against_their_version() {
        let definition =
            br#"{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"#;
        let r = schemas::register("orders-json", SchemaType::JsonSchema, definition, None).unwrap();
        let mut decoder = JsonDecoder::new();
        let mut good = Message::new("/t", 0, br#"{"id":1}"#.to_vec()).with_schema(r.id, r.version);
        decoder.decode(&mut good).unwrap();
        assert_eq!(good.payload(), br#"{"id":1}"#, "left as it is");
        let mut bad = Message::new("/t", 1, br#"{"id":"x"}"#.to_vec()).with_schema(r.id, r.version);
        let Err(Error::InvalidData(why)) = decoder.decode(&mut bad) else {
            panic!("a payload that does not match")
        };
        assert!(
            why.contains("does not match schema") && why.contains("/id"),
            "{why}"
        );
    }
}
