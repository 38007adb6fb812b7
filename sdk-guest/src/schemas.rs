//! Danube's schema registry: the schema a message was published with, and subjects a
//! source registers for what it publishes. Outside WebAssembly (unit tests) it is an
//! in-memory registry that gives every new definition of a subject the next version.

use crate::Error;
pub use crate::bindings::sink::danube::connect::schemas::{Compatibility, Schema, SchemaType};
pub use crate::bindings::sink::danube::connect::types::SchemaRef;

/// The registry refused or could not be reached; its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schema registry: {0}")]
pub struct SchemaError(pub String);

impl From<SchemaError> for Error {
    /// A registry that cannot answer now may answer later.
    fn from(e: SchemaError) -> Self {
        Error::retryable(e.to_string())
    }
}

/// The schema a message names (see [`crate::Message::schema`]); cached by the host.
pub fn get(schema: SchemaRef) -> Result<Schema, SchemaError> {
    imp::get(schema).map_err(SchemaError)
}

/// The newest version of `subject`.
pub fn latest(subject: &str) -> Result<Schema, SchemaError> {
    imp::latest(subject).map_err(SchemaError)
}

/// Registers `definition` under `subject`: an identical definition keeps its version, a new
/// one becomes the next version when the subject's compatibility mode allows it. `mode` sets
/// that mode first.
pub fn register(
    subject: &str,
    schema_type: SchemaType,
    definition: &[u8],
    mode: Option<Compatibility>,
) -> Result<Schema, SchemaError> {
    imp::register(subject, schema_type, definition, mode).map_err(SchemaError)
}

#[cfg(target_arch = "wasm32")]
use crate::bindings::sink::danube::connect::schemas as imp;

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Compatibility, Schema, SchemaRef, SchemaType};
    use std::cell::RefCell;

    thread_local! {
        static SUBJECTS: RefCell<Vec<Schema>> = const { RefCell::new(Vec::new()) };
    }

    pub fn get(r: SchemaRef) -> Result<Schema, String> {
        SUBJECTS.with(|s| {
            s.borrow()
                .iter()
                .find(|v| v.id == r.id && v.version == r.version)
                .cloned()
                .ok_or_else(|| format!("Schema not found for ID: {}", r.id))
        })
    }

    pub fn latest(subject: &str) -> Result<Schema, String> {
        SUBJECTS.with(|s| {
            s.borrow()
                .iter()
                .filter(|v| v.subject == subject)
                .max_by_key(|v| v.version)
                .cloned()
                .ok_or_else(|| format!("Subject '{subject}' not found"))
        })
    }

    pub fn register(
        subject: &str,
        schema_type: SchemaType,
        definition: &[u8],
        _mode: Option<Compatibility>,
    ) -> Result<Schema, String> {
        SUBJECTS.with(|s| {
            let mut all = s.borrow_mut();
            if let Some(same) = all
                .iter()
                .find(|v| v.subject == subject && v.definition == definition)
            {
                return Ok(same.clone());
            }
            let id = match all.iter().find(|v| v.subject == subject) {
                Some(v) => v.id,
                None => all.iter().map(|v| v.id).max().unwrap_or(0) + 1,
            };
            let version = all
                .iter()
                .filter(|v| v.subject == subject)
                .map(|v| v.version)
                .max()
                .unwrap_or(0)
                + 1;
            let schema = Schema {
                subject: subject.to_string(),
                id,
                version,
                schema_type,
                definition: definition.to_vec(),
            };
            all.push(schema.clone());
            Ok(schema)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_per_subject_and_repeat_registrations_keep_theirs() {
        let a1 = register("a", SchemaType::JsonSchema, b"{}", None).unwrap();
        let a1_again = register("a", SchemaType::JsonSchema, b"{}", None).unwrap();
        let a2 = register("a", SchemaType::JsonSchema, b"{\"type\":\"object\"}", None).unwrap();
        let b1 = register("b", SchemaType::Avro, b"\"long\"", None).unwrap();
        assert_eq!((a1.version, a1_again.version, a2.version), (1, 1, 2));
        assert_eq!(a1.id, a2.id);
        assert_ne!(a1.id, b1.id);
        assert_eq!(latest("a").unwrap().version, 2);
        let got = get(SchemaRef {
            id: a1.id,
            version: 1,
        })
        .unwrap();
        assert_eq!(got.definition, b"{}".to_vec());
        assert!(latest("missing").is_err());
    }
}
