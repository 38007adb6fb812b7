//! Checking a payload against the schema its record is published under, before it is.

use super::SchemaError;
use crate::config::SchemaKind;

/// Most validation errors named in one dead-letter reason.
#[cfg(feature = "json-schema")]
const MAX_ERRORS: usize = 5;

pub enum Validator {
    #[cfg(feature = "json-schema")]
    Json(Box<jsonschema::Validator>),
    /// Avro binary: a bare datum, single-object encoding or an object container file.
    #[cfg(feature = "avro")]
    Avro(Box<apache_avro::Schema>),
    /// UTF-8 text.
    Text,
    /// A 4- or 8-byte binary number, as the broker's own validator reads `number`.
    Number,
    /// Raw bytes: anything goes.
    Any,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            #[cfg(feature = "json-schema")]
            Self::Json(_) => "json_schema",
            #[cfg(feature = "avro")]
            Self::Avro(_) => "avro",
            Self::Text => "string",
            Self::Number => "number",
            Self::Any => "bytes",
        };
        f.write_str(name)
    }
}

impl Validator {
    /// A validator for `raw` (the definition as registered) of type `kind`.
    pub fn new(subject: &str, kind: SchemaKind, raw: &[u8]) -> Result<Self, SchemaError> {
        let unsupported = |what: &str| SchemaError::Definition {
            subject: subject.to_string(),
            message: format!(
                "this host cannot validate {what} records yet; set `validate = false` to \
                 publish them with the schema reference unchecked"
            ),
        };
        match kind {
            SchemaKind::JsonSchema => json(subject, raw),
            SchemaKind::String => Ok(Self::Text),
            SchemaKind::Number => Ok(Self::Number),
            SchemaKind::Bytes => Ok(Self::Any),
            SchemaKind::Avro => avro(subject, raw),
            SchemaKind::Protobuf => Err(unsupported("Protobuf")),
        }
    }

    /// Why `payload` does not match, or nothing when it does.
    pub fn check(&self, payload: &[u8]) -> Result<(), String> {
        match self {
            #[cfg(feature = "json-schema")]
            Self::Json(v) => {
                let value: serde_json::Value = serde_json::from_slice(payload)
                    .map_err(|e| format!("the payload is not JSON: {e}"))?;
                if v.is_valid(&value) {
                    return Ok(());
                }
                let errors: Vec<String> = v
                    .iter_errors(&value)
                    .take(MAX_ERRORS)
                    .map(|e| {
                        let at = e.instance_path().to_string();
                        if at.is_empty() {
                            e.to_string()
                        } else {
                            format!("at {at}: {e}")
                        }
                    })
                    .collect();
                Err(errors.join("; "))
            }
            #[cfg(feature = "avro")]
            Self::Avro(schema) => avro_check(schema, payload),
            Self::Text => std::str::from_utf8(payload)
                .map(|_| ())
                .map_err(|e| format!("the payload is not UTF-8 text: {e}")),
            Self::Number => match payload.len() {
                4 | 8 => Ok(()),
                n => Err(format!("a number is 4 or 8 bytes, got {n}")),
            },
            Self::Any => Ok(()),
        }
    }
}

#[cfg(feature = "avro")]
fn avro(subject: &str, raw: &[u8]) -> Result<Validator, SchemaError> {
    let parsed = std::str::from_utf8(raw)
        .map_err(|e| e.to_string())
        .and_then(|text| apache_avro::Schema::parse_str(text).map_err(|e| e.to_string()))
        .map_err(|message| SchemaError::Definition {
            subject: subject.to_string(),
            message: format!("not a valid Avro schema: {message}"),
        })?;
    Ok(Validator::Avro(Box::new(parsed)))
}

#[cfg(not(feature = "avro"))]
fn avro(subject: &str, _raw: &[u8]) -> Result<Validator, SchemaError> {
    Err(SchemaError::Definition {
        subject: subject.to_string(),
        message: "this host was built without Avro validation (feature `avro`)".into(),
    })
}

/// Header of Avro's single-object encoding (marker, then an 8-byte fingerprint) and the magic
/// of an object container file.
#[cfg(feature = "avro")]
const SINGLE_OBJECT: [u8; 2] = [0xC3, 0x01];
#[cfg(feature = "avro")]
const CONTAINER: &[u8] = b"Obj\x01";

