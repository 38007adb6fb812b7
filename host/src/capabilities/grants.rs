use crate::config::ConnectorConfig;

/// One capability a component may import, with what grants it.
struct Capability {
    /// Import name prefix, without version.
    prefix: &'static str,
    /// `None`: always granted. `Some(key)`: granted by that config section.
    granted_by: Option<&'static str>,
}

const CAPABILITIES: &[Capability] = &[
    Capability {
        prefix: "danube:connect/log",
        granted_by: None,
    },
    Capability {
        prefix: "danube:connect/metrics",
        granted_by: None,
    },
    Capability {
        prefix: "danube:connect/types",
        granted_by: None,
    },
    Capability {
        prefix: "danube:connect/state",
        granted_by: Some("capabilities.state"),
    },
    Capability {
        prefix: "wasi:http/",
        granted_by: Some("capabilities.http"),
    },
    Capability {
        prefix: "danube:connect/mqtt",
        granted_by: Some("capabilities.mqtt"),
    },
    // Only shapes the topics of the connector's own records.
    Capability {
        prefix: "danube:connect/topics",
        granted_by: None,
    },
    // Language runtimes need clocks, randomness, streams and a process environment (kept empty).
    // Filesystem and sockets link with no preopened directory and every address refused.
    Capability {
        prefix: "wasi:io/",
        granted_by: None,
    },
    Capability {
        prefix: "wasi:clocks/",
        granted_by: None,
    },
    Capability {
        prefix: "wasi:random/",
        granted_by: None,
    },
    Capability {
        prefix: "wasi:cli/",
        granted_by: None,
    },
    Capability {
        prefix: "wasi:filesystem/",
        granted_by: None,
    },
    Capability {
        prefix: "wasi:sockets/",
        granted_by: None,
    },
];

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error(
        "component imports `{import}` but {config} does not grant it: add a [{key}] section \
         (capabilities are denied by default)"
    )]
    NotGranted {
        import: String,
        key: &'static str,
        config: String,
    },
    #[error("component imports `{import}`, which this host does not provide")]
    Unknown { import: String },
}

fn is_granted(c: &ConnectorConfig, key: &str) -> bool {
    match key {
        "capabilities.http" => c.capabilities.http.is_some(),
        "capabilities.state" => c.capabilities.state.is_some(),
        "capabilities.mqtt" => c.capabilities.mqtt.is_some(),
        _ => false,
    }
}

/// Refuse imports the config does not grant; `imports` are a component's import names.
pub fn check<'a>(
    imports: impl IntoIterator<Item = &'a str>,
    config: &ConnectorConfig,
) -> Result<(), GrantError> {
    for import in imports {
        let cap = CAPABILITIES
            .iter()
            .find(|c| import.starts_with(c.prefix))
            .ok_or_else(|| GrantError::Unknown {
                import: import.to_string(),
            })?;
        if let Some(key) = cap.granted_by
            && !is_granted(config, key)
        {
            return Err(GrantError::NotGranted {
                import: import.to_string(),
                key,
                config: config.path.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Config key that grants an import, for `inspect`; `None` when always available.
pub fn granting_key(import: &str) -> Option<&'static str> {
    CAPABILITIES
        .iter()
        .find(|c| import.starts_with(c.prefix))
        .and_then(|c| c.granted_by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(extra: &str) -> ConnectorConfig {
        let text = format!(
            "[connector]\nname='a'\n[sink]\ntopics=['/default/a']\nsubscription='s'\n{extra}"
        );
        crate::config::load_str(&text, Path::new("c.toml"), &|_| None).expect("valid")
    }

    #[test]
    fn http_needs_grant() {
        let imports = [
            "wasi:io/streams@0.2.12",
            "wasi:http/outgoing-handler@0.2.12",
        ];
        let err = check(imports, &config("")).expect_err("denied").to_string();
        assert!(
            err.contains("wasi:http/outgoing-handler") && err.contains("capabilities.http"),
            "{err}"
        );
        check(
            imports,
            &config("[capabilities.http]\nallowed_hosts=['http://127.0.0.1:*']"),
        )
        .expect("granted");
    }

    #[test]
    fn unknown_import_refused() {
        let err = check(["acme:thing/x"], &config(""))
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("acme:thing/x"), "{err}");
    }
}
