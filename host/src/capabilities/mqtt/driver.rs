//! The task that keeps one MQTT connection alive: it polls rumqttc's event loop (which sends
//! pings and reconnects), hands deliveries to the session's buffer, answers the first CONNACK
//! and each SUBACK, and renews subscriptions when a reconnect finds no session.

use super::ack_ids::{AckBook, Pending};
use super::session::{Delivery, Shared};
use crate::runtime::backoff::Backoff;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What either protocol's event loop reported, in the terms the session needs.
pub enum Event {
    ConnAck {
        session_present: bool,
        refused: Option<String>,
    },
    Publish(Delivery, Option<Pending>),
    SubAck(Vec<Option<u8>>),
    Error {
        message: String,
        /// The broker answered and said no (credentials, client id): not a network blip.
        refused: bool,
    },
    Other,
}

/// The protocol-specific half: polling and re-subscribing.
pub trait EventSource: Send + 'static {
    fn next(&mut self) -> impl Future<Output = Event> + Send;
    fn resubscribe(&self, filters: &[(String, u8)]);
}

const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    max: Duration::from_secs(10),
};

pub struct Driver<S> {
    pub source: S,
    pub shared: Arc<Mutex<Shared>>,
    pub book: Arc<Mutex<AckBook>>,
    pub inbox: mpsc::Sender<Delivery>,
    pub connected: Option<oneshot::Sender<Result<(), (String, bool)>>>,
    pub connector: Arc<str>,
    pub url: String,
}

impl Driver<()> {
    /// The same driver over a protocol's event source.
    pub fn with<S: EventSource>(self, source: S) -> Driver<S> {
        Driver {
            source,
            shared: self.shared,
            book: self.book,
            inbox: self.inbox,
            connected: self.connected,
            connector: self.connector,
            url: self.url,
        }
    }
}

impl<S: EventSource> Driver<S> {
    pub async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            match self.source.next().await {
                Event::ConnAck {
                    session_present,
                    refused: None,
                } => {
                    failures = 0;
                    self.on_connected(session_present);
                }
                Event::ConnAck {
                    refused: Some(message),
                    ..
                } => {
                    if !self.on_error(message, true, &mut failures).await {
                        return;
                    }
                }
                Event::Publish(delivery, pending) => {
                    let delivery = match pending {
                        Some(p) => Delivery {
                            ack_id: lock(&self.book).issue(p),
                            ..delivery
                        },
                        None => delivery,
                    };
                    // Full buffer: wait, so the socket pushes back on the broker. A closed
                    // one means the session is gone.
                    if self.inbox.send(delivery).await.is_err() {
                        return;
                    }
                }
                Event::SubAck(codes) => {
                    if let Some(reply) = lock(&self.shared).suback.take() {
                        let _ = reply.send(codes);
                    }
                }
                Event::Error { message, refused } => {
                    if !self.on_error(message, refused, &mut failures).await {
                        return;
                    }
                }
                Event::Other => {}
            }
        }
    }

    fn on_connected(&mut self, session_present: bool) {
        lock(&self.book).new_connection();
        let filters = {
            let mut shared = lock(&self.shared);
            shared.connected = true;
            if shared.outage {
                tracing::info!(connector = %self.connector, broker = self.url, "MQTT connection restored");
            }
            shared.outage = false;
            shared.subscriptions.clone()
        };
        if !session_present && !filters.is_empty() {
            self.source.resubscribe(&filters);
        }
        if let Some(reply) = self.connected.take() {
            let _ = reply.send(Ok(()));
        }
    }

    /// Returns false when the driver should end: the first connection failed.
    async fn on_error(&mut self, message: String, refused: bool, failures: &mut u32) -> bool {
        if let Some(reply) = self.connected.take() {
            let _ = reply.send(Err((message, refused)));
            return false;
        }
        {
            let mut shared = lock(&self.shared);
            shared.connected = false;
            if !shared.outage {
                tracing::warn!(connector = %self.connector, broker = self.url, "MQTT connection lost: {message}; reconnecting");
            }
            shared.outage = true;
            shared.last_error = Some(message);
            // A pending subscribe will not be answered on this connection.
            shared.suback = None;
        }
        let delay = BACKOFF.delay(*failures, None);
        *failures = failures.saturating_add(1);
        tokio::time::sleep(delay).await;
        true
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain bookkeeping: keep using it after a panic elsewhere.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
