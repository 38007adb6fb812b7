//! Moving messages: connect, gather batches, hand them to the connector, settle each
//! message (ack, retry or dead-letter).

use super::SinkRuntime;
use super::buffer::BufferedInbound;
use super::inbound::Inbound;
use super::stall::StallWatch;
use crate::component::GuestFailure;
use crate::component::sink_instance::Sink;
use crate::config::host_name;
use crate::danube::dead_letter::DeadLetter;
use crate::danube::dead_letter::attr::error_type;
use crate::danube::{
    ConsumerEvent, ConsumerHooks, ConsumerSet, DanubeError, DeadLetterRouter, connection, message,
};
use crate::runtime::batcher::{self, Gathered};
use crate::runtime::control::Control;
use crate::runtime::delivery::{AfterRetryable, AfterTrap, BatchPlan, Step};
use crate::runtime::lifecycle::{self, Stop};
use crate::runtime::outcome::{Disposition, dispositions};
use crate::runtime::shutdown::Shutdown;
use crate::runtime::status::State;
use crate::wit::{BatchError, Message};
use danube_client::DanubeClient;
use danube_core::message::StreamMessage;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// At shutdown, how long nothing must arrive before the message streams are closed.
const DRAIN_QUIET: Duration = Duration::from_millis(100);

pub(super) struct Connection {
    client: DanubeClient,
    inbound: Inbound,
    dead_letters: DeadLetterRouter,
}

/// What ended the wait for the next batch. Short-lived, so the message stays unboxed.
#[allow(clippy::large_enum_variant)]
enum Next {
    First(Option<ConsumerEvent>),
    Command(Control<Sink>),
    /// The stall watch asks for a fresh connection and subscription.
    Resubscribe,
    Shutdown,
}

impl SinkRuntime {
    pub(super) async fn consume(&mut self, shutdown: &mut Shutdown) -> Stop {
        // One watch per subscription: a concurrent sink's first lane keeps it.
        let watched = self.lane.as_ref().is_none_or(|seat| seat.index == 0);
        let _stall_watch = self.stall.clone().filter(|_| watched).map(|settings| {
            StallWatch::spawn(
                settings,
                self.life.name.clone(),
                self.life.metrics.clone(),
                self.life.status.clone(),
                self.resubscribe.clone(),
            )
        });
        let mut failures = 0u32;
        loop {
            let mut conn = match self.connect().await {
                Ok(c) => {
                    failures = 0;
                    c
                }
                Err(e) => {
                    self.life.status.set_connected(false);
                    self.life.set_state(State::Reconnecting);
                    let delay = self.reconnect.delay(failures, None);
                    failures += 1;
                    tracing::warn!(
                        connector = self.life.name,
                        "cannot reach Danube: {e}; retrying in {delay:?}"
                    );
                    if let Err(stop) = lifecycle::pause_for(self, delay, shutdown).await {
                        return stop;
                    }
                    continue;
                }
            };
            self.life.status.set_connected(true);
            tracing::info!(connector = self.life.name, topics = ?self.sink.topics, subscription = self.sink.subscription, "consuming");
            let stop = self.pump(&mut conn, shutdown).await;
            self.life.status.set_connected(false);
            conn.inbound.close().await;
            if self.lane.is_none() {
                self.life.metrics.inflight.set(0);
            }
            match stop {
                Stop::Reconnect(e) => {
                    self.life.metrics.reconnects.inc();
                    self.life.set_state(State::Reconnecting);
                    self.life.status.record_error(format!("lost Danube: {e}"));
                    tracing::warn!(connector = self.life.name, "lost Danube: {e}; reconnecting");
                }
                other => return other,
            }
        }
    }

