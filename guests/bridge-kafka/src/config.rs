//! The connector's settings (`[config]` of each entry). Both directions read the same keys;
//! each checks the ones it needs. Every key is described in `README.md`; errors name the key.

use crate::routes::{RawRoute, Routes, Target};
use danube_connect_sdk::kafka::{
    ClientOptions, Compression, ConsumerOptions, OffsetReset, ProducerOptions, Sasl, SaslMechanism,
};
use danube_connect_sdk::{Error, Names};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `host:port` list, or one comma-separated string (what an environment variable gives).
    pub brokers: Names,
    pub client_id: Option<String>,
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
    /// librdkafka tuning properties (the host refuses security and delivery keys).
    #[serde(default)]
    pub properties: BTreeMap<String, Scalar>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u32,
    /// Marks what the bridge wrote, so the other direction never sends it back.
    #[serde(default = "default_provenance")]
    pub provenance_header: String,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Import: the consumer group, and the Kafka topics (names, or patterns starting `^`).
    pub group_id: Option<String>,
    #[serde(default)]
    pub topics: Names,
    #[serde(default)]
    pub offset_reset: Reset,
    /// Import without `routes`: `/<namespace>/<prefix><kafka topic>`.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Without `routes`: put before every mapped name (both directions).
    #[serde(default)]
    pub prefix: String,
    #[serde(default = "default_lag_interval")]
    pub lag_interval_ms: u32,
    /// Export: record compression and how long Kafka may take to acknowledge a record.
    #[serde(default)]
    pub compression: CompressionName,
    #[serde(default = "default_delivery_timeout")]
    pub delivery_timeout_ms: u32,
}

/// A property value as TOML gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Number(i64),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    #[default]
    Earliest,
    Latest,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompressionName {
    None,
    Gzip,
    Snappy,
    #[default]
    Lz4,
    Zstd,
}

fn default_connect_timeout() -> u32 {
    10_000
}

fn default_provenance() -> String {
    "danube.bridge.origin".into()
}

fn default_namespace() -> String {
    "default".into()
}

fn default_lag_interval() -> u32 {
    5_000
}

fn default_delivery_timeout() -> u32 {
    20_000
}

/// What both directions share.
pub struct Common {
    pub client: ClientOptions,
    pub provenance: String,
}

pub struct ImportSettings {
    pub common: Common,
    pub consumer: ConsumerOptions,
    pub routes: Routes,
    pub lag_interval_ms: u32,
}

pub struct ExportSettings {
    pub common: Common,
    pub producer: ProducerOptions,
    pub routes: Routes,
}

