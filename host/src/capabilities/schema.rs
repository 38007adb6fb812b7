//! The connector file's schema with every unit's grant section filled in: the file schema
//! (config layer) knows only that `[capabilities]` is a table.

use super::{Granting, UNITS};
use crate::config::schema;
use schemars::{Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

/// `danube-connect-host config schema`: a connector file, its capabilities included.
pub fn connector_file() -> Schema {
    let mut root = schema::connector_file();
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let mut sections = Map::new();
    for unit in UNITS.iter().filter(|u| u.granting == Granting::BySection) {
        sections.insert(unit.name.into(), (unit.grant_schema)(&mut generator).into());
    }
    let capabilities = json!({
        "description": "What the connector may reach, one section per capability; anything absent is denied.",
        "type": "object",
        "properties": sections,
        "additionalProperties": false,
    });
    if let Some(props) = root.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("capabilities".into(), capabilities);
    }
    // The grants' own definitions sit beside the file's.
    let definitions = generator.take_definitions(true);
    if !definitions.is_empty()
        && let Some(defs) = root
            .ensure_object()
            .entry("$defs")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
    {
        defs.extend(definitions);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// Every `.toml` the repository ships for users (examples and bundled configs).
    fn shipped_files() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for top in ["examples", "deploy"] {
            let mut dirs = vec![root.join(top)];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).expect("readable folder").flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if path.extension().is_some_and(|e| e == "toml") {
                        files.push(path);
                    }
                }
            }
        }
        files
    }

    /// The file as the host reads it: `${VAR:-default}` gives its default, a variable without
    /// one (a secret) a placeholder.
    fn as_json(text: &str) -> Value {
        let mut unset = std::collections::HashSet::new();
        loop {
            let lookup = |name: &str| unset.contains(name).then(|| "placeholder".to_string());
            match crate::config::parse_substituted(text, Path::new("t.toml"), &lookup) {
                Ok(table) => return serde_json::to_value(table).expect("TOML as JSON"),
                Err(crate::config::ConfigError::Key { message, .. })
                    if message.starts_with("environment variable ") =>
                {
                    let name = message["environment variable ".len()..]
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    assert!(unset.insert(name), "{message}");
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn errors(schema: &Schema, text: &str) -> Vec<String> {
        let validator = jsonschema::validator_for(schema.as_value()).expect("a valid schema");
        validator
            .iter_errors(&as_json(text))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    #[test]
    fn every_shipped_config_matches_its_schema() {
        let (connector, host) = (connector_file(), schema::host_file());
        let files = shipped_files();
        assert!(files.len() >= 10, "found only {files:?}");
        for path in files {
            let text = std::fs::read_to_string(&path).expect("readable");
            let schema = if text.contains("[[connector]]") {
                &host
            } else {
                &connector
            };
            let found = errors(schema, &text);
            assert!(found.is_empty(), "{}: {found:?}", path.display());
        }
    }

    const SINK: &str =
        "[connector]\nname = 'a'\n[sink]\ntopics = ['/default/a']\nsubscription = 's'\n";

    #[test]
    fn misspelt_keys_and_wrong_types_are_refused() {
        let schema = connector_file();
        assert!(errors(&schema, SINK).is_empty());
        for bad in [
            "[runtime]\nbatch_sise = 10\n",
            "[runtime]\nbatch_size = 'ten'\n",
            "[capabilities.htp]\nallowed_hosts = []\n",
            "[capabilities.http]\nallowed_host = []\n",
            "[capabilities.postgres]\nallowed_hosts = []\ntls = 'sometimes'\n",
        ] {
            assert!(
                !errors(&schema, &format!("{SINK}{bad}")).is_empty(),
                "accepted: {bad}"
            );
        }
        let neither = "[connector]\nname = 'a'\n";
        assert!(
            !errors(&schema, neither).is_empty(),
            "accepted a file without a role"
        );
        let both = format!("{SINK}[source]\ntopic = '/default/b'\n");
        assert!(
            !errors(&schema, &both).is_empty(),
            "accepted a sink and a source"
        );
    }

    #[test]
    fn every_granted_unit_has_a_closed_section() {
        let schema = connector_file();
        let sections = &schema.as_value()["properties"]["capabilities"]["properties"];
        for unit in UNITS.iter().filter(|u| u.granting == Granting::BySection) {
            assert!(
                sections.get(unit.name).is_some(),
                "no schema for [capabilities.{}]",
                unit.name
            );
        }
        assert!(
            sections.get("log").is_none(),
            "always-granted units have no section"
        );
    }
}
