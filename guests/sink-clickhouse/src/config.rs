//! The connector's `[config]` table: every option, its default, and validation.
//!
//! [`RawConfig`] mirrors the TOML; [`RawConfig::validate`] turns it into [`Settings`], the
//! checked form the rest of the sink works with. Every validation error names its field.

use std::collections::BTreeMap;
use std::time::Duration;

use danube_connect_sdk::http::check_url;
use danube_connect_sdk::{Error, FieldPath};
use serde::Deserialize;
use serde_json::Value;

/// The `[config]` table as written by the operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// ClickHouse HTTP interface, e.g. `http://127.0.0.1:8123`. Required.
    pub url: String,
    #[serde(default = "default_database")]
    pub database: String,
    /// Target table. Required.
    pub table: String,
    /// Sent as HTTP basic authentication; both may use `${VAR}` secrets.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// ClickHouse settings sent as query parameters with every insert, e.g. `async_insert = 1`.
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
    /// Column → JSON path (`a.b.c`) in the payload. Absent: every top-level field of the
    /// payload is a column of the same name.
    #[serde(default)]
    pub columns: Option<BTreeMap<String, String>>,
    /// Column → value used when the payload lacks the field.
    #[serde(default)]
    pub defaults: BTreeMap<String, Value>,
    #[serde(default)]
    pub metadata: MetadataColumns,
    /// `none` (default) or `gzip`.
    #[serde(default)]
    pub compression: Compression,
    /// gzip level, 0 (store) to 9 (smallest). Default 1: fast, and JSON still shrinks ~5x.
    #[serde(default = "default_level")]
    pub compression_level: u32,
    /// Upper bound of one insert request, sending and waiting for ClickHouse to answer.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// `auto` (default): send `insert_deduplication_token` when the server knows the setting;
    /// `always`; `never`.
    #[serde(default)]
    pub deduplicate: Deduplicate,
    /// At `open`, when the table does not exist: a `CREATE TABLE …` statement to run, or
    /// `true` to create it from the latest version of `schema_subject`.
    #[serde(default)]
    pub create_table: Option<CreateTable>,
    /// The registry subject `create_table = true` takes the table's columns from.
    #[serde(default)]
    pub schema_subject: Option<String>,
    /// `ORDER BY` of a table created from a schema. Default `tuple()`.
    #[serde(default = "default_order_by")]
    pub order_by: String,
    /// `auto` (default): payloads published with a registry schema are decoded to JSON with
    /// the version they name (Avro); `none`: payloads are inserted as they are.
    #[serde(default)]
    pub decode: Decode,
    /// Most insert requests spent isolating bad rows in one batch; rows still unresolved
    /// after that are dead-lettered with the last error.
    #[serde(default = "default_isolation_requests")]
    pub max_isolation_requests: usize,
}

/// Message metadata written to columns; each entry names its column. All off by default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataColumns {
    pub topic: Option<String>,
    pub offset: Option<String>,
    pub publish_time: Option<String>,
    /// Unit of `publish_time`: `seconds` (default, fits `DateTime`), `milliseconds` or
    /// `microseconds`.
    #[serde(default)]
    pub publish_time_unit: TimeUnit,
    pub producer: Option<String>,
    pub key: Option<String>,
    /// Message attribute name → column.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// `create_table` as written: a statement, or `true` / `false`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CreateTable {
    FromSchema(bool),
    Ddl(String),
}

/// Where a missing table comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableSource {
    Ddl(String),
    /// The latest version of this subject.
    Schema(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decode {
    #[default]
    Auto,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    #[default]
    Seconds,
    Milliseconds,
    Microseconds,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deduplicate {
    #[default]
    Auto,
    Always,
    Never,
}

fn default_database() -> String {
    "default".into()
}

fn default_order_by() -> String {
    "tuple()".into()
}

fn default_level() -> u32 {
    1
}

fn default_timeout_ms() -> u64 {
    120_000
}

fn default_isolation_requests() -> usize {
    256
}

/// How payloads become rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapping {
    /// Every top-level field is a column of the same name.
    AllFields,
    /// Columns taken from JSON paths, in column order.
    Paths(Vec<(String, FieldPath)>),
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub database: String,
    pub table: String,
    pub credentials: Option<(String, String)>,
    /// Extra query parameters, already rendered as strings.
    pub settings: Vec<(String, String)>,
    pub mapping: Mapping,
    pub defaults: Vec<(String, Value)>,
    pub metadata: MetadataColumns,
    pub compression: Option<u32>,
    pub timeout: Duration,
    pub deduplicate: Deduplicate,
    pub create_table: Option<TableSource>,
    pub order_by: String,
    pub decode: Decode,
    pub max_isolation_requests: usize,
}

impl Settings {
    /// `` `database`.`table` `` for queries.
    pub fn qualified_table(&self) -> String {
        format!("`{}`.`{}`", self.database, self.table)
    }
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("invalid config at `{field}`: {why}"))
}

