//! Checking a payload against the schema its record is published under, before it is.

use super::SchemaError;
use crate::config::SchemaKind;

/// Most validation errors named in one dead-letter reason.
#[cfg(feature = "json-schema")]
const MAX_ERRORS: usize = 5;

pub enum Validator {
    #[cfg(feature = "json-schema")]
    Json(Box<jsonschema::Validator>),
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
            SchemaKind::Avro => Err(unsupported("Avro")),
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
        assert!(Validator::new("s", SchemaKind::Avro, b"{}").is_err());
    }
}
