//! `[capabilities.postgres]`: which servers a connector may reach, and the TLS it uses there.

use super::super::GrantKeyError;
use super::super::allowed_hosts::{HostPattern, POSTGRES_SCHEMES};
pub use super::super::tls::TlsMode;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresGrant {
    /// `host`, `host:port` or `postgres://host:port` patterns; `*` matches any host label run
    /// or any port, a missing port means 5432.
    pub allowed_hosts: Vec<String>,
    /// How sessions use TLS; `verify-full` checks the server's certificate chain and name.
    #[serde(default)]
    pub tls: TlsMode,
    /// PEM file of the CA that signs the server's certificate; the public web roots when
    /// absent.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate and key the host presents to the server (certificate authentication).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// Replication events received and not yet taken by the connector, per session; past
    /// this the host stops reading (and keeps answering the server's keepalives).
    #[serde(default = "default_buffer")]
    pub max_buffered: usize,
}

fn default_buffer() -> usize {
    10_000
}

pub(super) fn validate(grant: &PostgresGrant) -> Result<(), GrantKeyError> {
    for (i, p) in grant.allowed_hosts.iter().enumerate() {
        HostPattern::parse_for(&with_scheme(p), POSTGRES_SCHEMES)
            .map_err(|m| GrantKeyError::new(format!("allowed_hosts[{i}]"), m))?;
    }
    if grant.client_cert_file.is_some() != grant.client_key_file.is_some() {
        return Err(GrantKeyError::new(
            "client_key_file",
            "client_cert_file and client_key_file go together",
        ));
    }
    if grant.tls == TlsMode::Disable && grant.client_cert_file.is_some() {
        return Err(GrantKeyError::new(
            "client_cert_file",
            "a client certificate needs tls = \"verify-full\"",
        ));
    }
    if grant.max_buffered == 0 {
        return Err(GrantKeyError::new("max_buffered", "must be at least 1"));
    }
    Ok(())
}

/// Patterns may leave out the scheme: there is only one.
pub(super) fn with_scheme(pattern: &str) -> String {
    if pattern.contains("://") {
        pattern.to_string()
    } else {
        format!("postgres://{pattern}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(toml: &str) -> PostgresGrant {
        toml::from_str(toml).expect("grant")
    }

    #[test]
    fn patterns_with_and_without_a_scheme_are_accepted() {
        let g =
            grant(r#"allowed_hosts = ["db.internal", "127.0.0.1:*", "postgres://*.corp:6432"]"#);
        assert!(validate(&g).is_ok());
        assert_eq!(g.tls, TlsMode::Disable);
    }

    #[test]
    fn a_bad_pattern_names_its_index() {
        let g = grant(r#"allowed_hosts = ["ok", "http://x:1"]"#);
        let e = validate(&g).expect_err("http is not a postgres scheme");
        assert_eq!(e.key, "allowed_hosts[1]");
    }

    #[test]
    fn a_client_certificate_needs_tls() {
        let g = grant(
            r#"allowed_hosts = ["db"]
client_cert_file = "c.pem"
client_key_file = "k.pem""#,
        );
        assert_eq!(validate(&g).expect_err("no tls").key, "client_cert_file");
    }

    #[test]
    fn tls_modes_are_spelled_like_libpq() {
        let g = grant(
            r#"allowed_hosts = ["db"]
tls = "verify-full""#,
        );
        assert_eq!(g.tls, TlsMode::VerifyFull);
        assert!(
            toml::from_str::<PostgresGrant>("allowed_hosts = []\ntls = \"sometimes\"").is_err()
        );
    }
}
