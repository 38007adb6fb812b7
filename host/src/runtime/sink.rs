//! The sink loop: receive → batch → `process` → ack, with retries, dead-lettering,
//! instance restarts and reconnection. Nothing is acknowledged before the connector
//! reported it delivered or it reached the dead-letter topic.

use super::backoff::Backoff;
use super::batcher::{self, BatchPolicy, Gathered};
use super::delivery::{AfterRetryable, AfterTrap, BatchPlan, Step};
use super::outcome::{Disposition, dispositions};
use super::shutdown::Shutdown;
use crate::component::bindings::{BatchError, Message};
use crate::component::{GuestFailure, SinkInstance};
use crate::config::{ConnectorConfig, SinkSection};
use crate::danube::dead_letter::DeadLetter;
use crate::danube::{
    ConsumerEvent, ConsumerSet, DanubeError, DeadLetterRouter, Timeouts, connection, message,
};
use crate::observe::{ConnectorMetrics, Health};
use danube_client::DanubeClient;
use danube_core::message::StreamMessage;
use std::borrow::Cow;
use std::time::Duration;

/// Why the loop ended.
#[derive(Debug)]
pub enum Exit {
    Shutdown,
    Fatal(String),
}

/// Why a batch could not be finished.
enum Stop {
    Reconnect(DanubeError),
    Fatal(String),
    Shutdown,
}

struct Connection {
    client: DanubeClient,
    consumers: ConsumerSet,
    dead_letters: DeadLetterRouter,
}

pub struct SinkRuntime {
    name: String,
    url: String,
    sink: SinkSection,
    dead_letter_topic: Option<String>,
    timeouts: Timeouts,
    policy: BatchPolicy,
    max_retries: u32,
    max_guest_traps: u32,
    retry: Backoff,
    reconnect: Backoff,
    restart: Backoff,
    instance: SinkInstance,
    metrics: ConnectorMetrics,
    health: Health,
}

