//! The WIT side of `danube:connect/mqtt`: `client` resources are sessions kept by rep.

use super::options::{ConnectSpec, Protocol};
use super::server::ServerSession;
use super::session::{Delivery, Session};
use super::{MqttAccess, MqttError};
use bindings::danube::connect::mqtt as wit;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Resource;

/// Host bindings of the `mqtt` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world mqtt { import danube:connect/mqtt@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/mqtt",
        imports: { default: async },
    });
}

/// The `client` resource type; its rep indexes [`MqttCapability`]'s sessions.
pub use bindings::danube::connect::mqtt::Client as MqttClient;

pub struct MqttCapability {
    connector: Arc<str>,
    /// `None`: not granted (the import check normally stops such a component at load).
    access: Option<Arc<MqttAccess>>,
    sessions: HashMap<u32, Attached>,
    next: u32,
}

/// MQTT 5 reason code for a payload the receiver refuses.
const PAYLOAD_FORMAT_INVALID: u8 = 0x99;

/// What a `client` resource is attached to: a broker, or the embedded server.
enum Attached {
    Broker(Session),
    Server(ServerSession),
}

impl Attached {
    async fn subscribe(&mut self, filters: Vec<(String, u8)>) -> Result<Vec<u8>, MqttError> {
        match self {
            Attached::Broker(s) => s.subscribe(filters).await,
            Attached::Server(s) => s.subscribe(filters).await,
        }
    }

    async fn receive(&mut self, max: usize, timeout: Duration) -> Result<Vec<Delivery>, MqttError> {
        match self {
            Attached::Broker(s) => s.receive(max, timeout).await,
            Attached::Server(s) => s.receive(max, timeout).await,
        }
    }

    async fn ack(&mut self, ids: &[u64]) -> Result<(), MqttError> {
        match self {
            Attached::Broker(s) => s.ack(ids).await,
            Attached::Server(s) => s.ack(ids, 0).await,
        }
    }

    async fn ack_invalid(&mut self, ids: &[u64]) -> Result<(), MqttError> {
        match self {
            // A broker has no way to hear it; the message is safe in the dead-letter topic.
            Attached::Broker(s) => s.ack(ids).await,
            Attached::Server(s) => s.ack(ids, PAYLOAD_FORMAT_INVALID).await,
        }
    }
}

impl MqttCapability {
    pub fn new(connector: Arc<str>, access: Option<Arc<MqttAccess>>) -> Self {
        Self {
            connector,
            access,
            sessions: HashMap::new(),
            next: 0,
        }
    }

    fn session(&mut self, client: &Resource<MqttClient>) -> Result<&mut Attached, wit::MqttError> {
        self.sessions
            .get_mut(&client.rep())
            .ok_or_else(|| wit::MqttError::Invalid("this MQTT client was closed".into()))
    }
}

impl From<MqttError> for wit::MqttError {
    fn from(e: MqttError) -> Self {
        match e {
            MqttError::Denied(m) => Self::Denied(m),
            MqttError::Refused(m) => Self::Refused(m),
            MqttError::Connection(m) => Self::Connection(m),
            MqttError::Invalid(m) => Self::Invalid(m),
        }
    }
}

fn qos_level(q: wit::Qos) -> u8 {
    match q {
        wit::Qos::AtMostOnce => 0,
        wit::Qos::AtLeastOnce => 1,
        wit::Qos::ExactlyOnce => 2,
    }
}

fn wit_qos(q: u8) -> wit::Qos {
    match q {
        0 => wit::Qos::AtMostOnce,
        1 => wit::Qos::AtLeastOnce,
        _ => wit::Qos::ExactlyOnce,
    }
}

fn delivery(d: Delivery) -> wit::Delivery {
    wit::Delivery {
        topic: d.topic,
        payload: d.payload,
        qos: wit_qos(d.qos),
        retain: d.retain,
        dup: d.dup,
        ack_id: d.ack_id,
        user_properties: d.user_properties,
        content_type: d.content_type,
        correlation_data: d.correlation_data,
        response_topic: d.response_topic,
    }
}

impl wit::Host for MqttCapability {}

impl wit::HostClient for MqttCapability {
    async fn connect(
        &mut self,
        options: wit::ConnectOptions,
    ) -> Result<Resource<MqttClient>, wit::MqttError> {
        let Some(access) = self.access.clone() else {
            return Err(wit::MqttError::Denied(format!(
                "MQTT is not granted to connector {}: add [capabilities.mqtt]",
                self.connector
            )));
        };
        if let Some(server) = access.server() {
            // Server mode: the devices come to the host; the connector's URL is not used.
            self.next = self.next.wrapping_add(1);
            self.sessions
                .insert(self.next, Attached::Server(server.session()));
            return Ok(Resource::new_own(self.next));
        }
        let spec = ConnectSpec {
            url: options.url,
            client_id: options.client_id,
            username: options.username,
            password: options.password,
            protocol: match options.protocol {
                wit::Protocol::V311 => Protocol::V311,
                wit::Protocol::V5 => Protocol::V5,
            },
            clean_session: options.clean_session,
            keep_alive: Duration::from_secs(options.keep_alive_secs.into()),
            session_expiry_secs: options.session_expiry_secs,
            receive_maximum: options.receive_maximum,
            timeout: Duration::from_millis(options.timeout_ms.into()),
        };
        let session = Session::connect(&access, spec).await?;
        self.next = self.next.wrapping_add(1);
        self.sessions.insert(self.next, Attached::Broker(session));
        Ok(Resource::new_own(self.next))
    }

    async fn subscribe(
        &mut self,
        client: Resource<MqttClient>,
        subscriptions: Vec<wit::Subscription>,
    ) -> Result<Vec<wit::Qos>, wit::MqttError> {
        let filters = subscriptions
            .into_iter()
            .map(|s| (s.filter, qos_level(s.qos)))
            .collect();
        let granted = self.session(&client)?.subscribe(filters).await?;
        Ok(granted.into_iter().map(wit_qos).collect())
    }

    async fn receive(
        &mut self,
        client: Resource<MqttClient>,
        max: u32,
        timeout_ms: u32,
    ) -> Result<Vec<wit::Delivery>, wit::MqttError> {
        let got = self
            .session(&client)?
            .receive(max as usize, Duration::from_millis(timeout_ms.into()))
            .await?;
        Ok(got.into_iter().map(delivery).collect())
    }

    async fn ack(
        &mut self,
        client: Resource<MqttClient>,
        ack_ids: Vec<u64>,
    ) -> Result<(), wit::MqttError> {
        Ok(self.session(&client)?.ack(&ack_ids).await?)
    }

    async fn ack_invalid(
        &mut self,
        client: Resource<MqttClient>,
        ack_ids: Vec<u64>,
    ) -> Result<(), wit::MqttError> {
        Ok(self.session(&client)?.ack_invalid(&ack_ids).await?)
    }

    async fn drop(&mut self, client: Resource<MqttClient>) -> wasmtime::Result<()> {
        self.sessions.remove(&client.rep());
        Ok(())
    }
}
