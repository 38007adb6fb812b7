use super::types::ConnectorFile;
use super::{ConfigError, ConnectorConfig, env, secrets, validate};
use std::path::Path;

/// Read, substitute secrets, apply environment overrides, type-check and validate a config file.
pub fn load(path: &Path) -> Result<ConnectorConfig, ConfigError> {
    load_str(&read(path)?, path, &|name| std::env::var(name).ok())
}

/// A connector file listed in a host file: `${VAR}` secrets apply, the per-connector
/// environment overrides (`CONNECTOR_NAME`, `DANUBE_TOPIC`, …) do not, as they cannot tell
/// the connectors of one host apart.
/// Also returns the sections present in the file that a host file overrides.
pub fn load_hosted(path: &Path) -> Result<(ConnectorConfig, Vec<&'static str>), ConfigError> {
    let text = read(path)?;
    let lookup = |name: &str| std::env::var(name).ok();
    let table = parse(&text, path, &lookup)?;
    let ignored = ["metrics", "log"]
        .into_iter()
        .filter(|section| table.contains_key(*section))
        .collect();
    Ok((finish(table, path)?, ignored))
}

pub(super) fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parse TOML and substitute `${VAR}` secrets: the values the schema describes.
pub fn parse(
    text: &str,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<toml::Table, ConfigError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    secrets::substitute(&mut table, path, lookup)?;
    Ok(table)
}

/// Deserialize a table, naming the offending key and the file on error.
pub(super) fn typed<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    path: &Path,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Key {
        path: path.to_path_buf(),
        key: e.path().to_string(),
        message: e.into_inner().to_string(),
    })
}

