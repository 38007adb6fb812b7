//! What a connector asks to connect to, checked and turned into rumqttc options for MQTT
//! 3.1.1 or 5. Acknowledgements are always manual: the connector acks once a record is safe.

use super::MqttError;
use rumqttc::{TlsConfiguration, Transport};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V311,
    V5,
}

/// Connection settings, as the connector gave them.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    pub url: String,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub protocol: Protocol,
    pub clean_session: bool,
    pub keep_alive: Duration,
    pub session_expiry_secs: Option<u32>,
    pub receive_maximum: Option<u16>,
    pub timeout: Duration,
}

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Broker {
    pub fn tls(&self) -> bool {
        self.scheme == "mqtts"
    }
}

/// Large payloads pass; the guest's memory limit is the real bound.
const MAX_PACKET: usize = 16 << 20;
/// Room for the acks of a full buffer without waiting on the event loop (which the driver
/// keeps polling while acks are queued, so a smaller channel only slows a burst down).
fn request_capacity(max_buffered: usize) -> usize {
    max_buffered.clamp(64, 10_000)
}

pub fn parse_url(url: &str) -> Result<Broker, MqttError> {
    let bad = |why: &str| MqttError::Invalid(format!("\"{url}\" is not a broker URL: {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected mqtt://host:port or mqtts://host:port"))?;
    let default_port = match scheme {
        "mqtt" => 1883,
        "mqtts" => 8883,
        _ => return Err(bad("the scheme must be mqtt or mqtts")),
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') || rest.contains('@') {
        return Err(bad("no path or user info allowed"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (
            h,
            p.parse::<u16>()
                .map_err(|_| bad("the port must be a number"))?,
        ),
        _ => (rest, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(Broker {
        scheme: scheme.to_string(),
        host: host.to_ascii_lowercase(),
        port,
    })
}

pub fn check(spec: &ConnectSpec) -> Result<(), MqttError> {
    if spec.client_id.trim().is_empty() {
        return Err(MqttError::Invalid("the client id must not be empty".into()));
    }
    if spec.password.is_some() && spec.username.is_none() {
        return Err(MqttError::Invalid(
            "a password needs a user name as well".into(),
        ));
    }
    Ok(())
}

fn transport(
    broker: &Broker,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Transport, MqttError> {
    if !broker.tls() {
        return Ok(Transport::tcp());
    }
    let config = tls.ok_or_else(|| {
        MqttError::Invalid("mqtts needs a TLS configuration in [capabilities.mqtt]".into())
    })?;
    Ok(Transport::tls_with_config(TlsConfiguration::Rustls(
        config.clone(),
    )))
}

pub fn v311(
    spec: &ConnectSpec,
    broker: &Broker,
    tls: Option<&Arc<rustls::ClientConfig>>,
    max_buffered: usize,
) -> Result<rumqttc::MqttOptions, MqttError> {
    let mut o = rumqttc::MqttOptions::new(&spec.client_id, &broker.host, broker.port);
    o.set_transport(transport(broker, tls)?)
        .set_keep_alive(spec.keep_alive.max(Duration::from_secs(1)))
        .set_clean_session(spec.clean_session)
        .set_manual_acks(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_request_channel_capacity(request_capacity(max_buffered));
    if let Some(user) = &spec.username {
        o.set_credentials(user, spec.password.clone().unwrap_or_default());
    }
    Ok(o)
}

pub fn v5(
    spec: &ConnectSpec,
    broker: &Broker,
    tls: Option<&Arc<rustls::ClientConfig>>,
    max_buffered: usize,
) -> Result<rumqttc::v5::MqttOptions, MqttError> {
    let mut o = rumqttc::v5::MqttOptions::new(&spec.client_id, &broker.host, broker.port);
    o.set_transport(transport(broker, tls)?)
        .set_keep_alive(spec.keep_alive.max(Duration::from_secs(1)))
        .set_clean_start(spec.clean_session)
        .set_manual_acks(true)
        .set_max_packet_size(Some(MAX_PACKET as u32))
        .set_request_channel_capacity(request_capacity(max_buffered))
        .set_session_expiry_interval(spec.session_expiry_secs)
        .set_receive_maximum(spec.receive_maximum);
    if let Some(user) = &spec.username {
        o.set_credentials(user, spec.password.clone().unwrap_or_default());
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let b = parse_url("mqtt://127.0.0.1:18830").expect("url");
        assert_eq!(
            (b.host.as_str(), b.port, b.tls()),
            ("127.0.0.1", 18830, false)
        );
        let b = parse_url("mqtts://Broker.Example.com").expect("url");
        assert_eq!(
            (b.host.as_str(), b.port, b.tls()),
            ("broker.example.com", 8883, true)
        );
        assert_eq!(parse_url("mqtt://[::1]:1884").expect("url").host, "::1");
        assert_eq!(parse_url("mqtt://[::1]").expect("url").port, 1883);
        for bad in [
            "tcp://x:1",
            "mqtt://",
            "mqtt://x:port",
            "mqtt://x/a",
            "x:1883",
            "mqtt://u@x",
        ] {
            assert!(
                matches!(parse_url(bad), Err(MqttError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
