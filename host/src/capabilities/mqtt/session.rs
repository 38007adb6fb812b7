//! One MQTT client as plain async Rust: connect, subscribe, receive in batches, acknowledge.
//! The WIT resource (`host.rs`) is a thin layer over this.

use super::ack_ids::AckBook;
use super::driver::{Driver, Flow, lock};
use super::options::{self, ConnectSpec, Protocol};
use super::{MqttAccess, MqttError, v5, v311};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// One PUBLISH received from the broker.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    /// 0: nothing to acknowledge (QoS 0).
    pub ack_id: u64,
    pub user_properties: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub response_topic: Option<String>,
}

/// What the driver and the session both see.
#[derive(Default)]
pub struct Shared {
    pub connected: bool,
    /// Lost and not yet back: logged once per outage.
    pub outage: bool,
    pub last_error: Option<String>,
    /// Renewed after a reconnect that finds no session.
    pub subscriptions: Vec<(String, u8)>,
    pub suback: Option<oneshot::Sender<Vec<Option<u8>>>>,
}

enum Client {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

pub struct Session {
    client: Client,
    inbox: mpsc::UnboundedReceiver<Delivery>,
    flow: Arc<Flow>,
    shared: Arc<Mutex<Shared>>,
    book: Arc<Mutex<AckBook>>,
    timeout: Duration,
    url: String,
    driver: JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        match &self.client {
            Client::V311(c) => {
                let _ = c.try_disconnect();
            }
            Client::V5(c) => {
                let _ = c.try_disconnect();
            }
        }
        self.driver.abort();
    }
}

impl Session {
    /// Connect and wait for the broker's answer (bounded by the spec's timeout).
    pub async fn connect(access: &MqttAccess, spec: ConnectSpec) -> Result<Self, MqttError> {
        let broker = options::parse_url(&spec.url)?;
        if !access.allows(&broker) {
            return Err(MqttError::Denied(format!(
                "{} is not in [capabilities.mqtt] allowed_brokers of connector {}",
                spec.url, access.connector
            )));
        }
        options::check(&spec)?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let book = Arc::new(Mutex::new(AckBook::default()));
        let (tx, inbox) = mpsc::unbounded_channel();
        let flow = Arc::new(Flow::new(access.max_buffered));
        let (connected_tx, connected_rx) = oneshot::channel();
        let tls = access.tls.as_ref();
        let driver = Driver {
            source: (),
            shared: shared.clone(),
            book: book.clone(),
            inbox: tx,
            flow: flow.clone(),
            keep_alive: spec.keep_alive.max(Duration::from_secs(1)),
            connected: Some(connected_tx),
            connector: access.connector.clone(),
            url: spec.url.clone(),
        };
        let (client, task) = match spec.protocol {
            Protocol::V311 => {
                let opts = options::v311(&spec, &broker, tls, access.max_buffered)?;
                let (client, events) = rumqttc::AsyncClient::new(opts, 64);
                let source = v311::Source {
                    events,
                    client: client.clone(),
                };
                (
                    Client::V311(client),
                    tokio::spawn(driver.with(source).run()),
                )
            }
            Protocol::V5 => {
                let opts = options::v5(&spec, &broker, tls, access.max_buffered)?;
                let (client, events) = rumqttc::v5::AsyncClient::new(opts, 64);
                let source = v5::Source {
                    events,
                    client: client.clone(),
                };
                (Client::V5(client), tokio::spawn(driver.with(source).run()))
            }
        };
        let session = Session {
            client,
            inbox,
            flow,
            shared,
            book,
            timeout: spec.timeout,
            url: spec.url.clone(),
            driver: task,
        };
        match tokio::time::timeout(spec.timeout, connected_rx).await {
            Ok(Ok(Ok(()))) => Ok(session),
            Ok(Ok(Err((message, true)))) => {
                Err(MqttError::Refused(format!("{}: {message}", spec.url)))
            }
            Ok(Ok(Err((message, false)))) => Err(MqttError::Connection(format!(
                "cannot reach {}: {message}",
                spec.url
            ))),
            Ok(Err(_)) => Err(MqttError::Connection(format!(
                "the connection to {} ended before the broker answered",
                spec.url
            ))),
            Err(_) => Err(MqttError::Connection(format!(
                "{} did not answer within {} ms",
                spec.url,
                spec.timeout.as_millis()
            ))),
        }
    }

