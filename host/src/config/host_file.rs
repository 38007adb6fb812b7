//! A host file lists the connectors one process runs, each from its own connector file, and
//! the process-wide settings: the metrics and admin listener and logging.

use super::load::{parse, read, typed};
use super::{ConfigError, ConnectorConfig, LogSection, MetricsSection, env, validate};
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HostFileToml {
    #[serde(default)]
    metrics: MetricsSection,
    #[serde(default)]
    log: LogSection,
    #[serde(default)]
    connector: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The connector file, relative to the host file.
    config: PathBuf,
    /// Overrides the connector file's `connector.component`; relative to the host file.
    component: Option<PathBuf>,
}

/// One connector of a host file, loaded and checked.
#[derive(Debug, Clone)]
pub struct HostedConnector {
    pub config: ConnectorConfig,
    pub component: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct HostFile {
    pub path: PathBuf,
    pub metrics: MetricsSection,
    pub log: LogSection,
    pub connectors: Vec<HostedConnector>,
    /// Things worth a warning once logging is up (sections the host file overrides).
    pub notes: Vec<String>,
}

/// Read a host file and every connector file it lists. Errors name the file and the key.
pub fn load_host_file(path: &Path) -> Result<HostFile, ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let mut table = parse(&read(path)?, path, &lookup)?;
    env::apply_host_overrides(&mut table, path, &lookup)?;
    let raw: HostFileToml = typed(table, path)?;
    let key_err = |key: String, message: String| ConfigError::Key {
        path: path.to_path_buf(),
        key,
        message,
    };
    if raw.connector.is_empty() {
        return Err(key_err(
            "connector".into(),
            "list at least one connector: [[connector]] config = \"my-connector.toml\"".into(),
        ));
    }
    if let Some(token) = &raw.metrics.admin_token {
        validate::check_token(token).map_err(|m| key_err("metrics.admin_token".into(), m))?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut connectors = Vec::with_capacity(raw.connector.len());
    let mut notes = Vec::new();
    for (i, entry) in raw.connector.into_iter().enumerate() {
        let (config, ignored) = super::load_hosted(&dir.join(&entry.config))?;
        for section in ignored {
            notes.push(format!(
                "{}: [{section}] is ignored when run from a host file; {} sets it for every connector",
                config.path.display(),
                path.display()
            ));
        }
        let name = config.connector.name.clone();
        if let Some(first) = seen.insert(name.clone(), i) {
            return Err(key_err(
                format!("connector[{i}].config"),
                format!(
                    "connector name \"{name}\" is already used by connector[{first}]; names label metrics and admin routes, so they must be unique"
                ),
            ));
        }
        connectors.push(HostedConnector {
            config,
            component: entry.component.map(|c| dir.join(c)),
        });
    }
    Ok(HostFile {
        path: path.to_path_buf(),
        metrics: raw.metrics,
        log: raw.log,
        connectors,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn connector(name: &str) -> String {
        format!(
            "[connector]\nname = \"{name}\"\n[sink]\ntopics = [\"/default/{name}\"]\nsubscription = \"s\"\n"
        )
    }

    #[test]
    fn lists_connectors_relative_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.toml", &connector("a"));
        write(dir.path(), "b.toml", &connector("b"));
        let host = write(
            dir.path(),
            "host.toml",
            "[metrics]\nbind = \"127.0.0.1:0\"\n[[connector]]\nconfig = \"a.toml\"\ncomponent = \"a.wasm\"\n[[connector]]\nconfig = \"b.toml\"\n",
        );
        let f = load_host_file(&host).expect("valid");
        assert_eq!(f.connectors.len(), 2);
        assert!(f.notes.is_empty(), "{:?}", f.notes);
        assert_eq!(f.connectors[1].config.connector.name, "b");
        assert_eq!(f.connectors[0].component, Some(dir.path().join("a.wasm")));
    }

    #[test]
    fn the_shipped_example_loads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/multi-connector/host.toml");
        let f = load_host_file(&path).expect("examples/multi-connector/host.toml is valid");
        let names: Vec<&str> = f
            .connectors
            .iter()
            .map(|c| c.config.connector.name.as_str())
            .collect();
        assert_eq!(names, ["orders-webhook", "audit-trail"]);
        assert!(f.notes.is_empty(), "{:?}", f.notes);
    }

    #[test]
    fn overridden_sections_are_noted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!("{}[metrics]\nbind = \"127.0.0.1:1\"\n", connector("a"));
        write(dir.path(), "a.toml", &text);
        let host = write(
            dir.path(),
            "host.toml",
            "[[connector]]\nconfig = \"a.toml\"\n",
        );
        let f = load_host_file(&host).expect("valid");
        assert_eq!(f.notes.len(), 1);
        assert!(f.notes[0].contains("[metrics] is ignored"), "{:?}", f.notes);
    }

    #[test]
    fn duplicate_names_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.toml", &connector("same"));
        write(dir.path(), "b.toml", &connector("same"));
        let host = write(
            dir.path(),
            "host.toml",
            "[[connector]]\nconfig = \"a.toml\"\n[[connector]]\nconfig = \"b.toml\"\n",
        );
        let err = load_host_file(&host).expect_err("duplicate").to_string();
        assert!(
            err.contains("host.toml") && err.contains("\"same\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_and_empty_list_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = write(dir.path(), "host.toml", "[metrics]\nbnd = \"x\"\n");
        let err = load_host_file(&host).expect_err("typo").to_string();
        assert!(err.contains("bnd"), "{err}");
        let host = write(dir.path(), "host.toml", "");
        let err = load_host_file(&host).expect_err("empty").to_string();
        assert!(err.contains("[[connector]]"), "{err}");
    }
}
