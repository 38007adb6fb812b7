//! Taking messages from Danube into the buffer at the broker's pace: whatever has arrived is
//! appended as one group in one fsync'd transaction, and only then acknowledged to Danube.
//! While the buffer is full nothing is taken (backpressure), so it never grows past its bound.

use super::BufferGauges;
use super::disk::{DiskBuffer, Encoded};
use crate::danube::{ConsumerEvent, ConsumerSet};
use crate::observe::ConnectorMetrics;
use danube_core::message::StreamMessage;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most messages appended in one transaction.
const MAX_GROUP: usize = 1_000;

/// A message taken from Danube, encoded for the buffer, not yet acknowledged.
struct Taken {
    message: StreamMessage,
    encoded: Encoded,
}

pub(super) struct Intake {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<ConsumerSet>,
}

struct Run {
    consumers: ConsumerSet,
    buffer: Arc<DiskBuffer>,
    metrics: ConnectorMetrics,
    gauges: BufferGauges,
    connector: String,
    /// Where the end of the intake is reported to the sink loop.
    report: mpsc::Sender<ConsumerEvent>,
    /// A message that did not fit: it waits, un-acknowledged, for room.
    carry: Option<Taken>,
    full: bool,
}

impl Intake {
    pub(super) fn start(
        consumers: ConsumerSet,
        buffer: Arc<DiskBuffer>,
        metrics: ConnectorMetrics,
        connector: String,
        report: mpsc::Sender<ConsumerEvent>,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        let run = Run {
            consumers,
            gauges: BufferGauges(metrics.buffer.clone()),
            buffer,
            metrics,
            connector,
            report,
            carry: None,
            full: false,
        };
        Self {
            stop: Some(stop),
            task: tokio::spawn(run.run(stopped)),
        }
    }

    /// Stop taking messages and close the consumers; what was taken and not yet durable was
    /// never acknowledged, so the broker sends it again.
    pub(super) async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Ok(consumers) = self.task.await {
            consumers.close().await;
        }
    }
}

impl Run {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) -> ConsumerSet {
        let end = loop {
            let first = match self.carry.take() {
                Some(t) => t,
                None => {
                    let event = tokio::select! {
                        _ = &mut stopped => return self.consumers,
                        e = self.consumers.events().recv() => e,
                    };
                    match event {
                        None => break ConsumerEvent::Closed("message streams ended".into()),
                        Some(ConsumerEvent::Message(_, message)) => match self.encode(message) {
                            Ok(t) => t,
                            Err(why) => break ConsumerEvent::Failed(why),
                        },
                        Some(other) => break other,
                    }
                }
            };
            if first.encoded.len() > self.buffer.room() {
                self.carry = Some(first);
                self.set_full(true);
                tokio::select! {
                    _ = &mut stopped => return self.consumers,
                    _ = self.buffer.freed.notified() => continue,
                }
            }
            self.set_full(false);
            match self.take_group(first).await {
                Ok(None) => {}
                Ok(Some(end)) => break end,
                Err(why) => break ConsumerEvent::Failed(why),
            }
        };
        let _ = self.report.send(end).await;
        self.consumers
    }

    fn encode(&self, message: StreamMessage) -> Result<Taken, String> {
        match Encoded::new(&message) {
            Ok(encoded) => Ok(Taken { message, encoded }),
            Err(e) => Err(format!(
                "sink buffer {}: encoding a message: {e}",
                self.buffer.path().display()
            )),
        }
    }

    /// Append `first` and whatever else has arrived and fits, then acknowledge them. Returns
    /// how the intake ends when a close arrived with the group, or why the buffer failed.
    async fn take_group(&mut self, first: Taken) -> Result<Option<ConsumerEvent>, String> {
        let mut room = self.buffer.room().saturating_sub(first.encoded.len());
        let mut group = vec![first];
        let mut end = None;
        while group.len() < MAX_GROUP {
            match self.consumers.events().try_recv() {
                Ok(ConsumerEvent::Message(_, message)) => {
                    let taken = self.encode(message)?;
                    if taken.encoded.len() > room {
                        self.carry = Some(taken);
                        break;
                    }
                    room -= taken.encoded.len();
                    group.push(taken);
                }
                Ok(other) => {
                    end = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let oldest = group
            .iter()
            .map(|t| t.message.publish_time)
            .min()
            .unwrap_or_default();
        let (acks, encoded): (Vec<_>, Vec<_>) =
            group.into_iter().map(|t| (t.message, t.encoded)).unzip();
        let buffer = self.buffer.clone();
        let written = tokio::task::spawn_blocking(move || buffer.append(&encoded, oldest)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(e) => return Err(format!("sink buffer: {e}")),
        }
        // Durable now: only from here may Danube forget them.
        for message in &acks {
            self.metrics.received(&message.msg_id.topic_name, 1);
            self.consumers.ack(message);
        }
        self.gauges.show(self.buffer.held());
        Ok(end)
    }

    fn set_full(&mut self, full: bool) {
        if full == self.full {
            return;
        }
        self.full = full;
        self.gauges.0.full.set(i64::from(full));
        if full {
            let held = self.buffer.held();
            tracing::warn!(
                connector = self.connector,
                buffer = %self.buffer.path().display(),
                bytes = held.bytes,
                messages = held.messages,
                "sink buffer full: taking nothing from Danube until the connector delivers"
            );
        } else {
            tracing::info!(connector = self.connector, "sink buffer has room again");
        }
    }
}
