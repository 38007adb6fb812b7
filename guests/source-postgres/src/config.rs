//! The connector's settings (`[config]` of the connector file). Every key is described in
//! `README.md`; errors name the key.

use crate::tables::TableFilter;
use crate::topic::TopicRule;
use danube_connect_sdk::postgres::ConnectOptions;
use danube_connect_sdk::schemas::Compatibility;
use danube_connect_sdk::{Error, Names};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: Port,
    pub database: String,
    pub user: String,
    pub password: Option<String>,
    #[serde(default = "default_name")]
    pub slot: String,
    #[serde(default = "default_name")]
    pub publication: String,
    /// `schema.table` or `table` (schema `public`): a list, or one comma-separated string
    /// (what an environment variable gives).
    #[serde(default)]
    pub tables: Names,
    #[serde(default)]
    pub exclude_tables: Names,
    #[serde(default = "yes")]
    pub create_publication: bool,
    #[serde(default = "yes")]
    pub create_slot: bool,
    #[serde(default)]
    pub snapshot: SnapshotMode,
    /// Rows per fetch while taking the snapshot.
    #[serde(default = "default_snapshot_fetch")]
    pub snapshot_fetch: u32,
    /// Topic template with `{schema}` and `{table}`; absent: the connector's default topic.
    pub topic: Option<String>,
    #[serde(default)]
    pub numeric_as_number: bool,
    /// Registry subject template (`{schema}`, `{table}`): each table's change events are
    /// published under a JSON Schema registered there. Absent: untyped.
    #[serde(default)]
    pub schema_subject: Option<String>,
    /// Compatibility mode set on each table's subject: none, backward, forward or full.
    #[serde(default)]
    pub schema_compatibility: Option<String>,
    #[serde(default = "default_heartbeat")]
    pub heartbeat_interval_ms: u32,
    #[serde(default)]
    pub heartbeat_message: bool,
    #[serde(default = "default_status_interval")]
    pub status_interval_ms: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u32,
}

/// Whether the rows already in the tables are read before streaming changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// When the connector creates its slot: every row as an `r` event, then the changes.
    #[default]
    Initial,
    /// Changes only, from the slot's position.
    Never,
    /// The rows, then stop (the slot is dropped once Danube persisted them).
    InitialOnly,
}

/// A port as a number, or as a string (what an environment variable gives).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Port {
    Number(u16),
    Text(String),
}

fn default_port() -> Port {
    Port::Number(5432)
}

fn default_name() -> String {
    "danube_cdc".into()
}

fn yes() -> bool {
    true
}

fn default_snapshot_fetch() -> u32 {
    1_000
}

fn default_heartbeat() -> u32 {
    10_000
}

fn default_status_interval() -> u32 {
    1_000
}

fn default_connect_timeout() -> u32 {
    10_000
}

/// The checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connect: ConnectOptions,
    pub slot: String,
    pub publication: String,
    pub tables: TableFilter,
    pub create_publication: bool,
    pub create_slot: bool,
    pub snapshot: SnapshotMode,
    pub snapshot_fetch: u32,
    pub topic: TopicRule,
    pub numeric_as_number: bool,
    /// Subject template and compatibility mode of the per-table schemas.
    pub schemas: Option<(String, Option<Compatibility>)>,
    pub heartbeat_interval_ms: u32,
    pub heartbeat_message: bool,
    pub status_interval_ms: u32,
}

impl RawConfig {
    pub fn validate(self) -> Result<Settings, Error> {
        let port = match self.port {
            Port::Number(p) => p,
            Port::Text(t) => t.trim().parse().map_err(|_| {
                Error::config(format!("port: \"{t}\" is not a port number (1-65535)"))
            })?,
        };
        for (key, value) in [("slot", &self.slot), ("publication", &self.publication)] {
            if !identifier(value) {
                return Err(Error::config(format!(
                    "{key}: \"{value}\" must be lower-case letters, digits and _ (at most 63), \
                     not starting with a digit"
                )));
            }
        }
        let tables = TableFilter::new(self.tables.into_vec(), self.exclude_tables.into_vec())
            .map_err(Error::config)?;
        let topic = match self.topic {
            Some(t) => TopicRule::template(&t).map_err(|m| Error::config(format!("topic: {m}")))?,
            None => TopicRule::Default,
        };
        let compatibility = match self.schema_compatibility.as_deref() {
            None => None,
            Some("none") => Some(Compatibility::None),
            Some("backward") => Some(Compatibility::Backward),
            Some("forward") => Some(Compatibility::Forward),
            Some("full") => Some(Compatibility::Full),
            Some(other) => {
                return Err(Error::config(format!(
                    "schema_compatibility: \"{other}\" is not none, backward, forward or full"
                )));
            }
        };
        let schemas = match self.schema_subject {
            Some(s) if s.trim().is_empty() => {
                return Err(Error::config("schema_subject: must not be empty"));
            }
            Some(s) => Some((s, compatibility)),
            None if compatibility.is_some() => {
                return Err(Error::config(
                    "schema_compatibility: needs schema_subject, the subjects it applies to",
                ));
            }
            None => None,
        };
        let mut connect = ConnectOptions::new(self.host, self.database, self.user);
        connect.port = Some(port);
        connect.password = self.password.filter(|p| !p.is_empty());
        connect.timeout_ms = self.connect_timeout_ms;
        connect.application_name = Some(format!("danube-connect/{}", self.slot));
        Ok(Settings {
            connect,
            slot: self.slot,
            publication: self.publication,
            tables,
            create_publication: self.create_publication,
            create_slot: self.create_slot,
            snapshot: self.snapshot,
            snapshot_fetch: self.snapshot_fetch.max(1),
            topic,
            numeric_as_number: self.numeric_as_number,
            schemas,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
            heartbeat_message: self.heartbeat_message,
            status_interval_ms: self.status_interval_ms,
        })
    }
}

/// Slot and publication names go into replication commands unquoted: keep them plain.
fn identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Settings, Error> {
        serde_json::from_str::<RawConfig>(json)
            .map_err(|e| Error::config(e.to_string()))?
            .validate()
    }

    #[test]
    fn defaults_and_env_shaped_values() {
        let s = parse(
            r#"{"host":"db","port":"6543","database":"shop","user":"cdc","password":"",
                "tables":"public.orders, items"}"#,
        )
        .expect("valid");
        assert_eq!(s.connect.port, Some(6543));
        assert_eq!(s.connect.password, None);
        assert_eq!(s.slot, "danube_cdc");
        assert!(s.tables.includes("public", "orders"));
        assert!(s.tables.includes("public", "items"));
        assert!(!s.tables.includes("public", "users"));
        assert!(s.create_slot && s.create_publication);
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse(r#"{"host":"db","port":"x","database":"d","user":"u"}"#).expect_err("port");
        assert!(e.message().starts_with("port:"), "{}", e.message());
        let e = parse(r#"{"host":"db","database":"d","user":"u","slot":"Bad-Slot"}"#)
            .expect_err("slot");
        assert!(e.message().starts_with("slot:"), "{}", e.message());
        let e = parse(r#"{"host":"db","database":"d","user":"u","topic":"/cdc/{nope}"}"#)
            .expect_err("topic");
        assert!(e.message().starts_with("topic:"), "{}", e.message());
    }
}
