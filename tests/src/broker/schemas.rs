//! The schema registry as the real broker keeps it: one id per subject, versions numbered from
//! 1, an identical definition registered again returning its existing version, and a new
//! version refused when it breaks the subject's compatibility mode (backward by default).

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    None,
    Backward,
    Forward,
    Full,
}

impl Mode {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "backward" => Some(Self::Backward),
            "forward" => Some(Self::Forward),
            "full" => Some(Self::Full),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Backward => "backward",
            Self::Forward => "forward",
            Self::Full => "full",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub(crate) version: u32,
    pub(crate) kind: String,
    /// The definition as registered.
    pub(crate) raw: Vec<u8>,
    pub(crate) fingerprint: String,
    pub(crate) created_at: u64,
    pub(crate) created_by: String,
    pub(crate) description: String,
    pub(crate) tags: Vec<String>,
}

impl Version {
    /// The definition as the real broker returns it: its internal definition type serialized
    /// as JSON (`{"JsonSchema": {"raw_schema": …}}`), not the bytes that were registered.
    pub(crate) fn wire_definition(&self) -> Vec<u8> {
        let raw = String::from_utf8_lossy(&self.raw).into_owned();
        let body = serde_json::json!({ "raw_schema": raw, "fingerprint": self.fingerprint });
        let value = match self.kind.as_str() {
            "json_schema" => serde_json::json!({ "JsonSchema": body }),
            "avro" => serde_json::json!({ "Avro": body }),
            "protobuf" => serde_json::json!({ "Protobuf": body }),
            "string" => serde_json::json!("String"),
            "number" => serde_json::json!("Number"),
            _ => serde_json::json!("Bytes"),
        };
        value.to_string().into_bytes()
    }
}

#[derive(Debug)]
pub(crate) struct Subject {
    pub(crate) id: u64,
    pub(crate) mode: Mode,
    pub(crate) versions: Vec<Version>,
}

impl Subject {
    pub(crate) fn latest(&self) -> Option<&Version> {
        self.versions.last()
    }

    pub(crate) fn version(&self, n: u32) -> Option<&Version> {
        self.versions.iter().find(|v| v.version == n)
    }
}

/// What a registration asks for.
pub(crate) struct Registration<'a> {
    pub(crate) subject: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) definition: &'a [u8],
    pub(crate) created_by: String,
    pub(crate) description: String,
    pub(crate) tags: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Registered {
    pub(crate) id: u64,
    pub(crate) version: u32,
    pub(crate) new: bool,
    pub(crate) fingerprint: String,
}

#[derive(Debug, Default)]
pub(crate) struct Registry {
    next_id: u64,
    subjects: HashMap<String, Subject>,
}

impl Registry {
    pub(crate) fn subject(&self, name: &str) -> Option<&Subject> {
        self.subjects.get(name)
    }

    pub(crate) fn subject_mut(&mut self, name: &str) -> Option<&mut Subject> {
        self.subjects.get_mut(name)
    }

    pub(crate) fn by_id(&self, id: u64) -> Option<(&str, &Subject)> {
        self.subjects
            .iter()
            .find(|(_, s)| s.id == id)
            .map(|(name, s)| (name.as_str(), s))
    }

    pub(crate) fn subjects(&self) -> impl Iterator<Item = (&String, &Subject)> {
        self.subjects.iter()
    }

    pub(crate) fn register(&mut self, r: Registration<'_>) -> Result<Registered, String> {
        check_definition(r.kind, r.definition)?;
        let fingerprint = hex::encode(Sha256::digest(r.definition));
        if let Some(subject) = self.subjects.get_mut(r.subject) {
            if let Some(same) = subject
                .versions
                .iter()
                .find(|v| v.fingerprint == fingerprint)
            {
                return Ok(Registered {
                    id: subject.id,
                    version: same.version,
                    new: false,
                    fingerprint,
                });
            }
            if let Some(latest) = subject.latest() {
                let errors = incompatibilities(latest, r.kind, r.definition, subject.mode);
                if !errors.is_empty() {
                    return Err(format!(
                        "Schema is not compatible with subject '{}' (mode: {}): {}",
                        r.subject,
                        subject.mode.name(),
                        errors.join("; ")
                    ));
                }
            }
            let version = subject.latest().map_or(1, |v| v.version + 1);
            subject
                .versions
                .push(new_version(version, &r, fingerprint.clone()));
            return Ok(Registered {
                id: subject.id,
                version,
                new: true,
                fingerprint,
            });
        }
        self.next_id += 1;
        let id = self.next_id;
        let first = new_version(1, &r, fingerprint.clone());
        self.subjects.insert(
            r.subject.to_owned(),
            Subject {
                id,
                mode: Mode::Backward,
                versions: vec![first],
            },
        );
        Ok(Registered {
            id,
            version: 1,
            new: true,
            fingerprint,
        })
    }
}

fn new_version(version: u32, r: &Registration<'_>, fingerprint: String) -> Version {
    let created_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Version {
        version,
        kind: r.kind.to_owned(),
        raw: r.definition.to_vec(),
        fingerprint,
        created_at,
        created_by: r.created_by.clone(),
        description: r.description.clone(),
        tags: r.tags.clone(),
    }
}