impl SinkRuntime {
    pub fn new(
        config: &ConnectorConfig,
        sink: SinkSection,
        instance: SinkInstance,
        metrics: ConnectorMetrics,
        health: Health,
    ) -> Self {
        let r = &config.runtime;
        let d = &config.danube;
        Self {
            name: config.connector.name.clone(),
            url: d.service_url.clone(),
            sink,
            dead_letter_topic: r.dead_letter_topic.clone(),
            timeouts: Timeouts {
                call: Duration::from_millis(d.call_timeout_ms),
            },
            policy: BatchPolicy {
                max_size: r.batch_size,
                max_wait: Duration::from_millis(r.batch_timeout_ms),
                linger: Duration::from_millis(r.linger_ms),
            },
            max_retries: r.max_retries,
            max_guest_traps: r.max_guest_traps,
            retry: Backoff {
                base: Duration::from_millis(r.retry_backoff_ms),
                max: Duration::from_millis(r.max_backoff_ms),
            },
            reconnect: Backoff {
                base: Duration::from_millis(d.reconnect_backoff_ms),
                max: Duration::from_millis(d.reconnect_max_backoff_ms),
            },
            restart: Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_secs(30),
            },
            instance,
            metrics,
            health,
        }
    }

    pub async fn run(mut self, mut shutdown: Shutdown) -> Exit {
        let exit = match self.open_instance(&mut shutdown).await {
            Err(stop) => stop,
            Ok(()) => self.consume(&mut shutdown).await,
        };
        self.health.set_open(false);
        self.health.set_connected(false);
        if let Err(e) = self.instance.close().await {
            tracing::warn!(connector = self.name, "close failed: {e}");
        }
        match exit {
            Stop::Fatal(reason) => Exit::Fatal(reason),
            Stop::Shutdown | Stop::Reconnect(_) => Exit::Shutdown,
        }
    }

    /// Open before consuming, so a connector with a bad config fails before taking messages.
    async fn open_instance(&mut self, shutdown: &mut Shutdown) -> Result<(), Stop> {
        let mut attempt = 0;
        loop {
            match self.ensure_open().await {
                Ok(()) => return Ok(()),
                Err(GuestFailure::Open(e)) => {
                    return Err(Stop::Fatal(format!("connector refused to open: {e:?}")));
                }
                Err(trap) => {
                    let delay = self.restart.delay(attempt, None);
                    tracing::warn!(connector = self.name, "{trap}; restarting in {delay:?}");
                    attempt += 1;
                    sleep_or_shutdown(delay, shutdown).await?;
                }
            }
        }
    }

    async fn ensure_open(&mut self) -> Result<(), GuestFailure> {
        if self.instance.is_open() {
            return Ok(());
        }
        let r = self.instance.ensure_open().await;
        if let Err(GuestFailure::Trap { kind, .. }) = &r {
            self.metrics.trap(kind.label());
        }
        if r.is_ok() {
            self.metrics.reloads.inc();
            tracing::info!(connector = self.name, "connector instance started");
        }
        self.health.set_open(r.is_ok());
        r
    }

    async fn consume(&mut self, shutdown: &mut Shutdown) -> Stop {
        let mut failures = 0u32;
        loop {
            let mut conn = match self.connect().await {
                Ok(c) => {
                    failures = 0;
                    c
                }
                Err(e) => {
                    self.health.set_connected(false);
                    let delay = self.reconnect.delay(failures, None);
                    failures += 1;
                    tracing::warn!(
                        connector = self.name,
                        "cannot reach Danube: {e}; retrying in {delay:?}"
                    );
                    if let Err(stop) = sleep_or_shutdown(delay, shutdown).await {
                        return stop;
                    }
                    continue;
                }
            };
            self.health.set_connected(true);
            tracing::info!(connector = self.name, topics = ?self.sink.topics, subscription = self.sink.subscription, "consuming");
            let stop = self.pump(&mut conn, shutdown).await;
            self.health.set_connected(false);
            conn.consumers.close().await;
            self.metrics.inflight.set(0);
            match stop {
                Stop::Reconnect(e) => {
                    self.metrics.reconnects.inc();
                    tracing::warn!(connector = self.name, "lost Danube: {e}; reconnecting");
                }
                other => return other,
            }
        }
    }

    async fn connect(&self) -> Result<Connection, DanubeError> {
        let client = connection::connect(&self.url, self.timeouts).await?;
        let consumer_name = self
            .sink
            .consumer_name
            .clone()
            .unwrap_or_else(|| self.name.clone());
        let metrics = self.metrics.clone();
        let on_acked = Box::new(move |m: &StreamMessage| {
            metrics.processed(&m.msg_id.topic_name, 1);
            metrics.inflight.dec();
        });
        let consumers = ConsumerSet::subscribe(
            &client,
            &self.sink,
            &consumer_name,
            self.timeouts,
            self.policy.max_size * 2,
            on_acked,
        )
        .await?;
        let dead_letters =
            DeadLetterRouter::new(&self.name, self.dead_letter_topic.clone(), self.timeouts);
        Ok(Connection {
            client,
            consumers,
            dead_letters,
        })
    }

    /// Batches until the connection fails, the connector stops, or shutdown.
    async fn pump(&mut self, conn: &mut Connection, shutdown: &mut Shutdown) -> Stop {
        loop {
            if shutdown.requested() {
                return Stop::Shutdown;
            }
            let gathered = tokio::select! {
                g = batcher::gather(conn.consumers.events(), self.policy, |e| matches!(e, ConsumerEvent::Closed(_))) => g,
                _ = shutdown.wait() => return Stop::Shutdown,
            };
            let (events, closed) = match gathered {
                Gathered::Batch(b) => (b, false),
                Gathered::Closed(b) => (b, true),
            };
            if closed {
                // Messages gathered with the close are dropped un-acked: the broker redelivers them.
                let why = events.iter().find_map(|e| match e {
                    ConsumerEvent::Closed(why) => Some(why.clone()),
                    ConsumerEvent::Message(..) => None,
                });
                return Stop::Reconnect(DanubeError::Closed(
                    why.unwrap_or_else(|| "message streams ended".into()),
                ));
            }
            let batch: Vec<(usize, StreamMessage)> = events
                .into_iter()
                .filter_map(|e| match e {
                    ConsumerEvent::Message(i, m) => Some((i, m)),
                    ConsumerEvent::Closed(_) => None,
                })
                .collect();
            for (_, m) in &batch {
                self.metrics.received(&m.msg_id.topic_name, 1);
            }
            self.metrics.inflight.add(batch.len() as i64);
            let result = self.deliver(conn, &batch, shutdown).await;
            self.metrics.memory.set(self.instance.memory_bytes() as i64);
            if let Err(stop) = result {
                return stop;
            }
        }
    }

    /// Deliver one batch completely: every message ends acked (delivered or dead-lettered),
    /// unless the connection fails, the connector is fatal, or shutdown interrupts a retry wait.
    async fn deliver(
        &mut self,
        conn: &mut Connection,
        batch: &[(usize, StreamMessage)],
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        let messages: Vec<Message> = batch.iter().map(|(_, m)| message::to_guest(m)).collect();
        let mut plan = BatchPlan::new(batch.len(), self.max_retries, self.max_guest_traps);
        let mut consecutive_traps = 0u32;
        loop {
            let group = match plan.next_step() {
                Step::Done => return Ok(()),
                Step::Wait {
                    round,
                    at_least,
                    messages,
                } => {
                    let delay = self.retry.delay(round, at_least);
                    tracing::debug!(connector = self.name, messages, "retrying in {delay:?}");
                    sleep_or_shutdown(delay, shutdown).await?;
                    continue;
                }
                Step::Call(group) => group,
            };
            if let Err(failure) = self.ensure_open().await {
                let trap = match failure {
                    GuestFailure::Open(e) => {
                        return Err(Stop::Fatal(format!("connector refused to open: {e:?}")));
                    }
                    trap => trap,
                };
                let delay = self.restart.delay(consecutive_traps, None);
                consecutive_traps += 1;
                tracing::warn!(connector = self.name, "{trap}; restarting in {delay:?}");
                plan.requeue(group);
                sleep_or_shutdown(delay, shutdown).await?;
                continue;
            }
            let subset: Cow<[Message]> = if group.len() == messages.len() {
                Cow::Borrowed(&messages)
            } else {
                Cow::Owned(group.iter().map(|&i| messages[i].clone()).collect())
            };
            self.metrics.batch_size.observe(group.len() as f64);
            let timer = self.metrics.processing.start_timer();
            let result = self.instance.process(&subset).await;
            timer.observe_duration();
            drop(subset);
            match result {
                Err(GuestFailure::Open(e)) => {
                    return Err(Stop::Fatal(format!("connector refused to open: {e:?}")));
                }
                Err(GuestFailure::Trap { kind, message }) => {
                    self.metrics.trap(kind.label());
                    self.health.set_open(false);
                    let delay = self.restart.delay(consecutive_traps, None);
                    consecutive_traps += 1;
                    tracing::warn!(
                        connector = self.name,
                        batch = group.len(),
                        "guest trapped ({}): {message}; restarting in {delay:?}",
                        kind.label()
                    );
                    if let AfterTrap::GiveUp { index, traps } = plan.trapped(group) {
                        self.metrics.failed("guest_trap", 1);
                        let letter = DeadLetter {
                            kind: "guest_trap",
                            reason: format!(
                                "connector trapped ({}) {traps} times on this message: {message}",
                                kind.label()
                            ),
                            attempts: traps,
                        };
                        self.dead_letter(conn, &batch[index], &letter).await?;
                    }
                    sleep_or_shutdown(delay, shutdown).await?;
                }
                Ok(result) => {
                    consecutive_traps = 0;
                    self.settle(conn, batch, &group, result, &mut plan).await?;
                }
            }
        }
    }

    /// Act on the connector's answer for one group: ack, queue for retry, or dead-letter.
    async fn settle(
        &mut self,
        conn: &mut Connection,
        batch: &[(usize, StreamMessage)],
        group: &[usize],
        result: Result<(), BatchError>,
        plan: &mut BatchPlan,
    ) -> Result<(), Stop> {
        let mut fatal = None;
        for (pos, disposition) in dispositions(group.len(), result).into_iter().enumerate() {
            let i = group[pos];
            let letter = match disposition {
                Disposition::Done => {
                    self.ack(conn, &batch[i]).await?;
                    continue;
                }
                Disposition::Retry { reason, after } => {
                    self.metrics.failed("retryable", 1);
                    match plan.retryable(i, after) {
                        AfterRetryable::Queued { first } => {
                            self.metrics.retries.inc();
                            if first {
                                tracing::warn!(
                                    connector = self.name,
                                    "retryable failure: {reason}"
                                );
                            }
                            continue;
                        }
                        AfterRetryable::GiveUp { attempts } => DeadLetter {
                            kind: "retries_exhausted",
                            reason: format!("gave up after {attempts} attempts: {reason}"),
                            attempts,
                        },
                    }
                }
                Disposition::DeadLetter { reason } => {
                    self.metrics.failed("invalid_data", 1);
                    DeadLetter {
                        kind: "invalid_data",
                        reason,
                        attempts: plan.attempts(i),
                    }
                }
                Disposition::Fatal { reason } => {
                    self.metrics.failed("fatal", 1);
                    fatal.get_or_insert(reason);
                    continue;
                }
            };
            self.dead_letter(conn, &batch[i], &letter).await?;
        }
        match fatal {
            Some(reason) => Err(Stop::Fatal(reason)),
            None => Ok(()),
        }
    }

    async fn ack(
        &self,
        conn: &mut Connection,
        (consumer, m): &(usize, StreamMessage),
    ) -> Result<(), Stop> {
        conn.consumers.ack(*consumer, m.clone());
        Ok(())
    }

    async fn dead_letter(
        &self,
        conn: &mut Connection,
        entry: &(usize, StreamMessage),
        letter: &DeadLetter,
    ) -> Result<(), Stop> {
        let m = &entry.1;
        let timer = self.metrics.publish.start_timer();
        let topic = conn
            .dead_letters
            .publish(&conn.client, m, letter)
            .await
            .map_err(Stop::Reconnect)?;
        timer.observe_duration();
        tracing::warn!(
            connector = self.name,
            topic = m.msg_id.topic_name,
            offset = m.msg_id.topic_offset,
            dead_letter_topic = topic,
            "dead-lettered ({}): {}",
            letter.kind,
            letter.reason
        );
        self.metrics.dead_lettered(&topic);
        conn.consumers.ack(entry.0, m.clone());
        Ok(())
    }
}

async fn sleep_or_shutdown(d: Duration, shutdown: &mut Shutdown) -> Result<(), Stop> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = shutdown.wait() => Err(Stop::Shutdown),
    }
}
