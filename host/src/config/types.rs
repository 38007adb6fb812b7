use super::ConfigError;
use crate::role::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A whole connector file, after environment overrides and secret substitution.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub connector: ConnectorSection,
    pub danube: DanubeSection,
    /// What the connector does with Danube: its `[sink]` or its `[source]` section.
    pub pipeline: Pipeline,
    pub runtime: RuntimeSection,
    pub metrics: MetricsSection,
    pub log: LogSection,
    /// `[capabilities.*]`: what the connector may reach; anything absent is denied. Each
    /// section is read and checked by its capability unit (`capabilities::Grants`).
    pub capabilities: toml::Table,
    /// The connector's own settings, handed to its `open` as JSON.
    pub config: toml::Table,
    /// Where the file was read from; relative paths in it are resolved against its folder.
    pub path: PathBuf,
}

/// A connector is a sink or a source, never both: the file has exactly one of the sections.
#[derive(Debug, Clone)]
pub enum Pipeline {
    Sink(SinkSection),
    Source(SourceSection),
}

impl Pipeline {
    pub fn role(&self) -> Role {
        match self {
            Pipeline::Sink(_) => Role::Sink,
            Pipeline::Source(_) => Role::Source,
        }
    }
}

/// The file as serde reads it; [`ConnectorFile::into_config`] insists on one role section.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectorFile {
    connector: ConnectorSection,
    #[serde(default)]
    danube: DanubeSection,
    sink: Option<SinkSection>,
    source: Option<SourceSection>,
    #[serde(default)]
    runtime: RuntimeSection,
    #[serde(default)]
    metrics: MetricsSection,
    #[serde(default)]
    log: LogSection,
    /// What the connector may reach, one section per capability; anything absent is denied.
    #[serde(default)]
    #[schemars(with = "AnyTable")]
    capabilities: toml::Table,
    /// The connector's own settings (its README lists them), handed to its `open` as JSON.
    #[serde(default)]
    #[schemars(with = "AnyTable")]
    config: toml::Table,
}

impl ConnectorFile {
    pub(super) fn into_config(self, path: &Path) -> Result<ConnectorConfig, ConfigError> {
        let err = |key: &str, message: &str| ConfigError::Key {
            path: path.to_path_buf(),
            key: key.into(),
            message: message.into(),
        };
        let pipeline = match (self.sink, self.source) {
            (Some(sink), None) => Pipeline::Sink(sink),
            (None, Some(source)) => Pipeline::Source(source),
            (None, None) => {
                return Err(err(
                    "sink",
                    "the file needs a [sink] section (consume from Danube) or a [source] section (publish to Danube)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(err(
                    "source",
                    "a connector is either a sink or a source, not both",
                ));
            }
        };
        Ok(ConnectorConfig {
            connector: self.connector,
            danube: self.danube,
            pipeline,
            runtime: self.runtime,
            metrics: self.metrics,
            log: self.log,
            capabilities: self.capabilities,
            config: self.config,
            path: path.to_path_buf(),
        })
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSection {
    pub name: String,
    /// Path of the `.wasm` component, relative to the config file.
    pub component: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DanubeSection {
    pub service_url: String,
    /// Upper bound for every single call to the broker (connect, subscribe, ack, send).
    pub call_timeout_ms: u64,
    /// First and last delay between attempts to reconnect after the broker went away.
    pub reconnect_backoff_ms: u64,
    pub reconnect_max_backoff_ms: u64,
    /// PEM file of the CA that signs the broker's certificate (`https://` service URLs).
    pub tls_ca: Option<PathBuf>,
    /// PEM certificate and key the host presents to the broker (mutual TLS).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Bearer token (JWT) sent with every call; use `${VAR}`. Implies TLS.
    pub token: Option<String>,
    /// The broker's Prometheus exporter (`danube-broker --prom-exporter`), e.g.
    /// `http://127.0.0.1:9040/metrics`: its subscription lag lets a sink tell a stalled
    /// subscription from an idle topic.
    pub metrics_url: Option<String>,
}

impl Default for DanubeSection {
    fn default() -> Self {
        Self {
            service_url: "http://127.0.0.1:6650".into(),
            call_timeout_ms: 10_000,
            reconnect_backoff_ms: 200,
            reconnect_max_backoff_ms: 10_000,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            token: None,
            metrics_url: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionType {
    Exclusive,
    Shared,
    Failover,
    KeyShared,
}

impl SubscriptionType {
    /// `exclusive`, `shared`, `failover`, `key_shared`, and the spellings other Danube tools
    /// use (`Exclusive`, `FailOver`, `KeyShared`, `key-shared`): case, `_` and `-` do not count.
    pub fn parse(s: &str) -> Option<Self> {
        let plain: String = s
            .chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match plain.as_str() {
            "exclusive" => Some(Self::Exclusive),
            "shared" => Some(Self::Shared),
            "failover" => Some(Self::Failover),
            "keyshared" => Some(Self::KeyShared),
            _ => None,
        }
    }
}

/// Any spelling `parse` takes; the schema lists the canonical ones as examples.
impl JsonSchema for SubscriptionType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SubscriptionType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "exclusive, shared, failover or key_shared; case, `_` and `-` do not count (`Shared`, `FailOver`, `key-shared`)",
            "examples": ["exclusive", "shared", "failover", "key_shared"]
        })
    }
}

/// A free-form TOML table, as the schema shows it.
type AnyTable = serde_json::Map<String, serde_json::Value>;

impl<'de> Deserialize<'de> for SubscriptionType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown subscription type \"{s}\": use exclusive, shared, failover or key_shared"
            ))
        })
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkSection {
    pub topics: Vec<String>,
    pub subscription: String,
    #[serde(default = "default_subscription_type")]
    pub subscription_type: SubscriptionType,
    /// Consumer name; defaults to the connector name on an exclusive subscription and to
    /// `<connector>-<host name>` on the others, so hosts sharing one subscription do not
    /// take over each other's registration (the broker treats a known name as a reconnect).
    pub consumer_name: Option<String>,
    /// `key_shared` only: glob patterns (`*`, `?`) of the keys this host takes. The broker
    /// skips a key no consumer of the subscription accepts, so together the hosts' filters
    /// must cover every key.
    #[serde(default)]
    pub key_filters: Vec<String>,
    /// Instances of the component delivering at once. Messages go to an instance by a hash
    /// of their key (round robin without one), so each key keeps its order.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// A durable local buffer between Danube and the connector (off by default).
    pub buffer: Option<BufferSection>,
    /// Nothing received for this long while the broker reports a lag for the subscription
    /// (`danube.metrics_url`) marks the connector stalled; 0 turns the check off.
    #[serde(default = "default_stall_after")]
    pub stall_after_ms: u64,
}

