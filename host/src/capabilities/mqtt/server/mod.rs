//! The embedded MQTT server (`[capabilities.mqtt.server]`): devices publish straight to the
//! host, no broker beside it. It is an ingestion endpoint: it takes PUBLISH (QoS 0, 1 and 2)
//! from MQTT 3.1.1 and 5 clients and serves nothing back. To the connector it looks like a
//! broker it subscribed to, so `source_mqtt.wasm` runs unchanged: `connect` attaches to the
//! server, `subscribe` says which topics it wants, `receive` and `ack` work as with a broker,
//! and an ack is what releases the device's PUBACK (or PUBREC), after Danube persisted it.

mod connection;
mod registry;
mod wire;

use super::grant::ServerGrant;
use super::{Delivery, MqttError};
use crate::capabilities::tls;
use registry::Registry;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::task::JoinHandle;

/// What the grant sets for every connection.
pub struct Settings {
    pub address: SocketAddr,
    pub users: Vec<(String, String)>,
    pub max_packet_bytes: usize,
    pub receive_maximum: u16,
}

impl Settings {
    /// Anyone when no users are configured; else a matching username and password.
    fn admits(&self, login: Option<&(String, String)>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        login.is_some_and(|(user, password)| {
            self.users.iter().any(|(u, p)| {
                constant_time_eq(u.as_bytes(), user.as_bytes())
                    & constant_time_eq(p.as_bytes(), password.as_bytes())
            })
        })
    }
}

/// Equal bytes, compared in a time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What connections and the connector's session share.
pub struct Core {
    connector: Arc<str>,
    settings: Settings,
    registry: Registry,
    inbox: mpsc::Sender<Delivery>,
    received: Mutex<mpsc::Receiver<Delivery>>,
    /// The topic filters the connector subscribed to.
    filters: RwLock<Vec<String>>,
    connections: Arc<Semaphore>,
    next_connection: AtomicU64,
    /// Unmatched topics logged once each, up to a bound.
    unmatched: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Core {
    fn next_connection(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    fn wanted(&self, topic: &str) -> bool {
        let filters = self.filters.read().unwrap_or_else(|p| p.into_inner());
        filters.iter().any(|f| rumqttc::matches(topic, f))
    }

    fn unmatched(&self, topic: &str) {
        let mut seen = self.unmatched.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() < 1000 && seen.insert(topic.to_owned()) {
            tracing::warn!(
                connector = %self.connector,
                topic,
                "a device published to a topic no mapping takes; dropped (MQTT 5 devices are told: no matching subscribers)"
            );
        }
    }
}

/// One connector's server: built with the connector, listening from its first subscription.
pub struct Server {
    core: Arc<Core>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    serving: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    pub fn new(
        connector: Arc<str>,
        grant: &ServerGrant,
        max_buffered: usize,
        resolve: impl Fn(&Path) -> std::path::PathBuf,
    ) -> Result<Self, String> {
        let address = grant.address()?;
        let tls = match (&grant.tls_cert_file, &grant.tls_key_file) {
            (Some(cert), Some(key)) => Some(tokio_rustls::TlsAcceptor::from(
                tls::server_config(&resolve(cert), &resolve(key))
                    .map_err(|e| format!("capabilities.mqtt.server: {e}"))?,
            )),
            _ => None,
        };
        let (inbox, received) = mpsc::channel(max_buffered.max(1));
        Ok(Self {
            core: Arc::new(Core {
                connector,
                settings: Settings {
                    address,
                    users: grant
                        .users
                        .iter()
                        .map(|u| (u.username.clone(), u.password.clone()))
                        .collect(),
                    max_packet_bytes: grant.max_packet_bytes,
                    receive_maximum: grant.receive_maximum,
                },
                registry: Registry::default(),
                inbox,
                received: Mutex::new(received),
                filters: RwLock::new(Vec::new()),
                connections: Arc::new(Semaphore::new(grant.max_connections)),
                next_connection: AtomicU64::new(1),
                unmatched: std::sync::Mutex::new(Default::default()),
            }),
            tls,
            serving: Mutex::new(None),
        })
    }

    /// Binds and starts accepting on the first call.
    async fn listen(&self) -> Result<(), MqttError> {
        let mut serving = self.serving.lock().await;
        if serving.is_some() {
            return Ok(());
        }
        let address = self.core.settings.address;
        let socket = tokio::net::TcpListener::bind(address).await.map_err(|e| {
            MqttError::Connection(format!("binding the MQTT server to {address}: {e}"))
        })?;
        tracing::info!(
            connector = %self.core.connector,
            address = %socket.local_addr().map_or(address, |a| a),
            tls = self.tls.is_some(),
            "MQTT server listening"
        );
        let (core, tls) = (self.core.clone(), self.tls.clone());
        *serving = Some(tokio::spawn(accept(core, tls, socket)));
        Ok(())
    }

    /// The connector's side: what `connect` returns in server mode.
    pub fn session(self: &Arc<Self>) -> ServerSession {
        ServerSession {
            server: self.clone(),
        }
    }
}

impl Drop for Server {
    /// The connector is gone: no new connections, and each open one ends at its next
    /// PUBLISH (which nothing would take any more), so its device goes elsewhere or retries.
    fn drop(&mut self) {
        if let Some(task) = self.serving.get_mut().take() {
            task.abort();
        }
        if let Ok(mut received) = self.core.received.try_lock() {
            received.close();
        }
    }
}

async fn accept(
    core: Arc<Core>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    socket: tokio::net::TcpListener,
) {
    loop {
        let (stream, peer) = match socket.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(connector = %core.connector, "accepting an MQTT connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (core, tls) = (core.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => connection::serve(core, stream, peer).await,
                    Err(e) => tracing::debug!(%peer, "MQTT TLS handshake: {e}"),
                },
                None => connection::serve(core, stream, peer).await,
            }
        });
    }
}