/// Same as [`load`] for text already in memory; `lookup` reads environment variables.
pub fn load_str(
    text: &str,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ConnectorConfig, ConfigError> {
    let mut table = parse(text, path, lookup)?;
    env::apply_overrides(&mut table, path, lookup)?;
    finish(table, path)
}

fn finish(table: toml::Table, path: &Path) -> Result<ConnectorConfig, ConfigError> {
    let file: ConnectorFile = typed(table, path)?;
    let config = file.into_config(path)?;
    validate::check(&config)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Pipeline, SubscriptionType};

    const MINIMAL: &str = r#"
        [connector]
        name = "hook"
        [sink]
        topics = ["/default/orders"]
        subscription = "hook"
    "#;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_mqtt_source_example_loads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/source-mqtt/connector.toml");
        let c = load(&path).expect("examples/source-mqtt/connector.toml is valid");
        assert!(c.guest_config_json().contains("sensors/+/temperature"));
        let Pipeline::Source(source) = c.pipeline else {
            panic!("the example is a source");
        };
        assert_eq!(source.producers_per_topic, 4);
        assert!(source.keep_unkeyed_order);
        assert!(c.capabilities.contains_key("mqtt"));
    }

    #[test]
    fn the_postgres_source_example_loads_with_its_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/source-postgres/connector.toml");
        let text = std::fs::read_to_string(&path).expect("example");
        let c = load_str(&text, &path, &no_env).expect("examples/source-postgres is valid");
        let json = c.guest_config_json();
        assert!(json.contains(r#""slot":"danube_cdc""#), "{json}");
        assert!(json.contains(r#""tables":"public.orders""#), "{json}");
        assert!(c.capabilities.contains_key("postgres"));
        assert!(c.capabilities.contains_key("state"));
    }

    #[test]
    fn a_connector_has_exactly_one_role() {
        let sink = load_str(MINIMAL, Path::new("c.toml"), &no_env).expect("valid");
        assert_eq!(sink.pipeline.role(), crate::role::Role::Sink);
        let both = format!("{MINIMAL}\n[source]\ntopic = \"/default/out\"\n");
        let e = load_str(&both, Path::new("c.toml"), &no_env).expect_err("both roles");
        assert!(e.to_string().contains("either a sink or a source"), "{e}");
        let neither = "[connector]\nname = \"x\"\n";
        let e = load_str(neither, Path::new("c.toml"), &no_env).expect_err("no role");
        let e = e.to_string();
        assert!(
            e.contains("c.toml") && e.contains("[sink]") && e.contains("[source]"),
            "{e}"
        );
    }

    #[test]
    fn key_filters_need_key_shared_and_shared_kinds_name_their_consumer_per_host() {
        let with = |keys: &str| format!("{MINIMAL}{keys}\n");
        let e = load_str(
            &with("key_filters = [\"eu-*\"]"),
            Path::new("c.toml"),
            &no_env,
        )
        .expect_err("exclusive with filters");
        assert!(e.to_string().contains("sink.key_filters"), "{e}");
        let e = load_str(
            &with("subscription_type = \"key_shared\"\nkey_filters = [\"eu-*\", \"\"]"),
            Path::new("c.toml"),
            &no_env,
        )
        .expect_err("empty pattern");
        assert!(e.to_string().contains("sink.key_filters[1]"), "{e}");
        let c = load_str(
            &with("subscription_type = \"key_shared\"\nkey_filters = [\"eu-*\"]"),
            Path::new("c.toml"),
            &no_env,
        )
        .expect("valid");
        let Pipeline::Sink(sink) = c.pipeline else {
            panic!("a sink");
        };
        assert_eq!(sink.key_filters, ["eu-*"]);
        assert_eq!(sink.consumer_name_for("hook", Some("pod-1")), "hook-pod-1");
        assert_eq!(sink.consumer_name_for("hook", None), "hook");
        let exclusive = load_str(MINIMAL, Path::new("c.toml"), &no_env).expect("valid");
        let Pipeline::Sink(exclusive) = exclusive.pipeline else {
            panic!("a sink");
        };
        assert_eq!(
            exclusive.consumer_name_for("hook", Some("pod-1")),
            "hook",
            "an exclusive subscription is re-taken under the same name after a restart"
        );
    }

    #[test]
    fn a_sink_buffer_is_read_and_its_bound_checked() {
        let text = format!("{MINIMAL}\n[sink.buffer]\nkind = \"disk\"\n");
        let c = load_str(&text, Path::new("c.toml"), &no_env).expect("valid");
        let Pipeline::Sink(sink) = c.pipeline else {
            panic!("a sink");
        };
        let buffer = sink.buffer.expect("a buffer");
        assert_eq!((buffer.path, buffer.max_bytes), (None, 1 << 30));
        let text = format!("{MINIMAL}\n[sink.buffer]\nkind = \"disk\"\nmax_bytes = 1000\n");
        let e = load_str(&text, Path::new("c.toml"), &no_env).expect_err("too small");
        assert!(e.to_string().contains("sink.buffer.max_bytes"), "{e}");
        let text = format!("{MINIMAL}\n[sink.buffer]\nkind = \"memory\"\n");
        let e = load_str(&text, Path::new("c.toml"), &no_env).expect_err("unknown kind");
        assert!(e.to_string().contains("sink.buffer.kind"), "{e}");
    }

    #[test]
    fn subscription_types_in_other_tools_spellings() {
        for (spelled, expected) in [
            ("exclusive", SubscriptionType::Exclusive),
            ("Exclusive", SubscriptionType::Exclusive),
            ("FailOver", SubscriptionType::Failover),
            ("Failover", SubscriptionType::Failover),
            ("key_shared", SubscriptionType::KeyShared),
            ("KeyShared", SubscriptionType::KeyShared),
            ("key-shared", SubscriptionType::KeyShared),
            ("SHARED", SubscriptionType::Shared),
        ] {
            let text = MINIMAL.replace(
                "subscription = \"hook\"",
                &format!("subscription = \"hook\"\nsubscription_type = \"{spelled}\""),
            );
            let c = load_str(&text, Path::new("c.toml"), &no_env).expect(spelled);
            let Pipeline::Sink(sink) = c.pipeline else {
                panic!("a sink");
            };
            assert_eq!(sink.subscription_type, expected, "{spelled}");
        }
        let text = MINIMAL.replace(
            "subscription = \"hook\"",
            "subscription = \"hook\"\nsubscription_type = \"round_robin\"",
        );
        let e = load_str(&text, Path::new("c.toml"), &no_env).expect_err("unknown");
        assert!(e.to_string().contains("sink.subscription_type"), "{e}");
    }

    #[test]
    fn minimal_sink_gets_defaults() {
        let c = load_str(MINIMAL, Path::new("c.toml"), &no_env).expect("valid");
        assert_eq!(c.runtime.batch_size, 500);
        assert_eq!(c.danube.service_url, "http://127.0.0.1:6650");
        assert!(c.capabilities.is_empty());
    }

    #[test]
    fn unknown_key_is_named_with_file() {
        let text = format!("{MINIMAL}\n[runtime]\nbatchsize = 3\n");
        let err = load_str(&text, Path::new("conf/c.toml"), &no_env)
            .expect_err("typo must fail")
            .to_string();
        assert!(err.contains("conf/c.toml"), "{err}");
        assert!(err.contains("batchsize"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let text = format!("{MINIMAL}\n[runtime]\nbatch_size = \"many\"\n");
        let err = load_str(&text, Path::new("c.toml"), &no_env)
            .expect_err("type error")
            .to_string();
        assert!(err.contains("runtime.batch_size"), "{err}");
    }

    #[test]
    fn syntax_error_has_line() {
        let err = load_str("[connector\nname=1", Path::new("c.toml"), &no_env)
            .expect_err("syntax")
            .to_string();
        assert!(err.contains("c.toml") && err.contains("line"), "{err}");
    }

    #[test]
    fn config_table_becomes_json() {
        let text = format!("{MINIMAL}\n[config]\nurl = \"http://x\"\nn = 3\n");
        let c = load_str(&text, Path::new("c.toml"), &no_env).expect("valid");
        let v: serde_json::Value = serde_json::from_str(&c.guest_config_json()).expect("json");
        assert_eq!(v["url"], "http://x");
        assert_eq!(v["n"], 3);
    }
}