    // `&mut`: the runtime is Send but not Sync (it owns a wasm Store).
    async fn connect(&mut self) -> Result<Connection, DanubeError> {
        let metrics = self.life.metrics.clone();
        if let Some(seat) = &self.lane {
            let (hub, index, previous) = (seat.hub.clone(), seat.index, seat.generation);
            let link = hub
                .attach(index, previous, async || {
                    let client = connection::connect(&self.broker, self.timeouts).await?;
                    let set = self.subscribe(&client).await?;
                    Ok((client, set))
                })
                .await?;
            if let Some(seat) = &mut self.lane {
                seat.generation = Some(link.generation);
            }
            return Ok(Connection {
                client: link.client.clone(),
                dead_letters: self.dead_letter_router(),
                inbound: Inbound::Lane { link, metrics },
            });
        }
        let client = connection::connect(&self.broker, self.timeouts).await?;
        let consumers = self.subscribe(&client).await?;
        let inbound = match &self.buffer {
            Some(buffer) => Inbound::Buffered(BufferedInbound::start(
                consumers,
                buffer.clone(),
                metrics,
                &self.life.name,
                self.policy.max_size * 2,
            )),
            None => Inbound::Direct { consumers, metrics },
        };
        Ok(Connection {
            client,
            inbound,
            dead_letters: self.dead_letter_router(),
        })
    }

    fn dead_letter_router(&self) -> DeadLetterRouter {
        DeadLetterRouter::new(
            &self.life.name,
            self.dead_letter_topic.clone(),
            self.timeouts,
        )
    }

    /// Subscribe to every topic of the sink, with the hooks that count acks and skipped
    /// offsets.
    async fn subscribe(&mut self, client: &DanubeClient) -> Result<ConsumerSet, DanubeError> {
        let consumer_name = self
            .sink
            .consumer_name_for(&self.life.name, host_name().as_deref());
        let metrics = self.life.metrics.clone();
        let buffered = self.buffer.is_some();
        // Through the buffer, an ack to Danube means durable, not delivered: the buffer
        // counts deliveries instead.
        let on_acked = Box::new(move |m: &StreamMessage| {
            if !buffered {
                metrics.processed(&m.msg_id.topic_name, 1);
                metrics.inflight.dec();
            }
        });
        let metrics = self.life.metrics.clone();
        let name = self.life.name.clone();
        let on_skipped = Arc::new(move |topic: &str, from: u64, to: u64| {
            metrics.skipped(topic, to - from + 1);
            tracing::error!(
                connector = name,
                topic,
                from,
                to,
                "the broker skipped offsets {from}..={to} of {topic}: they were never \
                 dispatched to this subscription and cannot be read again (the client cannot \
                 seek); see `[sink.buffer]` and the broker's dispatch window"
            );
        });
        ConsumerSet::subscribe(
            client,
            &self.broker,
            &self.sink,
            &consumer_name,
            self.timeouts,
            self.policy.max_size * 2,
            ConsumerHooks {
                on_acked,
                on_skipped,
            },
        )
        .await
    }

    /// Batches until the connection fails, the connector stops, or shutdown.
    async fn pump(&mut self, conn: &mut Connection, shutdown: &mut Shutdown) -> Stop {
        loop {
            if shutdown.requested() {
                return self.drain(conn, shutdown).await;
            }
            if self.life.paused {
                if let Err(stop) = lifecycle::hold(self, shutdown).await {
                    return stop;
                }
                continue;
            }
            self.life.set_state(State::Running);
            // Commands are taken only while no message is in hand: a batch is never split.
            let next = tokio::select! {
                biased;
                _ = shutdown.wait() => Next::Shutdown,
                c = self.life.control.recv() => Next::Command(c),
                _ = self.resubscribe.notified() => Next::Resubscribe,
                e = conn.inbound.events().recv() => Next::First(e),
            };
            let first = match next {
                Next::Shutdown => return self.drain(conn, shutdown).await,
                Next::Command(c) => {
                    lifecycle::apply_command(self, c).await;
                    continue;
                }
                Next::Resubscribe => {
                    return Stop::Reconnect(DanubeError::Closed(
                        "resubscribing a stalled subscription".into(),
                    ));
                }
                Next::First(None) => {
                    return Stop::Reconnect(DanubeError::Closed("message streams ended".into()));
                }
                Next::First(Some(first)) => first,
            };
            let is_end = |e: &ConsumerEvent| !matches!(e, ConsumerEvent::Message(..));
            let (events, closed) =
                match batcher::gather_from(first, conn.inbound.events(), self.policy, is_end).await
                {
                    Gathered::Batch(b) => (b, false),
                    Gathered::Closed(b) => (b, true),
                };
            if closed {
                // Messages gathered with the end are dropped unsettled: the broker (or the
                // buffer) hands them out again.
                return events
                    .into_iter()
                    .find_map(|e| match e {
                        ConsumerEvent::Closed(why) => {
                            Some(Stop::Reconnect(DanubeError::Closed(why)))
                        }
                        ConsumerEvent::Failed(why) => Some(Stop::Fatal(why)),
                        ConsumerEvent::Message(..) => None,
                    })
                    .unwrap_or_else(|| {
                        Stop::Reconnect(DanubeError::Closed("message streams ended".into()))
                    });
            }
            let batch: Vec<(usize, StreamMessage)> = events
                .into_iter()
                .filter_map(|e| match e {
                    ConsumerEvent::Message(i, m) => Some((i, m)),
                    _ => None,
                })
                .collect();
            if let Err(stop) = self.deliver_batch(conn, &batch, shutdown).await {
                return stop;
            }
        }
    }

