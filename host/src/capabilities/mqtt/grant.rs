//! `[capabilities.mqtt]`: which brokers a connector may reach and the TLS it uses there, or
//! (`[capabilities.mqtt.server]`) the embedded server devices publish to instead.

use super::super::GrantKeyError;
use super::super::allowed_hosts::{HostPattern, MQTT_SCHEMES};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttGrant {
    /// `mqtt://host:port` / `mqtts://host:port` patterns; `*` matches any host label run or
    /// any port.
    #[serde(default)]
    pub allowed_brokers: Vec<String>,
    /// PEM file of the CA that signs `mqtts` brokers' certificates; the public web roots
    /// when absent.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate and key the host presents to `mqtts` brokers (mutual TLS).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// Messages received and not yet taken by the connector, per client; past this the host
    /// stops reading from the socket, so the broker holds the rest.
    #[serde(default = "default_buffer")]
    pub max_buffered: usize,
    /// Run an MQTT server for devices instead of connecting to a broker: every `connect` of
    /// the connector is answered by it.
    pub server: Option<ServerGrant>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerGrant {
    /// `address:port` to listen on, e.g. `0.0.0.0:1883`.
    pub bind: String,
    /// PEM chain and key: with both, the server speaks MQTT over TLS only.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Who may connect; anyone when empty.
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Largest packet a device may send; a larger one closes its connection (MQTT 5: with
    /// reason 0x95, and the limit is announced in CONNACK).
    #[serde(default = "default_max_packet")]
    pub max_packet_bytes: usize,
    /// MQTT 5: QoS 1/2 messages a device may have unacknowledged at once (CONNACK).
    #[serde(default = "default_receive_maximum")]
    pub receive_maximum: u16,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    /// Use `${VAR}` to keep it out of the file.
    pub password: String,
}

impl ServerGrant {
    pub fn address(&self) -> Result<std::net::SocketAddr, String> {
        self.bind
            .parse()
            .map_err(|e| format!("\"{}\" is not an address:port ({e})", self.bind))
    }
}

fn default_max_connections() -> usize {
    10_000
}

fn default_max_packet() -> usize {
    1 << 20
}

fn default_receive_maximum() -> u16 {
    100
}

fn default_buffer() -> usize {
    10_000
}

pub(super) fn validate(grant: &MqttGrant) -> Result<(), GrantKeyError> {
    for (i, p) in grant.allowed_brokers.iter().enumerate() {
        HostPattern::parse_for(p, MQTT_SCHEMES)
            .map_err(|m| GrantKeyError::new(format!("allowed_brokers[{i}]"), m))?;
    }
    if grant.client_cert_file.is_some() != grant.client_key_file.is_some() {
        return Err(GrantKeyError::new(
            "client_key_file",
            "client_cert_file and client_key_file go together",
        ));
    }
    if grant.max_buffered == 0 {
        return Err(GrantKeyError::new("max_buffered", "must be at least 1"));
    }
    match &grant.server {
        None if grant.allowed_brokers.is_empty() => Err(GrantKeyError::new(
            "allowed_brokers",
            "grant at least one broker, or run the embedded server ([capabilities.mqtt.server])",
        )),
        None => Ok(()),
        Some(server) => validate_server(server),
    }
}

fn validate_server(server: &ServerGrant) -> Result<(), GrantKeyError> {
    server
        .address()
        .map_err(|m| GrantKeyError::new("server.bind", m))?;
    if server.tls_cert_file.is_some() != server.tls_key_file.is_some() {
        return Err(GrantKeyError::new(
            "server.tls_key_file",
            "tls_cert_file and tls_key_file go together",
        ));
    }
    if server.max_connections == 0 {
        return Err(GrantKeyError::new(
            "server.max_connections",
            "must be at least 1",
        ));
    }
    if server.max_packet_bytes < 64 {
        return Err(GrantKeyError::new(
            "server.max_packet_bytes",
            "must be at least 64",
        ));
    }
    if server.receive_maximum == 0 {
        return Err(GrantKeyError::new(
            "server.receive_maximum",
            "must be at least 1",
        ));
    }
    Ok(())
}
