//! Checking `[source.schema]` when a connector is set up: the rules serde cannot express, and
//! the definition file read and compiled.

use super::Validator;
use crate::config::{ConfigError, ConnectorConfig, Pipeline, SchemaKind, SchemaSpec};

/// `[source.schema]` as the host will use it: the file read and compiled now, so a bad one
/// is named (file and key) before the connector starts.
pub fn check(c: &ConnectorConfig) -> Result<(), ConfigError> {
    let Pipeline::Source(source) = &c.pipeline else {
        return Ok(());
    };
    let Some(schema) = &source.schema else {
        return Ok(());
    };
    check_spec(c, schema).map_err(|(key, message)| ConfigError::Key {
        path: c.path.clone(),
        key: key.into(),
        message,
    })
}

fn check_spec(c: &ConnectorConfig, schema: &SchemaSpec) -> Result<(), (&'static str, String)> {
    if schema.subject.trim().is_empty() {
        return Err(("source.schema.subject", "must not be empty".into()));
    }
    let Some(file) = &schema.file else {
        if schema.validate
            && let Some(kind @ SchemaKind::Protobuf) = schema.kind
        {
            let e = Validator::new(&schema.subject, kind, b"").err();
            return Err((
                "source.schema.validate",
                e.map(|e| e.to_string()).unwrap_or_default(),
            ));
        }
        return Ok(());
    };
    if schema.version.is_some() {
        return Err((
            "source.schema.version",
            "pins a registered version; it cannot be combined with `file`".into(),
        ));
    }
    let Some(kind) = schema.kind else {
        return Err((
            "source.schema.type",
            "is needed with `file` (json_schema, avro, protobuf, string, number or bytes)".into(),
        ));
    };
    let path = c.resolve(file);
    let definition = std::fs::read(&path).map_err(|e| {
        (
            "source.schema.file",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    if schema.validate {
        Validator::new(&schema.subject, kind, &definition)
            .map_err(|e| ("source.schema.file", e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use std::path::Path;

    /// The error of a source file whose `[source.schema]` is `schema`, read from `dir`.
    fn schema_error(dir: &Path, schema: &str) -> String {
        let text = format!(
            "[connector]\nname = \"c\"\n[source]\ntopic = \"/default/out\"\n\
             schema = {{ {schema} }}\n"
        );
        match load_str(&text, &dir.join("c.toml"), &|_| None).and_then(|c| check(&c)) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn schema_files_are_read_and_checked_with_the_key_named() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("ok.json"), r#"{"type":"object"}"#).expect("ok");
        std::fs::write(dir.path().join("bad.json"), r#"{"type": 7}"#).expect("bad");
        let ok = r#"subject = "s", type = "json_schema", file = "ok.json""#;
        assert_eq!(schema_error(dir.path(), ok), "");
        for (schema, key, says) in [
            (
                r#"subject = "s", file = "ok.json""#,
                "source.schema.type",
                "is needed",
            ),
            (
                r#"subject = "s", type = "json_schema", file = "missing.json""#,
                "source.schema.file",
                "cannot read",
            ),
            (
                r#"subject = "s", type = "json_schema", file = "bad.json""#,
                "source.schema.file",
                "not a valid JSON Schema",
            ),
            (
                r#"subject = "s", type = "json_schema", file = "ok.json", version = 2"#,
                "source.schema.version",
                "cannot be combined",
            ),
            (
                r#"subject = " ""#,
                "source.schema.subject",
                "must not be empty",
            ),
            (
                r#"subject = "s", type = "protobuf""#,
                "source.schema.validate",
                "validate = false",
            ),
        ] {
            let e = schema_error(dir.path(), schema);
            assert!(
                e.contains("c.toml") && e.contains(key) && e.contains(says),
                "{schema}: {e}"
            );
        }
        let unchecked = r#"subject = "s", type = "protobuf", validate = false"#;
        assert_eq!(schema_error(dir.path(), unchecked), "");
    }
}
