//! Environment overrides for the settings operators change most between deployments.

use super::ConfigError;
use std::path::Path;

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    /// Comma-separated list of strings.
    List,
}

/// (variable, section, key, kind)
const OVERRIDES: &[(&str, &str, &str, Kind)] = &[
    ("DANUBE_SERVICE_URL", "danube", "service_url", Kind::Str),
    ("DANUBE_METRICS_URL", "danube", "metrics_url", Kind::Str),
    ("CONNECTOR_NAME", "connector", "name", Kind::Str),
    ("DANUBE_TOPIC", "sink", "topics", Kind::List),
    ("DANUBE_TOPIC", "source", "topic", Kind::Str),
    ("SUBSCRIPTION_NAME", "sink", "subscription", Kind::Str),
    ("SUBSCRIPTION_TYPE", "sink", "subscription_type", Kind::Str),
    (
        "DISPATCH_STRATEGY",
        "source",
        "dispatch_strategy",
        Kind::Str,
    ),
    ("POLL_INTERVAL_MS", "source", "poll_interval_ms", Kind::Int),
    ("SENDS_IN_FLIGHT", "source", "sends_in_flight", Kind::Int),
    ("MAX_RETRIES", "runtime", "max_retries", Kind::Int),
    ("RETRY_BACKOFF_MS", "runtime", "retry_backoff_ms", Kind::Int),
    ("BATCH_SIZE", "runtime", "batch_size", Kind::Int),
    ("BATCH_TIMEOUT_MS", "runtime", "batch_timeout_ms", Kind::Int),
    ("LOG_LEVEL", "log", "level", Kind::Str),
    ("LOG_FORMAT", "log", "format", Kind::Str),
    ("METRICS_ADDR", "metrics", "bind", Kind::Str),
];

pub fn apply_overrides(
    table: &mut toml::Table,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for &(var, section, key, kind) in OVERRIDES {
        let Some(raw) = lookup(var) else { continue };
        let env_err = |message: String| ConfigError::Env {
            path: path.to_path_buf(),
            var: var.to_string(),
            key: format!("{section}.{key}"),
            message,
        };
        // A source-only variable must not invent a [source] section in a sink file, and the
        // reverse: only touch sections that exist, except for the always-present ones.
        let optional_section = matches!(section, "sink" | "source");
        if optional_section && !table.contains_key(section) {
            continue;
        }
        let value = match kind {
            Kind::Str => toml::Value::String(raw),
            Kind::Int => raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(toml::Value::Integer)
                .ok_or_else(|| {
                    env_err(format!("expected a non-negative integer, got \"{raw}\""))
                })?,
            Kind::List => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            ),
        };
        let entry = table
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else {
            return Err(env_err(format!("`{section}` in the file is not a table")));
        };
        t.insert(key.to_string(), value);
    }
    if let Some(raw) = lookup("METRICS_PORT") {
        apply_metrics_port(table, path, &raw)?;
    }
    Ok(())
}

/// The overrides that make sense for a host file: its log level and metrics port.
pub fn apply_host_overrides(
    table: &mut toml::Table,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (var, section, key) in [
        ("LOG_LEVEL", "log", "level"),
        ("LOG_FORMAT", "log", "format"),
        ("METRICS_ADDR", "metrics", "bind"),
    ] {
        if let Some(value) = lookup(var) {
            let entry = table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.insert(key.into(), toml::Value::String(value));
            }
        }
    }
    if let Some(raw) = lookup("METRICS_PORT") {
        apply_metrics_port(table, path, &raw)?;
    }
    Ok(())
}

/// METRICS_PORT replaces only the port of `metrics.bind`, keeping its address.
fn apply_metrics_port(table: &mut toml::Table, path: &Path, raw: &str) -> Result<(), ConfigError> {
    let port: u16 = raw.trim().parse().map_err(|_| ConfigError::Env {
        path: path.to_path_buf(),
        var: "METRICS_PORT".into(),
        key: "metrics.bind".into(),
        message: format!("expected a port number, got \"{raw}\""),
    })?;
    let entry = table
        .entry("metrics")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = entry {
        let host = t
            .get("bind")
            .and_then(|v| v.as_str())
            .and_then(|b| b.parse::<std::net::SocketAddr>().ok())
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into());
        let bind = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        t.insert("bind".into(), toml::Value::String(bind));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> toml::Table {
        "[connector]\nname='a'\n[sink]\ntopics=['/default/a']\nsubscription='s'\n[metrics]\nbind='0.0.0.0:9000'"
            .parse()
            .expect("toml")
    }

    #[test]
    fn overrides_apply() {
        let mut t = table();
        let env = |v: &str| match v {
            "DANUBE_TOPIC" => Some("/default/x, /default/y".to_string()),
            "BATCH_SIZE" => Some("7".to_string()),
            "METRICS_PORT" => Some("9999".to_string()),
            _ => None,
        };
        apply_overrides(&mut t, Path::new("c.toml"), &env).expect("ok");
        assert_eq!(t["sink"]["topics"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(t["runtime"]["batch_size"].as_integer(), Some(7));
        assert_eq!(t["metrics"]["bind"].as_str(), Some("0.0.0.0:9999"));
        assert!(!t.contains_key("source"), "a sink file gets no [source]");
    }

    #[test]
    fn the_topic_log_format_and_metrics_address_apply_to_either_role() {
        let mut t: toml::Table = "[connector]\nname='a'\n[source]\ntopic='/default/a'\n"
            .parse()
            .expect("toml");
        let env = |v: &str| match v {
            "DANUBE_TOPIC" => Some("/default/b".to_string()),
            "LOG_FORMAT" => Some("json".to_string()),
            "METRICS_ADDR" => Some("0.0.0.0:9470".to_string()),
            _ => None,
        };
        apply_overrides(&mut t, Path::new("c.toml"), &env).expect("ok");
        assert_eq!(t["source"]["topic"].as_str(), Some("/default/b"));
        assert!(!t.contains_key("sink"), "a source file gets no [sink]");
        assert_eq!(t["log"]["format"].as_str(), Some("json"));
        assert_eq!(t["metrics"]["bind"].as_str(), Some("0.0.0.0:9470"));
    }

    #[test]
    fn bad_number_names_variable() {
        let mut t = table();
        let env = |v: &str| (v == "MAX_RETRIES").then(|| "ten".to_string());
        let err = apply_overrides(&mut t, Path::new("c.toml"), &env)
            .expect_err("bad")
            .to_string();
        assert!(
            err.contains("MAX_RETRIES") && err.contains("runtime.max_retries"),
            "{err}"
        );
    }
}
