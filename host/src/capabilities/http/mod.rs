//! Outgoing HTTP for connectors (`wasi:http/outgoing-handler`), granted by
//! `[capabilities.http]`, limited to its `allowed_hosts` and sent through one pooled client per
//! connector with real timeouts.

mod client;
mod hooks;
mod proxy;

pub use super::allowed_hosts::{AllowList, HostPattern};
pub use client::PooledClient;
pub use hooks::HttpCapability;
pub use proxy::ProxySetting;

use super::tls::{self, Roots};
use super::{Capability, CapabilityHost, ConnectorContext, GrantKeyError, Granting};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime_wasi_http::WasiHttpCtx;

/// `[capabilities.http]`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpGrant {
    /// `scheme://host:port` patterns; `*` matches any host label run or any port.
    pub allowed_hosts: Vec<String>,
    /// Ceiling for connect and response timeouts; a guest may ask for less.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Idle keep-alive connections kept per host.
    #[serde(default = "default_pool")]
    pub max_idle_per_host: usize,
    /// PEM file of a CA trusted for HTTPS endpoints, beside the public web's.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate and key the host presents to HTTPS endpoints (mutual TLS).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// `http://host:port` of a proxy for every request; `"none"` for none. Absent: the
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment.
    pub proxy: Option<String>,
    /// Hosts reached without the `proxy` (comma-separated, as `NO_PROXY`).
    #[serde(default)]
    pub no_proxy: String,
}

impl HttpGrant {
    fn proxy_setting(&self) -> ProxySetting {
        match self.proxy.as_deref() {
            None => ProxySetting::FromEnvironment,
            Some("none") => ProxySetting::Off,
            Some(url) => ProxySetting::Explicit {
                url: url.to_owned(),
                no_proxy: self.no_proxy.clone(),
            },
        }
    }
}

fn default_timeout() -> u64 {
    30_000
}

fn default_pool() -> usize {
    32
}

/// What one instance holds: the wasi-http context and the send hook.
pub struct HttpInstance {
    pub ctx: WasiHttpCtx,
    pub hooks: HttpCapability,
}

/// What a connector's instances share: its name and, when granted, the allow-list and pool.
pub struct HttpShared {
    connector: Arc<str>,
    granted: Option<(AllowList, PooledClient)>,
}

pub struct Http;

impl Capability for Http {
    const NAME: &'static str = "http";
    const IMPORTS: &'static [&'static str] = &["wasi:http/"];
    const GRANTING: Granting = Granting::BySection;
    type Grant = HttpGrant;
    type Shared = HttpShared;
    type Instance = HttpInstance;

    fn validate(grant: &HttpGrant) -> Result<(), GrantKeyError> {
        for (i, p) in grant.allowed_hosts.iter().enumerate() {
            HostPattern::parse(p)
                .map_err(|m| GrantKeyError::new(format!("allowed_hosts[{i}]"), m))?;
        }
        if grant.client_cert_file.is_some() != grant.client_key_file.is_some() {
            return Err(GrantKeyError::new(
                "client_key_file",
                "client_cert_file and client_key_file go together",
            ));
        }
        if let Some(proxy) = grant.proxy.as_deref()
            && proxy != "none"
            && proxy
                .parse::<http::Uri>()
                .map_or(true, |u| u.host().is_none())
        {
            return Err(GrantKeyError::new(
                "proxy",
                format!("expected http://host:port or \"none\", got \"{proxy}\""),
            ));
        }
        Ok(())
    }

    /// wasi-http reaches its state through the store's `WasiHttpView`, which hands out
    /// this unit's [`HttpInstance`].
    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        _get: fn(&mut T) -> &mut HttpInstance,
    ) -> wasmtime::Result<()> {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
    }

    fn open(grant: Option<&HttpGrant>, connector: &ConnectorContext) -> anyhow::Result<HttpShared> {
        let granted = match grant {
            Some(g) => {
                let ca = g.ca_file.as_deref().map(|p| connector.resolve(p));
                let cert = g.client_cert_file.as_deref().map(|p| connector.resolve(p));
                let key = g.client_key_file.as_deref().map(|p| connector.resolve(p));
                let pair = cert.as_deref().zip(key.as_deref());
                let tls = tls::client_config(ca.as_deref(), Roots::PublicAndFile, pair)
                    .map_err(|e| anyhow::anyhow!("capabilities.http: {e}"))?;
                let client = PooledClient::new(
                    Duration::from_millis(g.timeout_ms),
                    g.max_idle_per_host,
                    tls,
                    &g.proxy_setting(),
                );
                Some((
                    AllowList::parse(&g.allowed_hosts).map_err(anyhow::Error::msg)?,
                    client,
                ))
            }
            None => None,
        };
        Ok(HttpShared {
            connector: connector.name.clone(),
            granted,
        })
    }

    fn instance(shared: &HttpShared) -> HttpInstance {
        let hooks = match &shared.granted {
            Some((allow, client)) => HttpCapability {
                connector: shared.connector.clone(),
                allow: allow.clone(),
                client: Some(client.clone()),
            },
            None => HttpCapability::denied(shared.connector.clone()),
        };
        HttpInstance {
            ctx: WasiHttpCtx::new(),
            hooks,
        }
    }
}
