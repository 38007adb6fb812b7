//! The opt-in durable local buffer of a sink (`[sink] buffer`): an intake takes messages from
//! Danube at the broker's pace and acknowledges them once durable in a local file; a reader
//! feeds the sink loop from that file; delivered messages are removed from it. The
//! subscription never falls behind while the buffer has room, and batches are no longer
//! bounded by the broker's window of un-acknowledged messages.

mod disk;
mod intake;

pub use disk::{BufferError, DiskBuffer, Held};

use crate::danube::{ConsumerEvent, ConsumerSet};
use crate::observe::ConnectorMetrics;
use crate::observe::metrics::BufferMetrics;
use danube_core::message::StreamMessage;
use intake::Intake;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Messages read from the file at a time.
const READ_CHUNK: usize = 512;

/// The buffer's gauges, set from what it holds.
#[derive(Clone)]
struct BufferGauges(BufferMetrics);

impl BufferGauges {
    fn show(&self, held: Held) {
        self.0.bytes.set(held.bytes as i64);
        self.0.messages.set(held.messages as i64);
        let age = held.oldest_publish_ms.map_or(0, |published| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            now.saturating_sub(published) / 1_000
        });
        self.0.oldest_age_seconds.set(age as i64);
    }
}

/// One connection's buffered inbound: its events carry buffer keys where the direct path
/// carries consumer indices.
pub struct BufferedInbound {
    buffer: Arc<DiskBuffer>,
    events: mpsc::Receiver<ConsumerEvent>,
    intake: Intake,
    reader: JoinHandle<()>,
    /// Keys of messages delivered or dead-lettered, removed from the file per batch.
    settled: Vec<u64>,
    gauges: BufferGauges,
    metrics: ConnectorMetrics,
}

impl BufferedInbound {
    pub fn start(
        consumers: ConsumerSet,
        buffer: Arc<DiskBuffer>,
        metrics: ConnectorMetrics,
        connector: &str,
        queue: usize,
    ) -> Self {
        let (tx, events) = mpsc::channel(queue.max(16));
        let gauges = BufferGauges(metrics.buffer.clone());
        gauges.show(buffer.held());
        let intake = Intake::start(
            consumers,
            buffer.clone(),
            metrics.clone(),
            connector.to_string(),
            tx.clone(),
        );
        let reader = tokio::spawn(read_loop(buffer.clone(), tx));
        Self {
            buffer,
            events,
            intake,
            reader,
            settled: Vec::new(),
            gauges,
            metrics,
        }
    }

    pub fn events(&mut self) -> &mut mpsc::Receiver<ConsumerEvent> {
        &mut self.events
    }

    /// `key` is delivered or dead-lettered.
    pub fn settle(&mut self, key: usize, m: &StreamMessage) {
        self.settled.push(key as u64);
        self.metrics.processed(&m.msg_id.topic_name, 1);
        self.metrics.inflight.dec();
    }

    /// Remove what was settled since the last call, in one transaction.
    pub async fn finish_batch(&mut self) -> Result<(), BufferError> {
        if self.settled.is_empty() {
            return Ok(());
        }
        let keys = std::mem::take(&mut self.settled);
        let buffer = self.buffer.clone();
        let removed = tokio::task::spawn_blocking(move || buffer.remove(&keys)).await;
        let result = match removed {
            Ok(r) => r,
            Err(e) => Err(BufferError {
                path: self.buffer.path().to_path_buf(),
                message: format!("removing delivered messages: {e}"),
            }),
        };
        self.gauges.show(self.buffer.held());
        result
    }

    pub async fn close(self) {
        self.reader.abort();
        self.intake.close().await;
    }
}

/// Hand the file's messages to the sink loop in order, waiting for appends at the end. It
/// starts from the oldest message each connection, so whatever was in hand when a
/// connection failed is handed out again.
async fn read_loop(buffer: Arc<DiskBuffer>, tx: mpsc::Sender<ConsumerEvent>) {
    let mut from = 0u64;
    loop {
        let b = buffer.clone();
        let read = tokio::task::spawn_blocking(move || b.read(from, READ_CHUNK)).await;
        let entries = match read {
            Ok(Ok(entries)) => entries,
            Ok(Err(e)) => {
                let _ = tx.send(ConsumerEvent::Failed(e.to_string())).await;
                return;
            }
            Err(e) => {
                let _ = tx
                    .send(ConsumerEvent::Failed(format!("sink buffer: {e}")))
                    .await;
                return;
            }
        };
        if entries.is_empty() {
            buffer.appended.notified().await;
            continue;
        }
        for (key, m) in entries {
            from = key + 1;
            // Keys are u64 and so is usize on every target the host builds for.
            if tx
                .send(ConsumerEvent::Message(key as usize, m))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}
