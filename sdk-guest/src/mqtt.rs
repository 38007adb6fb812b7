//! MQTT through the host (`danube:connect/mqtt`), for connectors granted
//! `[capabilities.mqtt]`. The host keeps the connection; a connector connects, subscribes,
//! takes deliveries in batches and acknowledges each once its record is safe.
//!
//! ```ignore
//! use danube_connect_sdk::mqtt::{Client, ConnectOptions, Qos, Subscription};
//! let client = Client::connect(&ConnectOptions::new("mqtt://127.0.0.1:1883", "gateway"))?;
//! client.subscribe(&[Subscription { filter: "sensors/#".into(), qos: Qos::AtLeastOnce }])?;
//! for d in client.receive(100, 500)? { /* … */ }
//! ```

use crate::Error;
pub use crate::bindings::source::danube::connect::mqtt::{
    Client, ConnectOptions, Delivery, MqttError, Protocol, Qos, Subscription,
};

impl ConnectOptions {
    /// MQTT 3.1.1, a persistent session (unacknowledged messages survive a restart),
    /// 30 s keep-alive, 10 s to connect.
    pub fn new(url: impl Into<String>, client_id: impl Into<String>) -> Self {
        ConnectOptions {
            url: url.into(),
            client_id: client_id.into(),
            username: None,
            password: None,
            protocol: Protocol::V311,
            clean_session: false,
            keep_alive_secs: 30,
            session_expiry_secs: None,
            receive_maximum: None,
            timeout_ms: 10_000,
        }
    }
}

impl Qos {
    /// 0, 1 or 2.
    pub fn level(self) -> u8 {
        match self {
            Qos::AtMostOnce => 0,
            Qos::AtLeastOnce => 1,
            Qos::ExactlyOnce => 2,
        }
    }

    /// The QoS for level 0, 1 or 2.
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            0 => Some(Qos::AtMostOnce),
            1 => Some(Qos::AtLeastOnce),
            2 => Some(Qos::ExactlyOnce),
            _ => None,
        }
    }
}

impl From<MqttError> for Error {
    /// An unreachable broker is worth retrying; a refusal (credentials, client id), a
    /// broker outside the grant or a bad option is a configuration problem.
    fn from(e: MqttError) -> Self {
        match e {
            MqttError::Connection(m) => Error::retryable(m),
            MqttError::Refused(m) | MqttError::Denied(m) | MqttError::Invalid(m) => {
                Error::config(m)
            }
        }
    }
}