    /// Shutdown: deliver what was already received, so a graceful stop leaves nothing
    /// un-acknowledged behind (a shared subscription hands such messages to another host, but
    /// a key-shared one on danube-broker v0.15.1 drops what a departed consumer held). Acks
    /// are held first, so the broker's window fills and it stops dispatching here; once
    /// nothing arrives for a moment the streams close, and what was received is delivered,
    /// one attempt each (a retry wait ends at shutdown). A paused connector delivers nothing.
    async fn drain(&mut self, conn: &mut Connection, shutdown: &mut Shutdown) -> Stop {
        if self.life.paused || !conn.inbound.drains() {
            return Stop::Shutdown;
        }
        conn.inbound.hold_acks();
        let deadline = tokio::time::Instant::now() + self.timeouts.call;
        let mut received = Vec::new();
        let mut closed = 0;
        while let Ok(Some(event)) = tokio::time::timeout(
            DRAIN_QUIET.min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            conn.inbound.events().recv(),
        )
        .await
        {
            match event {
                ConsumerEvent::Message(i, m) => received.push((i, m)),
                _ => closed += 1,
            }
        }
        let streams = conn.inbound.stop_intake().await;
        while closed < streams {
            match tokio::time::timeout(self.timeouts.call, conn.inbound.events().recv()).await {
                Ok(Some(ConsumerEvent::Message(i, m))) => received.push((i, m)),
                Ok(Some(_)) => closed += 1,
                Ok(None) | Err(_) => break,
            }
        }
        if received.is_empty() {
            return Stop::Shutdown;
        }
        tracing::info!(
            connector = self.life.name,
            messages = received.len(),
            "delivering what was received before stopping"
        );
        for batch in received.chunks(self.policy.max_size.max(1)) {
            if let Err(stop) = self.deliver_batch(conn, batch, shutdown).await {
                return stop;
            }
        }
        Stop::Shutdown
    }