    /// Subscribe and wait for the SUBACK; the QoS the broker granted per filter.
    pub async fn subscribe(&mut self, filters: Vec<(String, u8)>) -> Result<Vec<u8>, MqttError> {
        if filters.is_empty() {
            return Ok(Vec::new());
        }
        for (filter, qos) in &filters {
            if !rumqttc::valid_filter(filter) {
                return Err(MqttError::Invalid(format!(
                    "\"{filter}\" is not a topic filter"
                )));
            }
            if *qos > 2 {
                return Err(MqttError::Invalid(format!("QoS {qos} does not exist")));
            }
        }
        let (reply, answer) = oneshot::channel();
        lock(&self.shared).suback = Some(reply);
        let sent = match &self.client {
            Client::V311(c) => c
                .subscribe_many(v311::subscribe_filters(&filters))
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .subscribe_many(v5::subscribe_filters(&filters))
                .await
                .map_err(|e| e.to_string()),
        };
        sent.map_err(|e| MqttError::Connection(format!("subscribing at {}: {e}", self.url)))?;
        let codes = match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(codes)) => codes,
            Ok(Err(_)) => {
                return Err(MqttError::Connection(format!(
                    "the connection to {} dropped before the subscription was confirmed",
                    self.url
                )));
            }
            Err(_) => {
                return Err(MqttError::Connection(format!(
                    "{} did not confirm the subscription within {} ms",
                    self.url,
                    self.timeout.as_millis()
                )));
            }
        };
        let mut granted = Vec::with_capacity(filters.len());
        for (i, (filter, _)) in filters.iter().enumerate() {
            match codes.get(i).copied().flatten() {
                Some(q) => granted.push(q),
                None => {
                    return Err(MqttError::Refused(format!(
                        "{} refused the subscription to {filter}",
                        self.url
                    )));
                }
            }
        }
        let mut shared = lock(&self.shared);
        for f in filters {
            if !shared.subscriptions.iter().any(|(known, _)| *known == f.0) {
                shared.subscriptions.push(f);
            }
        }
        Ok(granted)
    }

    /// Up to `max` deliveries, waiting at most `timeout` for the first one.
    pub async fn receive(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<Delivery>, MqttError> {
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        match self.inbox.try_recv() {
            Ok(d) => out.push(d),
            Err(mpsc::error::TryRecvError::Empty) => {
                {
                    let shared = lock(&self.shared);
                    if !shared.connected {
                        let why = shared
                            .last_error
                            .clone()
                            .unwrap_or_else(|| "disconnected".into());
                        return Err(MqttError::Connection(format!("{}: {why}", self.url)));
                    }
                }
                match tokio::time::timeout(timeout, self.inbox.recv()).await {
                    Ok(Some(d)) => out.push(d),
                    Ok(None) => {
                        return Err(MqttError::Connection(format!(
                            "{}: connection closed",
                            self.url
                        )));
                    }
                    Err(_) => return Ok(out),
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => {
                return Err(MqttError::Connection(format!(
                    "{}: connection closed",
                    self.url
                )));
            }
        }
        while out.len() < max {
            match self.inbox.try_recv() {
                Ok(d) => out.push(d),
                Err(_) => break,
            }
        }
        self.flow.taken(out.len());
        Ok(out)
    }

    /// Acknowledge deliveries in the order given; ids of an older connection are skipped.
    pub async fn ack(&mut self, ids: &[u64]) -> Result<(), MqttError> {
        for &id in ids {
            if id == 0 {
                continue;
            }
            let Some(pending) = lock(&self.book).take(id) else {
                tracing::debug!(
                    broker = self.url,
                    id,
                    "ack skipped: unknown id or an earlier connection's"
                );
                continue;
            };
            // Counted before it is queued, so a driver waiting on a full buffer wakes to write it.
            self.flow.ack_queued();
            let sent = match &self.client {
                Client::V311(c) => c
                    .ack(&v311::ack_packet(pending))
                    .await
                    .map_err(|e| e.to_string()),
                Client::V5(c) => c
                    .ack(&v5::ack_packet(pending))
                    .await
                    .map_err(|e| e.to_string()),
            };
            sent.map_err(|e| MqttError::Connection(format!("acknowledging at {}: {e}", self.url)))?;
        }
        Ok(())
    }
}