/// The payload reads as records of `schema`, to its last byte.
#[cfg(feature = "avro")]
fn avro_check(schema: &apache_avro::Schema, payload: &[u8]) -> Result<(), String> {
    if payload.starts_with(CONTAINER) {
        let reader = apache_avro::Reader::with_schema(schema, payload)
            .map_err(|e| format!("not an Avro container of this schema: {e}"))?;
        let mut records = 0usize;
        for value in reader {
            let value = value.map_err(|e| format!("record {records} does not read: {e}"))?;
            if !value.validate(schema) {
                return Err(format!("record {records} is cut short"));
            }
            records += 1;
        }
        return if records == 0 {
            Err("an Avro container without records".into())
        } else {
            Ok(())
        };
    }
    let mut rest = match payload.strip_prefix(&SINGLE_OBJECT) {
        Some(after) if after.len() >= 8 => &after[8..],
        _ => payload,
    };
    let value = apache_avro::from_avro_datum(schema, &mut rest, None)
        .map_err(|e| format!("not an Avro record of this schema: {e}"))?;
    // apache-avro reads a string cut short as null rather than failing.
    if !value.validate(schema) {
        return Err("the Avro record is cut short".into());
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} bytes left over after the Avro record",
            rest.len()
        ))
    }
}

#[cfg(feature = "json-schema")]
fn json(subject: &str, raw: &[u8]) -> Result<Validator, SchemaError> {
    let invalid = |message: String| SchemaError::Definition {
        subject: subject.to_string(),
        message,
    };
    let schema: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let compiled = jsonschema::validator_for(&schema)
        .map_err(|e| invalid(format!("not a valid JSON Schema: {e}")))?;
    Ok(Validator::Json(Box::new(compiled)))
}

#[cfg(not(feature = "json-schema"))]
fn json(subject: &str, _raw: &[u8]) -> Result<Validator, SchemaError> {
    Err(SchemaError::Definition {
        subject: subject.to_string(),
        message: "this host was built without JSON Schema validation (feature `json-schema`)"
            .into(),
    })
}

#[cfg(all(test, feature = "json-schema"))]
mod tests {
    use super::*;

    const ORDER: &[u8] = br#"{"type":"object","properties":{"id":{"type":"integer"},"item":{"type":"string"}},"required":["id"]}"#;

    #[test]
    fn json_records_are_checked_and_the_reason_names_the_field() {
        let v = Validator::new("orders", SchemaKind::JsonSchema, ORDER).expect("compiles");
        assert_eq!(v.check(br#"{"id": 7, "item": "pen"}"#), Ok(()));
        let wrong = v.check(br#"{"id": "seven"}"#).expect_err("type");
        assert!(
            wrong.contains("/id") && wrong.contains("integer"),
            "{wrong}"
        );
        let missing = v.check(br#"{"item": "pen"}"#).expect_err("required");
        assert!(missing.contains("\"id\""), "{missing}");
        let garbage = v.check(b"not json").expect_err("not json");
        assert!(garbage.starts_with("the payload is not JSON"), "{garbage}");
    }

    #[test]
    fn an_invalid_definition_is_a_named_error() {
        let e = Validator::new("s", SchemaKind::JsonSchema, br#"{"type": 12}"#)
            .expect_err("bad schema");
        assert!(
            e.to_string()
                .starts_with("schema s: not a valid JSON Schema"),
            "{e}"
        );
    }

    #[test]
    fn plain_types_are_checked_as_the_broker_checks_them() {
        let text = Validator::new("s", SchemaKind::String, b"").expect("string");
        assert!(text.check("héllo".as_bytes()).is_ok());
        assert!(text.check(&[0xff, 0xfe]).is_err());
        let number = Validator::new("s", SchemaKind::Number, b"").expect("number");
        assert!(number.check(&7u64.to_be_bytes()).is_ok());
        assert!(number.check(b"7").is_err());
        assert!(Validator::new("s", SchemaKind::Protobuf, b"").is_err());
    }

    #[cfg(feature = "avro")]
    #[test]
    fn avro_records_must_read_to_their_last_byte() {
        let definition = br#"{"type":"record","name":"O","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"}]}"#;
        let v = Validator::new("orders", SchemaKind::Avro, definition).expect("compiles");
        let Validator::Avro(schema) = &v else {
            panic!("{v:?}")
        };
        let mut r = apache_avro::types::Record::new(schema).expect("record");
        r.put("id", 7i64);
        r.put("item", "pen");
        let datum = apache_avro::to_avro_datum(schema, r).expect("encode");
        assert_eq!(v.check(&datum), Ok(()));
        let mut single = vec![0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8];
        single.extend_from_slice(&datum);
        assert_eq!(v.check(&single), Ok(()));
        assert!(v.check(&datum[..datum.len() - 1]).is_err());
        let mut longer = datum.clone();
        longer.push(0);
        assert!(v.check(&longer).expect_err("extra").contains("left over"));
        assert!(Validator::new("s", SchemaKind::Avro, b"{\"type\": \"nope\"}").is_err());
    }
}