/// The connector's view of the server, in place of a broker connection.
pub struct ServerSession {
    server: Arc<Server>,
}

impl ServerSession {
    /// The topics the connector wants (shared-subscription prefixes are dropped: one
    /// connector takes everything); every filter is granted at the QoS asked.
    pub async fn subscribe(&mut self, filters: Vec<(String, u8)>) -> Result<Vec<u8>, MqttError> {
        let mut granted = Vec::with_capacity(filters.len());
        let mut plain = Vec::with_capacity(filters.len());
        for (filter, qos) in filters {
            let filter = match filter.strip_prefix("$share/") {
                Some(rest) => rest.split_once('/').map_or(rest, |(_, f)| f).to_owned(),
                None => filter,
            };
            if !rumqttc::valid_filter(&filter) {
                return Err(MqttError::Invalid(format!(
                    "\"{filter}\" is not a topic filter"
                )));
            }
            granted.push(qos.min(2));
            plain.push(filter);
        }
        {
            let mut filters = self
                .server
                .core
                .filters
                .write()
                .unwrap_or_else(|p| p.into_inner());
            for f in plain {
                if !filters.contains(&f) {
                    filters.push(f);
                }
            }
        }
        self.server.listen().await?;
        Ok(granted)
    }

    /// Up to `max` deliveries, waiting at most `timeout` for the first one.
    pub async fn receive(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<Delivery>, MqttError> {
        let mut received = self.server.core.received.lock().await;
        let mut out = Vec::new();
        if max > 0 {
            // Waits for the first, then takes whatever else is there, up to `max`.
            let _ = tokio::time::timeout(timeout, received.recv_many(&mut out, max)).await;
        }
        Ok(out)
    }

    /// Releases each device's PUBACK / PUBREC, with MQTT 5 `reason` (0: success); ids of
    /// closed connections are skipped.
    pub async fn ack(&mut self, ids: &[u64], reason: u8) -> Result<(), MqttError> {
        for &id in ids {
            if id != 0 && !self.server.core.registry.ack(id, reason) {
                tracing::debug!(id, "ack skipped: the device's connection closed since");
            }
        }
        Ok(())
    }
}

impl Drop for ServerSession {
    /// The connector instance is gone with whatever it took and had not acked: the devices
    /// holding those messages are disconnected so they send them again to the next one, and
    /// what waits in the buffer is dropped for the same reason.
    fn drop(&mut self) {
        let core = &self.server.core;
        let closed = core.registry.abandon_all();
        if let Ok(mut received) = core.received.try_lock() {
            while received.try_recv().is_ok() {}
        }
        if closed > 0 {
            tracing::info!(
                connector = %core.connector,
                connections = closed,
                "connector instance replaced: devices with unacknowledged messages reconnect and send them again"
            );
        }
    }
}