    /// Count a gathered batch in, deliver it, and make its settlements permanent.
    async fn deliver_batch(
        &mut self,
        conn: &mut Connection,
        batch: &[(usize, StreamMessage)],
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        conn.inbound.received(batch);
        self.life.metrics.inflight.add(batch.len() as i64);
        let result = self.deliver(conn, batch, shutdown).await;
        self.life
            .metrics
            .memory
            .set(self.instance.memory_bytes() as i64);
        // What was settled stays settled, even when the batch was cut short.
        conn.inbound
            .finish_batch()
            .await
            .map_err(|e| Stop::Fatal(e.to_string()))?;
        result
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
        loop {
            let group = match plan.next_step() {
                Step::Done => return Ok(()),
                Step::Wait {
                    round,
                    at_least,
                    messages,
                } => {
                    let delay = self.retry.delay(round, at_least);
                    tracing::debug!(
                        connector = self.life.name,
                        messages,
                        "retrying in {delay:?}"
                    );
                    lifecycle::pause_for(self, delay, shutdown).await?;
                    continue;
                }
                Step::Call(group) => group,
            };
            if let Err(failure) = self.life.ensure_open(&mut self.instance).await {
                if let GuestFailure::Open(e) = failure {
                    return Err(Stop::Fatal(format!("connector refused to open: {e:?}")));
                }
                plan.requeue(group);
                lifecycle::back_off_after_trap(self, &failure.to_string(), shutdown).await?;
                continue;
            }
            let subset: Cow<[Message]> = if group.len() == messages.len() {
                Cow::Borrowed(&messages)
            } else {
                Cow::Owned(group.iter().map(|&i| messages[i].clone()).collect())
            };
            self.life.metrics.batch_size.observe(group.len() as f64);
            let timer = self.life.metrics.processing.start_timer();
            let result = self.instance.process(&subset).await;
            timer.observe_duration();
            drop(subset);
            match result {
                Err(GuestFailure::Open(e)) => {
                    return Err(Stop::Fatal(format!("connector refused to open: {e:?}")));
                }
                Err(GuestFailure::Trap { kind, message }) => {
                    self.life.metrics.trap(kind.label());
                    self.life.status.set_open(false);
                    let what = format!(
                        "guest trapped ({}) on a batch of {}: {message}",
                        kind.label(),
                        group.len()
                    );
                    if let AfterTrap::GiveUp { index, traps } = plan.trapped(group) {
                        self.life.metrics.failed(error_type::GUEST_TRAP, 1);
                        let letter = DeadLetter {
                            kind: error_type::GUEST_TRAP,
                            reason: format!(
                                "connector trapped ({}) {traps} times on this message: {message}",
                                kind.label()
                            ),
                            attempts: traps,
                        };
                        self.dead_letter(conn, &batch[index], &letter).await?;
                    }
                    lifecycle::back_off_after_trap(self, &what, shutdown).await?;
                }
                Ok(result) => {
                    self.life.consecutive_traps = 0;
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
                    let (handle, m) = &batch[i];
                    conn.inbound.settle(*handle, m);
                    continue;
                }
                Disposition::Retry { reason, after } => {
                    self.life.metrics.failed("retryable", 1);
                    match plan.retryable(i, after) {
                        AfterRetryable::Queued { first } => {
                            self.life.metrics.retries.inc();
                            if first {
                                tracing::warn!(
                                    connector = self.life.name,
                                    "retryable failure: {reason}"
                                );
                                self.life
                                    .status
                                    .record_error(format!("retryable failure: {reason}"));
                            }
                            continue;
                        }
                        AfterRetryable::GiveUp { attempts } => DeadLetter {
                            kind: error_type::RETRIES_EXHAUSTED,
                            reason: format!("gave up after {attempts} attempts: {reason}"),
                            attempts,
                        },
                    }
                }
                Disposition::DeadLetter { reason } => {
                    self.life.metrics.failed(error_type::INVALID_DATA, 1);
                    DeadLetter {
                        kind: error_type::INVALID_DATA,
                        reason,
                        attempts: plan.attempts(i),
                    }
                }
                Disposition::Fatal { reason } => {
                    self.life.metrics.failed("fatal", 1);
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

    async fn dead_letter(
        &mut self,
        conn: &mut Connection,
        entry: &(usize, StreamMessage),
        letter: &DeadLetter,
    ) -> Result<(), Stop> {
        let m = &entry.1;
        let timer = self.life.metrics.publish.start_timer();
        let topic = conn
            .dead_letters
            .publish(&conn.client, m, letter)
            .await
            .map_err(Stop::Reconnect)?;
        timer.observe_duration();
        tracing::warn!(
            connector = self.life.name,
            topic = m.msg_id.topic_name,
            offset = m.msg_id.topic_offset,
            dead_letter_topic = topic,
            "dead-lettered ({}): {}",
            letter.kind,
            letter.reason
        );
        self.life.metrics.dead_lettered(&topic);
        conn.inbound.settle(entry.0, m);
        Ok(())
    }
}
