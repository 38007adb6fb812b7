//! `danube:connect/mqtt`: MQTT clients for connectors granted `[capabilities.mqtt]`.
//!
//! The host owns the connection (pings, reconnects, TLS from the grant) and buffers what
//! arrives; the connector takes deliveries in batches and acknowledges each one only once it
//! is safe, so a crash before that leaves the message with the broker.

mod ack_ids;
mod driver;
mod grant;
mod host;
mod options;
mod server;
mod session;
mod v311;
mod v5;

pub use super::tls::TlsError;
pub use grant::{MqttGrant, ServerGrant};
pub use host::{MqttCapability, MqttClient};
pub use options::{ConnectSpec, Protocol};
pub use session::{Delivery, Session};

use super::allowed_hosts::{AllowList, MQTT_SCHEMES};
use super::tls::{self, Roots};
use super::{Capability, CapabilityHost, ConnectorContext, GrantKeyError, Granting};
use options::Broker;
use std::path::Path;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub struct Mqtt;

impl Capability for Mqtt {
    const NAME: &'static str = "mqtt";
    const IMPORTS: &'static [&'static str] = &["danube:connect/mqtt"];
    const GRANTING: Granting = Granting::BySection;
    type Grant = MqttGrant;
    /// The connector's name and, when granted, its access (allow-list, TLS, buffer bound).
    type Shared = (Arc<str>, Option<Arc<MqttAccess>>);
    type Instance = MqttCapability;

    fn validate(grant: &MqttGrant) -> Result<(), GrantKeyError> {
        grant::validate(grant)
    }

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut MqttCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::mqtt::add_to_linker::<T, HasSelf<MqttCapability>>(
            linker, get,
        )
    }

    fn open(
        grant: Option<&MqttGrant>,
        connector: &ConnectorContext,
    ) -> anyhow::Result<Self::Shared> {
        let access = match grant {
            Some(g) => Some(Arc::new(
                MqttAccess::new(connector.name.clone(), g, |p| connector.resolve(p))
                    .map_err(anyhow::Error::msg)?,
            )),
            None => None,
        };
        Ok((connector.name.clone(), access))
    }

    fn instance((name, access): &Self::Shared) -> MqttCapability {
        MqttCapability::new(name.clone(), access.clone())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum MqttError {
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Connection(String),
    #[error("{0}")]
    Invalid(String),
}

/// What one connector's grant allows, prepared once and shared by its instances.
pub struct MqttAccess {
    pub connector: Arc<str>,
    allow: AllowList,
    tls: Option<Arc<rustls::ClientConfig>>,
    max_buffered: usize,
    /// Server mode: the embedded server that answers every `connect`.
    server: Option<Arc<server::Server>>,
}

impl MqttAccess {
    /// `resolve` turns paths from the config into paths relative to its file.
    pub fn new(
        connector: Arc<str>,
        grant: &MqttGrant,
        resolve: impl Fn(&Path) -> std::path::PathBuf,
    ) -> Result<Self, String> {
        let allow = AllowList::parse_for(&grant.allowed_brokers, MQTT_SCHEMES)?;
        let needs_tls = grant
            .allowed_brokers
            .iter()
            .any(|p| !p.starts_with("mqtt://"));
        let tls = if needs_tls || grant.ca_file.is_some() {
            let ca = grant.ca_file.as_deref().map(&resolve);
            let cert = grant.client_cert_file.as_deref().map(&resolve);
            let key = grant.client_key_file.as_deref().map(&resolve);
            let pair = cert.as_deref().zip(key.as_deref());
            Some(
                tls::client_config(ca.as_deref(), Roots::FileOrPublic, pair)
                    .map_err(|e| format!("capabilities.mqtt: {e}"))?,
            )
        } else {
            None
        };
        let server = match &grant.server {
            Some(s) => Some(Arc::new(server::Server::new(
                connector.clone(),
                s,
                grant.max_buffered,
                &resolve,
            )?)),
            None => None,
        };
        Ok(Self {
            connector,
            allow,
            tls,
            max_buffered: grant.max_buffered,
            server,
        })
    }

    /// For tests and tools: any broker, no TLS.
    pub fn allow_all(connector: &str) -> Self {
        Self {
            connector: connector.into(),
            allow: AllowList::parse_for(&["mqtt://*:*".into()], MQTT_SCHEMES).unwrap_or_default(),
            tls: None,
            max_buffered: 10_000,
            server: None,
        }
    }

    /// The same access with another buffer bound.
    pub fn with_max_buffered(self, max_buffered: usize) -> Self {
        Self {
            max_buffered,
            ..self
        }
    }

    /// The embedded server, in server mode.
    fn server(&self) -> Option<&Arc<server::Server>> {
        self.server.as_ref()
    }

    fn allows(&self, broker: &Broker) -> bool {
        self.allow
            .allows_addr(&broker.scheme, &broker.host, Some(broker.port))
    }
}