/// Names go into queries inside backticks: keep them to what needs no escaping.
fn check_identifier(field: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '`' || *c == '\\' || c.is_control())
    {
        return Err(invalid(
            field,
            format!("`{name}` contains {c:?}, which is not allowed in a name"),
        ));
    }
    Ok(())
}

fn setting_value(field: &str, v: &Value) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(u8::from(*b).to_string()),
        other => Err(invalid(
            field,
            format!("expected a string, number or boolean, found {other}"),
        )),
    }
}

impl RawConfig {
    pub fn validate(self) -> Result<Settings, Error> {
        check_url(&self.url).map_err(|why| invalid("url", why))?;
        if self.url.contains('?') || self.url.contains('#') {
            return Err(invalid(
                "url",
                "must not carry a query or fragment: put ClickHouse settings in `settings`",
            ));
        }
        check_identifier("database", &self.database)?;
        check_identifier("table", &self.table)?;
        let credentials = match (self.user, self.password) {
            (Some(u), p) => Some((u, p.unwrap_or_default())),
            (None, Some(_)) => return Err(invalid("password", "needs `user` as well")),
            (None, None) => None,
        };
        let mut settings = Vec::with_capacity(self.settings.len());
        for (name, value) in &self.settings {
            let field = format!("settings.{name}");
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(&field, "a setting name is letters, digits and `_`"));
            }
            if matches!(
                name.as_str(),
                "query" | "database" | "insert_deduplication_token"
            ) {
                return Err(invalid(&field, "is set by the connector itself"));
            }
            settings.push((name.clone(), setting_value(&field, value)?));
        }
        let mapping = match self.columns {
            None => Mapping::AllFields,
            Some(map) if map.is_empty() => {
                return Err(invalid(
                    "columns",
                    "lists no column; leave it out to map every field",
                ));
            }
            Some(map) => {
                let mut paths = Vec::with_capacity(map.len());
                for (column, path) in map {
                    let field = format!("columns.{column}");
                    let path = FieldPath::parse(&path).map_err(|e| invalid(&field, e))?;
                    paths.push((column, path));
                }
                Mapping::Paths(paths)
            }
        };
        let metadata = self.metadata;
        for (field, column) in metadata_columns(&metadata) {
            if column.is_empty() {
                return Err(invalid(&field, "must name a column"));
            }
        }
        if self.compression_level > 9 {
            return Err(invalid("compression_level", "must be 0 to 9"));
        }
        if self.timeout_ms == 0 {
            return Err(invalid("timeout_ms", "must be at least 1"));
        }
        let create_table = match (self.create_table, self.schema_subject) {
            (Some(CreateTable::Ddl(ddl)), _) if ddl.trim().is_empty() => {
                return Err(invalid("create_table", "is empty"));
            }
            (Some(CreateTable::Ddl(ddl)), _) => Some(TableSource::Ddl(ddl)),
            (Some(CreateTable::FromSchema(true)), Some(subject)) if !subject.trim().is_empty() => {
                Some(TableSource::Schema(subject))
            }
            (Some(CreateTable::FromSchema(true)), _) => {
                return Err(invalid(
                    "schema_subject",
                    "is needed with `create_table = true`: the subject whose fields become the columns",
                ));
            }
            (Some(CreateTable::FromSchema(false)) | None, _) => None,
        };
        if self.order_by.trim().is_empty() {
            return Err(invalid("order_by", "is empty; `tuple()` orders by nothing"));
        }
        Ok(Settings {
            url: self.url.trim_end_matches('/').to_owned(),
            database: self.database,
            table: self.table,
            credentials,
            settings,
            mapping,
            defaults: self.defaults.into_iter().collect(),
            metadata,
            compression: (self.compression == Compression::Gzip).then_some(self.compression_level),
            timeout: Duration::from_millis(self.timeout_ms),
            deduplicate: self.deduplicate,
            create_table,
            order_by: self.order_by,
            decode: self.decode,
            max_isolation_requests: self.max_isolation_requests.max(1),
        })
    }
}

