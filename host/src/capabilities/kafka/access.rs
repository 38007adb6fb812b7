//! What one connector's grant allows, prepared once and shared by its instances.

use super::grant::{KafkaGrant, TlsMode, with_scheme};
use crate::capabilities::allowed_hosts::{AllowList, KAFKA_SCHEMES};
use crate::capabilities::tls::GrantFiles;
use std::path::{Path, PathBuf};

const DEFAULT_PORT: u16 = 9092;

pub struct KafkaAccess {
    allow: AllowList,
    /// The grant's certificate files; librdkafka (OpenSSL) reads them itself.
    pub(super) tls: Option<GrantFiles>,
}

impl KafkaAccess {
    /// `resolve` turns paths from the config into paths relative to its file.
    pub fn new(grant: &KafkaGrant, resolve: impl Fn(&Path) -> PathBuf) -> Result<Self, String> {
        let patterns: Vec<String> = grant
            .allowed_brokers
            .iter()
            .map(|p| with_scheme(p))
            .collect();
        let allow = AllowList::parse_for(&patterns, KAFKA_SCHEMES)?;
        let tls = match grant.tls {
            TlsMode::Disable => None,
            TlsMode::VerifyFull => {
                let files = GrantFiles::resolve(
                    grant.ca_file.as_deref(),
                    grant.client_cert_file.as_deref(),
                    grant.client_key_file.as_deref(),
                    resolve,
                );
                let paths = files
                    .ca_file
                    .iter()
                    .chain(files.client_cert.iter().flat_map(|(c, k)| [c, k]));
                for path in paths {
                    if !path.is_file() {
                        return Err(format!(
                            "capabilities.kafka: cannot read {}",
                            path.display()
                        ));
                    }
                }
                Some(files)
            }
        };
        Ok(Self { allow, tls })
    }

    /// A broker address (`host:port`, `[v6]:port`, or a bare host meaning port 9092) the
    /// grant allows, or why not.
    pub fn check_broker(&self, broker: &str, connector: &str) -> Result<(), String> {
        let (host, port) = split_broker(broker)?;
        if self.allow.allows_addr("kafka", &host, Some(port)) {
            Ok(())
        } else {
            Err(format!(
                "Kafka broker {host}:{port} is not granted to connector {connector}: add it to \
                 [capabilities.kafka] allowed_brokers"
            ))
        }
    }
}

/// `host:port` into its parts; librdkafka's broker names may carry a `proto://` prefix and a
/// `/id` suffix (`ssl://b1:9093/1`).
pub(super) fn split_broker(broker: &str) -> Result<(String, u16), String> {
    let bad =
        |why: &str| format!("\"{broker}\" is not a broker address ({why}); expected host:port");
    let s = broker.split_once("://").map_or(broker, |(_, rest)| rest);
    let s = s.split_once('/').map_or(s, |(addr, _)| addr);
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(bad("text after ]")),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("port must be a number"))?,
        None => DEFAULT_PORT,
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(patterns: &[&str]) -> KafkaAccess {
        let grant = KafkaGrant {
            allowed_brokers: patterns.iter().map(|s| s.to_string()).collect(),
            tls: TlsMode::Disable,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
        };
        KafkaAccess::new(&grant, Path::to_path_buf).expect("grant")
    }

    #[test]
    fn broker_addresses_parse_like_librdkafka_names() {
        assert_eq!(split_broker("b1:9093").unwrap(), ("b1".into(), 9093));
        assert_eq!(split_broker("B1").unwrap(), ("b1".into(), 9092));
        assert_eq!(
            split_broker("ssl://b1:9093/1").unwrap(),
            ("b1".into(), 9093)
        );
        assert_eq!(split_broker("[::1]:19092").unwrap(), ("::1".into(), 19092));
        assert!(split_broker("b1:port").is_err());
        assert!(split_broker(":9092").is_err());
    }

    #[test]
    fn only_granted_brokers_pass() {
        let a = access(&["127.0.0.1:*", "*.kafka.corp:9092"]);
        assert!(a.check_broker("127.0.0.1:39092", "c").is_ok());
        assert!(a.check_broker("b1.kafka.corp", "c").is_ok());
        let e = a.check_broker("b1.kafka.corp:9093", "c").expect_err("port");
        assert!(
            e.contains("b1.kafka.corp:9093") && e.contains("allowed_brokers"),
            "{e}"
        );
        assert!(a.check_broker("10.0.0.1:9092", "c").is_err());
    }
}
