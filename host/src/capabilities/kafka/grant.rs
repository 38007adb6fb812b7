//! `[capabilities.kafka]`: which brokers a connector may reach, and the TLS it uses there.

use super::super::GrantKeyError;
use super::super::allowed_hosts::{HostPattern, KAFKA_SCHEMES};
pub use super::super::tls::TlsMode;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaGrant {
    /// `host`, `host:port` or `kafka://host:port` patterns; `*` matches any host label run or
    /// any port, a missing port means 9092. Bootstrap brokers and every broker the cluster
    /// advertises must match.
    pub allowed_brokers: Vec<String>,
    /// `verify-full`: TLS to every broker, certificate chain and host name verified.
    #[serde(default)]
    pub tls: TlsMode,
    /// PEM file of the CA that signs the brokers' certificates; the system's roots when absent.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate and key the host presents to the brokers (mutual TLS).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

pub(super) fn validate(grant: &KafkaGrant) -> Result<(), GrantKeyError> {
    for (i, p) in grant.allowed_brokers.iter().enumerate() {
        HostPattern::parse_for(&with_scheme(p), KAFKA_SCHEMES)
            .map_err(|m| GrantKeyError::new(format!("allowed_brokers[{i}]"), m))?;
    }
    if grant.client_cert_file.is_some() != grant.client_key_file.is_some() {
        return Err(GrantKeyError::new(
            "client_key_file",
            "client_cert_file and client_key_file go together",
        ));
    }
    if grant.tls == TlsMode::Disable
        && (grant.client_cert_file.is_some() || grant.ca_file.is_some())
    {
        let key = if grant.ca_file.is_some() {
            "ca_file"
        } else {
            "client_cert_file"
        };
        return Err(GrantKeyError::new(
            key,
            "certificates need tls = \"verify-full\"",
        ));
    }
    Ok(())
}

/// Patterns may leave out the scheme: there is only one.
pub(super) fn with_scheme(pattern: &str) -> String {
    if pattern.contains("://") {
        pattern.to_string()
    } else {
        format!("kafka://{pattern}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(toml: &str) -> KafkaGrant {
        toml::from_str(toml).expect("grant")
    }

    #[test]
    fn patterns_with_and_without_a_scheme_are_accepted() {
        let g = grant(r#"allowed_brokers = ["127.0.0.1:*", "kafka://*.corp:9093", "broker"]"#);
        assert!(validate(&g).is_ok());
        assert_eq!(g.tls, TlsMode::Disable);
    }

    #[test]
    fn a_bad_pattern_names_its_index() {
        let g = grant(r#"allowed_brokers = ["ok:9092", "http://x:1"]"#);
        assert_eq!(validate(&g).expect_err("http").key, "allowed_brokers[1]");
        let g = grant(r#"allowed_brokers = ["b:port"]"#);
        assert_eq!(validate(&g).expect_err("port").key, "allowed_brokers[0]");
    }

    #[test]
    fn certificates_need_tls() {
        let g = grant("allowed_brokers = [\"b\"]\nca_file = \"ca.pem\"");
        assert_eq!(validate(&g).expect_err("no tls").key, "ca_file");
        let g = grant("allowed_brokers = [\"b\"]\ntls = \"verify-full\"\nclient_cert_file = \"c\"");
        assert_eq!(validate(&g).expect_err("no key").key, "client_key_file");
    }
}