/// Every metadata column with the config field naming it.
fn metadata_columns(m: &MetadataColumns) -> Vec<(String, &String)> {
    let mut out: Vec<(String, &String)> = [
        ("metadata.topic", &m.topic),
        ("metadata.offset", &m.offset),
        ("metadata.publish_time", &m.publish_time),
        ("metadata.producer", &m.producer),
        ("metadata.key", &m.key),
    ]
    .into_iter()
    .filter_map(|(f, c)| c.as_ref().map(|c| (f.to_owned(), c)))
    .collect();
    out.extend(
        m.attributes
            .iter()
            .map(|(a, c)| (format!("metadata.attributes.{a}"), c)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use danube_connect_sdk::Config;

    fn parse(json: &str) -> Result<Settings, Error> {
        Config::new(json).parse::<RawConfig>()?.validate()
    }

    fn message(r: Result<Settings, Error>) -> String {
        r.err().map(|e| e.message().to_owned()).unwrap_or_default()
    }

    #[test]
    fn minimal_config_takes_defaults() {
        let s = parse(r#"{"url":"http://127.0.0.1:8123/","table":"events"}"#).unwrap();
        assert_eq!(s.url, "http://127.0.0.1:8123");
        assert_eq!(s.qualified_table(), "`default`.`events`");
        assert_eq!(s.mapping, Mapping::AllFields);
        assert_eq!(s.compression, None);
        assert_eq!(s.deduplicate, Deduplicate::Auto);
        assert_eq!(s.timeout, Duration::from_secs(120));
    }

    #[test]
    fn settings_render_as_strings() {
        let s = parse(
            r#"{"url":"http://h:8123","table":"t","settings":{"async_insert":1,"wait_for_async_insert":true,"insert_quorum":"auto"}}"#,
        )
        .unwrap();
        assert_eq!(
            s.settings,
            vec![
                ("async_insert".to_owned(), "1".to_owned()),
                ("insert_quorum".to_owned(), "auto".to_owned()),
                ("wait_for_async_insert".to_owned(), "1".to_owned()),
            ]
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert!(message(parse(r#"{"table":"t"}"#)).contains("url"));
        assert!(message(parse(r#"{"url":"ftp://h","table":"t"}"#)).contains("`url`"));
        assert!(message(parse(r#"{"url":"http://h","table":"a`b"}"#)).contains("`table`"));
        assert!(
            message(parse(
                r#"{"url":"http://h","table":"t","settings":{"x y":1}}"#
            ))
            .contains("`settings.x y`")
        );
        assert!(
            message(parse(
                r#"{"url":"http://h","table":"t","settings":{"query":"drop"}}"#
            ))
            .contains("`settings.query`")
        );
        assert!(
            message(parse(
                r#"{"url":"http://h","table":"t","columns":{"id":"a..b"}}"#
            ))
            .contains("`columns.id`")
        );
        assert!(
            message(parse(r#"{"url":"http://h","table":"t","password":"p"}"#))
                .contains("`password`")
        );
        assert!(
            message(parse(
                r#"{"url":"http://h","table":"t","compression_level":12}"#
            ))
            .contains("`compression_level`")
        );
        assert!(
            message(parse(
                r#"{"url":"http://h","table":"t","metadata":{"topic":""}}"#
            ))
            .contains("`metadata.topic`")
        );
        assert!(message(parse(r#"{"url":"http://h?x=1","table":"t"}"#)).contains("settings"));
        assert!(message(parse(r#"{"url":"http://h","table":"t","colums":{}}"#)).contains("colums"));
    }

    #[test]
    fn column_paths_split_on_dots() {
        let s = parse(r#"{"url":"http://h","table":"t","columns":{"cid":"order.customer.id"}}"#)
            .unwrap();
        let Mapping::Paths(paths) = s.mapping else {
            panic!("expected column paths")
        };
        assert_eq!(paths.len(), 1);
        assert_eq!(paths[0].0, "cid");
        assert_eq!(paths[0].1.pointer(), "/order/customer/id");
    }
}