fn default_concurrency() -> usize {
    1
}

fn default_stall_after() -> u64 {
    30_000
}

fn default_subscription_type() -> SubscriptionType {
    SubscriptionType::Exclusive
}

/// `[sink] buffer = { kind = "disk", path = "…", max_bytes = … }`: messages are taken from
/// Danube at the broker's pace, acknowledged once durable in a local file, and delivered from
/// there, so the subscription never falls behind while the buffer has room.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BufferSection {
    pub kind: BufferKind,
    /// The buffer file; defaults to `<config dir>/<connector name>.buffer.redb`.
    pub path: Option<PathBuf>,
    /// Most bytes of messages held; when full the host stops taking from Danube.
    #[serde(default = "default_buffer_bytes")]
    pub max_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BufferKind {
    /// A redb file, written in fsync'd groups.
    Disk,
}

fn default_buffer_bytes() -> u64 {
    1 << 30
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DispatchStrategy {
    Reliable,
    NonReliable,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// Where records without a topic of their own are published.
    pub topic: String,
    /// Partitions of every topic this connector creates (0: not partitioned), unless the
    /// connector sets its own per topic.
    #[serde(default)]
    pub partitions: usize,
    #[serde(default = "default_dispatch")]
    pub dispatch_strategy: DispatchStrategy,
    /// Longest a `poll` waits for its first record while nothing is in flight.
    #[serde(default = "default_poll_interval")]
    pub poll_interval_ms: u64,
    /// Producers publishing to each topic in parallel; records are spread by key hash, so
    /// records with the same key keep their order.
    #[serde(default = "default_producers")]
    pub producers_per_topic: usize,
    /// Publish records without a key through one producer, in the order polled. Off, they
    /// are spread over every producer of the topic (faster, no order among them).
    #[serde(default = "default_true")]
    pub keep_unkeyed_order: bool,
    /// Sends each producer keeps in flight at once, records with the same key never together
    /// (nor records without one while their order is kept). With one producer per topic,
    /// which keeps the topic's whole order, sends go one at a time.
    #[serde(default = "default_sends_in_flight")]
    pub sends_in_flight: usize,
    /// Records polled but not yet persisted by Danube; polling waits while this many are in
    /// flight (backpressure).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// The schema-registry subject records are published under; validated before publishing.
    pub schema: Option<SchemaSpec>,
}

/// `[source.schema]`: register `file` under `subject` (or use the subject's latest or pinned
/// version), publish every record with that reference, and dead-letter records that do not
/// match it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaSpec {
    pub subject: String,
    /// The schema's type; needed with `file`, else taken from the registry.
    #[serde(rename = "type")]
    pub kind: Option<SchemaKind>,
    /// The definition to register (JSON Schema or Avro JSON), relative to this file.
    pub file: Option<PathBuf>,
    /// Use this version of the subject instead of its latest (without `file`).
    pub version: Option<u32>,
    /// Check every record against the schema; a record that does not match is dead-lettered.
    #[serde(default = "default_true")]
    pub validate: bool,
    /// Set the subject's compatibility mode before registering.
    pub compatibility: Option<Compatibility>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchemaKind {
    JsonSchema,
    Avro,
    Protobuf,
    String,
    Number,
    Bytes,
}

impl SchemaKind {
    /// The registry's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::JsonSchema => "json_schema",
            Self::Avro => "avro",
            Self::Protobuf => "protobuf",
            Self::String => "string",
            Self::Number => "number",
            Self::Bytes => "bytes",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "json_schema" | "jsonschema" | "json" => Self::JsonSchema,
            "avro" => Self::Avro,
            "protobuf" | "proto" => Self::Protobuf,
            "string" => Self::String,
            "number" => Self::Number,
            "bytes" => Self::Bytes,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    None,
    Backward,
    Forward,
    Full,
}

fn default_dispatch() -> DispatchStrategy {
    DispatchStrategy::Reliable
}

fn default_poll_interval() -> u64 {
    100
}

fn default_producers() -> usize {
    4
}

fn default_true() -> bool {
    true
}

fn default_sends_in_flight() -> usize {
    16
}

fn default_max_in_flight() -> usize {
    5_000
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSection {
    /// Most messages handed to the connector in one `process` call.
    pub batch_size: usize,
    /// Longest time spent gathering one batch.
    pub batch_timeout_ms: u64,
    /// How long to wait for more messages once the inbound queue is empty before flushing.
    /// 0 flushes at once: the broker bounds un-acked messages per subscription, so waiting
    /// for a full batch can stall.
    pub linger_ms: u64,
    /// Attempts after the first for a retryable failure before the message is dead-lettered.
    pub max_retries: u32,
    pub retry_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Where bad messages go; defaults to `<source topic>-dlq`.
    pub dead_letter_topic: Option<String>,
    /// Linear memory a connector instance may grow to.
    pub memory_limit_mb: u64,
    /// CPU time one guest call may take before it is interrupted.
    pub call_deadline_ms: u64,
    /// How often an instance may trap on the same message before the message is dead-lettered.
    pub max_guest_traps: u32,
    /// First and last delay between instance restarts while a guest keeps trapping
    /// (crash-loop backoff, doubling per consecutive trap).
    pub restart_backoff_ms: u64,
    pub restart_max_backoff_ms: u64,
    /// What a fatal connector error does: `stop` the connector (a single-connector host then
    /// exits with 1), or `restart` it after the crash-loop backoff.
    pub on_fatal: OnFatal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFatal {
    #[default]
    Stop,
    Restart,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        Self {
            batch_size: 500,
            batch_timeout_ms: 50,
            linger_ms: 0,
            max_retries: 10,
            retry_backoff_ms: 100,
            max_backoff_ms: 30_000,
            dead_letter_topic: None,
            memory_limit_mb: 128,
            call_deadline_ms: 30_000,
            max_guest_traps: 3,
            restart_backoff_ms: 100,
            restart_max_backoff_ms: 30_000,
            on_fatal: OnFatal::Stop,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    pub enabled: bool,
    pub bind: SocketAddr,
    /// Bearer token the admin API (`/connectors`) requires; without one, the admin API only
    /// changes anything when the listener is bound to a loopback address.
    pub admin_token: Option<String>,
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: SocketAddr::from(([127, 0, 0, 1], 9464)),
            admin_token: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl SinkSection {
    /// The consumer name this host subscribes with (see `consumer_name`); `host` is the
    /// machine's or pod's name, when known.
    pub fn consumer_name_for(&self, connector: &str, host: Option<&str>) -> String {
        match (&self.consumer_name, self.subscription_type, host) {
            (Some(name), _, _) => name.clone(),
            (None, SubscriptionType::Exclusive, _) | (None, _, None) => connector.to_string(),
            (None, _, Some(host)) => format!("{connector}-{host}"),
        }
    }
}

/// This machine's (or pod's) name: `HOSTNAME`, else the kernel's.
pub fn host_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

impl ConnectorConfig {
    /// A path from the file, resolved against the file's folder.
    pub fn resolve(&self, p: &std::path::Path) -> PathBuf {
        if p.is_absolute() {
            return p.to_path_buf();
        }
        self.path
            .parent()
            .map(|dir| dir.join(p))
            .unwrap_or_else(|| p.to_path_buf())
    }

    /// The `[config]` table as the JSON handed to the connector's `open`.
    pub fn guest_config_json(&self) -> String {
        serde_json::to_string(&self.config).unwrap_or_else(|_| "{}".into())
    }
}
