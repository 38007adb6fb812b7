//! What one connector's grant allows, prepared once and shared by its instances.

use super::grant::{PostgresGrant, TlsMode, with_scheme};
use crate::capabilities::allowed_hosts::{AllowList, POSTGRES_SCHEMES};
use crate::capabilities::tls::{self, GrantFiles, Roots};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct PostgresAccess {
    allow: AllowList,
    pub(super) tls: Option<Tls>,
    pub(super) max_buffered: usize,
}

/// TLS as the grant sets it: one rustls configuration for SQL sessions and the same files
/// for replication sessions, whose client builds its own.
pub(super) struct Tls {
    pub config: Arc<rustls::ClientConfig>,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl PostgresAccess {
    /// `resolve` turns paths from the config into paths relative to its file.
    pub fn new(grant: &PostgresGrant, resolve: impl Fn(&Path) -> PathBuf) -> Result<Self, String> {
        let patterns: Vec<String> = grant.allowed_hosts.iter().map(|p| with_scheme(p)).collect();
        let allow = AllowList::parse_for(&patterns, POSTGRES_SCHEMES)?;
        let tls = match grant.tls {
            TlsMode::Disable => None,
            TlsMode::VerifyFull => {
                let GrantFiles {
                    ca_file,
                    client_cert,
                } = GrantFiles::resolve(
                    grant.ca_file.as_deref(),
                    grant.client_cert_file.as_deref(),
                    grant.client_key_file.as_deref(),
                    resolve,
                );
                let pair = client_cert
                    .as_ref()
                    .map(|(c, k)| (c.as_path(), k.as_path()));
                let config = tls::client_config(ca_file.as_deref(), Roots::FileOrPublic, pair)
                    .map_err(|e| format!("capabilities.postgres: {e}"))?;
                Some(Tls {
                    config,
                    ca_file,
                    client_cert,
                })
            }
        };
        Ok(Self {
            allow,
            tls,
            max_buffered: grant.max_buffered,
        })
    }

    /// For tests and tools: any server, no TLS.
    pub fn allow_all() -> Self {
        Self {
            allow: AllowList::parse_for(&["postgres://*:*".into()], POSTGRES_SCHEMES)
                .unwrap_or_default(),
            tls: None,
            max_buffered: 10_000,
        }
    }

    pub(super) fn allows(&self, host: &str, port: u16) -> bool {
        self.allow.allows_addr("postgres", host, Some(port))
    }
}