impl RawConfig {
    fn common(&mut self) -> Result<Common, Error> {
        let brokers = std::mem::take(&mut self.brokers).into_vec();
        if brokers.is_empty() {
            return Err(Error::config("brokers: give at least one host:port"));
        }
        let mut client = ClientOptions::new(brokers);
        client.client_id = self.client_id.take();
        client.timeout_ms = self.connect_timeout_ms;
        client.properties = self
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.text()))
            .collect();
        client.sasl = match self.sasl_mechanism.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => {
                let mechanism = match m.to_ascii_uppercase().as_str() {
                    "PLAIN" => SaslMechanism::Plain,
                    "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
                    "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
                    _ => {
                        return Err(Error::config(format!(
                            "sasl_mechanism: \"{m}\" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                        )));
                    }
                };
                let (Some(username), Some(password)) =
                    (self.sasl_username.take(), self.sasl_password.take())
                else {
                    return Err(Error::config(
                        "sasl_username and sasl_password: both are needed with sasl_mechanism",
                    ));
                };
                Some(Sasl {
                    mechanism,
                    username,
                    password,
                })
            }
        };
        if self.provenance_header.trim().is_empty() {
            return Err(Error::config("provenance_header: empty"));
        }
        Ok(Common {
            client,
            provenance: self.provenance_header.clone(),
        })
    }

    pub fn import(mut self) -> Result<ImportSettings, Error> {
        let common = self.common()?;
        let group_id = self
            .group_id
            .take()
            .filter(|g| !g.trim().is_empty())
            .ok_or_else(|| Error::config("group_id: the import needs a consumer group"))?;
        let topics = std::mem::take(&mut self.topics).into_vec();
        if topics.is_empty() {
            return Err(Error::config(
                "topics: the import needs Kafka topics (names, or patterns starting with ^)",
            ));
        }
        let mut consumer = ConsumerOptions::new(group_id, topics);
        consumer.offset_reset = match self.offset_reset {
            Reset::Earliest => OffsetReset::Earliest,
            Reset::Latest => OffsetReset::Latest,
        };
        let fallback = format!("/{}/{}${{topic}}", self.namespace, self.prefix);
        let routes = Routes::new(self.routes, fallback, Target::Danube).map_err(Error::config)?;
        Ok(ImportSettings {
            common,
            consumer,
            routes,
            lag_interval_ms: self.lag_interval_ms,
        })
    }

    pub fn export(mut self) -> Result<ExportSettings, Error> {
        let common = self.common()?;
        let producer = ProducerOptions {
            compression: match self.compression {
                CompressionName::None => Compression::None,
                CompressionName::Gzip => Compression::Gzip,
                CompressionName::Snappy => Compression::Snappy,
                CompressionName::Lz4 => Compression::Lz4,
                CompressionName::Zstd => Compression::Zstd,
            },
            delivery_timeout_ms: self.delivery_timeout_ms,
        };
        let fallback = format!("{}${{name}}", self.prefix);
        let routes = Routes::new(self.routes, fallback, Target::Kafka).map_err(Error::config)?;
        Ok(ExportSettings {
            common,
            producer,
            routes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use danube_connect_sdk::Config;

    fn raw(json: &str) -> RawConfig {
        Config::new(json).parse().expect("parses")
    }

    #[test]
    fn environment_strings_become_lists() {
        let Ok(s) = raw(r#"{"brokers": "a:9092, b:9092", "group_id": "g", "topics": "x,^y\\..*"}"#)
            .import()
        else {
            panic!("valid");
        };
        assert_eq!(s.common.client.brokers, ["a:9092", "b:9092"]);
        assert_eq!(s.consumer.topics, ["x", r"^y\..*"]);
    }

    #[test]
    fn the_import_needs_a_group_and_topics() {
        let e = raw(r#"{"brokers": "a:9092", "topics": "x"}"#)
            .import()
            .err()
            .expect("no group");
        assert!(e.message().starts_with("group_id"), "{}", e.message());
        let e = raw(r#"{"brokers": "a:9092", "group_id": "g"}"#)
            .import()
            .err()
            .expect("no topics");
        assert!(e.message().starts_with("topics"), "{}", e.message());
        assert!(
            raw(r#"{"brokers": "a:9092"}"#).export().is_ok(),
            "export needs neither"
        );
    }

    #[test]
    fn sasl_needs_its_credentials() {
        let e =
            raw(r#"{"brokers": "a:1", "sasl_mechanism": "scram-sha-512", "sasl_username": "u"}"#)
                .export()
                .err()
                .expect("no password");
        assert!(e.message().contains("sasl_password"), "{}", e.message());
        let e = raw(r#"{"brokers": "a:1", "sasl_mechanism": "kerberos"}"#)
            .export()
            .err()
            .expect("bad");
        assert!(e.message().starts_with("sasl_mechanism"), "{}", e.message());
    }

    #[test]
    fn an_invalid_route_is_a_config_error() {
        let e = raw(r#"{"brokers": "a:1", "routes": [{"match": "(", "to": "x"}]}"#)
            .export()
            .err()
            .expect("bad regex");
        assert!(
            e.message().starts_with("routes[0].match"),
            "{}",
            e.message()
        );
    }
}
