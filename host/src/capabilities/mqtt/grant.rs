//! `[capabilities.mqtt]`: which brokers a connector may reach, and the TLS it uses there.

use super::super::GrantKeyError;
use super::super::allowed_hosts::{HostPattern, MQTT_SCHEMES};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttGrant {
    /// `mqtt://host:port` / `mqtts://host:port` patterns; `*` matches any host label run or
    /// any port.
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
    Ok(())
}
