//! The task that keeps one MQTT connection alive: it polls rumqttc's event loop (which sends
//! pings and reconnects), hands deliveries to the session's buffer, answers the first CONNACK
//! and each SUBACK, and renews subscriptions when a reconnect finds no session.
//!
//! Flow control: rumqttc writes our acknowledgements only while its event loop is polled, and
//! polling also reads the socket. So a full buffer stops reading only while no acknowledgement
//! waits to be written; otherwise a connector committing into a full buffer would wait forever
//! for an ack that needs the very loop that is waiting for buffer room.

use super::ack_ids::{AckBook, Pending};
use super::session::{Delivery, Shared};
use crate::backoff::Backoff;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

/// What either protocol's event loop reported, in the terms the session needs.
pub enum Event {
    ConnAck {
        session_present: bool,
        refused: Option<String>,
    },
    Publish(Delivery, Option<Pending>),
    /// A PUBACK or PUBREC we asked for went out.
    AckWritten,
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

/// Deliveries buffered for the connector and acknowledgements not yet written: the two
/// counts that decide whether the driver may read the socket.
pub struct Flow {
    buffered: AtomicUsize,
    acks_queued: AtomicUsize,
    max_buffered: usize,
    wake: Notify,
}

impl Flow {
    pub fn new(max_buffered: usize) -> Self {
        Self {
            buffered: AtomicUsize::new(0),
            acks_queued: AtomicUsize::new(0),
            max_buffered: max_buffered.max(1),
            wake: Notify::new(),
        }
    }

    fn must_wait(&self) -> bool {
        self.buffered.load(Ordering::Acquire) >= self.max_buffered
            && self.acks_queued.load(Ordering::Acquire) == 0
    }

    /// The connector took `n` deliveries out of the buffer.
    pub fn taken(&self, n: usize) {
        if n > 0 {
            let _ = self
                .buffered
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                    Some(b.saturating_sub(n))
                });
            self.wake.notify_one();
        }
    }

    /// An acknowledgement was handed to rumqttc and waits for the loop to write it.
    pub fn ack_queued(&self) {
        self.acks_queued.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    fn ack_written(&self) {
        let _ = self
            .acks_queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(1))
            });
    }
}

const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    max: Duration::from_secs(10),
};

pub struct Driver<S> {
    pub source: S,
    pub shared: Arc<Mutex<Shared>>,
    pub book: Arc<Mutex<AckBook>>,
    pub inbox: mpsc::UnboundedSender<Delivery>,
    pub flow: Arc<Flow>,
    /// While the buffer is full the loop still runs this often, so pings keep the
    /// connection alive through a long stall downstream.
    pub keep_alive: Duration,
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
            flow: self.flow,
            keep_alive: self.keep_alive,
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
            wait_for_room(&self.flow, self.keep_alive).await;
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
                    self.flow.buffered.fetch_add(1, Ordering::AcqRel);
                    // A closed buffer means the session is gone.
                    if self.inbox.send(delivery).is_err() {
                        return;
                    }
                }
                Event::AckWritten => self.flow.ack_written(),
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
        // Acks queued for the old connection may never be written (rumqttc drops them with a
        // lost session); counting them would leave the buffer bound off for good. A later
        // ack counts and wakes the loop again.
        self.flow.acks_queued.store(0, Ordering::Release);
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

/// Leave the socket unread while the buffer is full and nothing waits to be written, so TCP
/// pushes back on the broker; look in at half the keep-alive so pings still go out.
async fn wait_for_room(flow: &Flow, keep_alive: Duration) {
    loop {
        let woken = flow.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if !flow.must_wait() {
            return;
        }
        if tokio::time::timeout(keep_alive / 2, woken).await.is_err() {
            return;
        }
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain bookkeeping: keep using it after a panic elsewhere.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