/// JSON-based definitions must at least be JSON objects (Avro may also be a bare type name).
fn check_definition(kind: &str, definition: &[u8]) -> Result<(), String> {
    match kind {
        "json_schema" | "avro" => {
            let value: serde_json::Value = serde_json::from_slice(definition)
                .map_err(|e| format!("Invalid {kind} schema: {e}"))?;
            if kind == "json_schema" && !value.is_object() {
                return Err("Invalid json_schema schema: not a JSON object".into());
            }
            Ok(())
        }
        "protobuf" | "bytes" | "string" | "number" => Ok(()),
        other => Err(format!("Unknown schema type: {other}")),
    }
}

/// Why `definition` may not follow `old` under `mode`; empty when it may. JSON Schema and
/// Avro records are compared by their fields; other types only by kind.
pub(crate) fn incompatibilities(
    old: &Version,
    kind: &str,
    definition: &[u8],
    mode: Mode,
) -> Vec<String> {
    if mode == Mode::None {
        return Vec::new();
    }
    if old.kind != kind {
        return vec![format!("schema type changed from {} to {kind}", old.kind)];
    }
    let (Ok(before), Ok(after)) = (
        serde_json::from_slice::<serde_json::Value>(&old.raw),
        serde_json::from_slice::<serde_json::Value>(definition),
    ) else {
        return Vec::new();
    };
    let (before, after) = match kind {
        "json_schema" => (json_fields(&before), json_fields(&after)),
        "avro" => (avro_fields(&before), avro_fields(&after)),
        _ => return Vec::new(),
    };
    let mut errors = Vec::new();
    if matches!(mode, Mode::Backward | Mode::Full) {
        // Readers of the new schema must read old data: no field it requires may be missing
        // from old data, and no type may change.
        for (name, field) in &after {
            match before.get(name) {
                None if field.required => errors.push(format!(
                    "Backward incompatible: new required field '{name}'"
                )),
                Some(old) if old.kind != field.kind => errors.push(format!(
                    "Backward incompatible: changed type of field '{name}'"
                )),
                Some(old) if field.required && !old.required => errors.push(format!(
                    "Backward incompatible: made optional field '{name}' required"
                )),
                _ => {}
            }
        }
    }
    if matches!(mode, Mode::Forward | Mode::Full) {
        // Readers of the old schema must read new data: nothing it required may go.
        for (name, field) in &before {
            if field.required && !after.contains_key(name) {
                errors.push(format!(
                    "Forward incompatible: removed required field '{name}'"
                ));
            }
        }
    }
    errors
}

struct Field {
    kind: String,
    required: bool,
}

fn json_fields(schema: &serde_json::Value) -> HashMap<String, Field> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| {
                    let field = Field {
                        kind: p.get("type").map(|t| t.to_string()).unwrap_or_default(),
                        required: required.contains(&name.as_str()),
                    };
                    (name.clone(), field)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An Avro field without a default must be in the data.
fn avro_fields(schema: &serde_json::Value) -> HashMap<String, Field> {
    schema
        .get("fields")
        .and_then(|f| f.as_array())
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| {
                    let name = f.get("name")?.as_str()?.to_owned();
                    let field = Field {
                        kind: f.get("type").map(|t| t.to_string()).unwrap_or_default(),
                        required: f.get("default").is_none(),
                    };
                    Some((name, field))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg<'a>(subject: &'a str, kind: &'a str, definition: &'a str) -> Registration<'a> {
        Registration {
            subject,
            kind,
            definition: definition.as_bytes(),
            created_by: "t".into(),
            description: String::new(),
            tags: Vec::new(),
        }
    }

    const V1: &str =
        r#"{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"#;
    const V2: &str = r#"{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}},"required":["id"]}"#;
    const BAD: &str =
        r#"{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}"#;

    #[test]
    fn versions_count_up_and_the_same_definition_keeps_its_version() {
        let mut r = Registry::default();
        let first = r.register(reg("s", "json_schema", V1)).expect("v1");
        assert_eq!((first.version, first.new), (1, true));
        let again = r.register(reg("s", "json_schema", V1)).expect("v1 again");
        assert_eq!((again.id, again.version, again.new), (first.id, 1, false));
        let second = r.register(reg("s", "json_schema", V2)).expect("v2");
        assert_eq!((second.id, second.version), (first.id, 2));
        let other = r.register(reg("t", "json_schema", V1)).expect("t");
        assert_ne!(other.id, first.id);
    }

    #[test]
    fn an_incompatible_version_is_refused_unless_the_mode_is_none() {
        let mut r = Registry::default();
        r.register(reg("s", "json_schema", V1)).expect("v1");
        let refused = r
            .register(reg("s", "json_schema", BAD))
            .expect_err("type change");
        assert!(refused.contains("changed type of field 'id'"), "{refused}");
        if let Some(s) = r.subject_mut("s") {
            s.mode = Mode::None;
        }
        assert_eq!(
            r.register(reg("s", "json_schema", BAD))
                .expect("none")
                .version,
            2
        );
    }

    #[test]
    fn invalid_definitions_and_unknown_types_are_refused() {
        let mut r = Registry::default();
        assert!(r.register(reg("s", "json_schema", "{not json")).is_err());
        assert!(r.register(reg("s", "yaml", "{}")).is_err());
    }

    #[test]
    fn the_wire_definition_wraps_the_raw_schema_as_the_real_broker_does() {
        let mut r = Registry::default();
        r.register(reg("s", "json_schema", V1)).expect("v1");
        let v = r.subject("s").and_then(Subject::latest).expect("latest");
        let wire: serde_json::Value = serde_json::from_slice(&v.wire_definition()).expect("json");
        assert_eq!(wire["JsonSchema"]["raw_schema"], V1);
    }
}
