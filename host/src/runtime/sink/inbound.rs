//! Where the sink loop's messages come from: straight from Danube's consumers, or through the
//! durable local buffer. Either way a message is settled (delivered or dead-lettered) before
//! Danube or the buffer may forget it.

use super::buffer::{BufferError, BufferedInbound};
use crate::danube::{ConsumerEvent, ConsumerSet};
use crate::observe::ConnectorMetrics;
use danube_core::message::StreamMessage;
use tokio::sync::mpsc;

pub enum Inbound {
    /// A settled message is acknowledged to Danube; events carry consumer indices.
    Direct {
        consumers: ConsumerSet,
        metrics: ConnectorMetrics,
    },
    /// Danube was acknowledged when the message became durable; a settled one leaves the
    /// buffer. Events carry buffer keys.
    Buffered(BufferedInbound),
}

impl Inbound {
    pub fn events(&mut self) -> &mut mpsc::Receiver<ConsumerEvent> {
        match self {
            Inbound::Direct { consumers, .. } => consumers.events(),
            Inbound::Buffered(b) => b.events(),
        }
    }

    /// Messages of a gathered batch arrived: counted here on the direct path (the buffer's
    /// intake counts them as it takes them from Danube).
    pub fn received(&self, batch: &[(usize, StreamMessage)]) {
        if let Inbound::Direct { metrics, .. } = self {
            for (_, m) in batch {
                metrics.received(&m.msg_id.topic_name, 1);
            }
        }
    }

    /// Whether what was received must be delivered before shutting down: only on the direct
    /// path (the buffer keeps what it took).
    pub fn drains(&self) -> bool {
        matches!(self, Inbound::Direct { .. })
    }

    /// Keep acks back until close, so the broker dispatches nothing more here.
    pub fn hold_acks(&self) {
        if let Inbound::Direct { consumers, .. } = self {
            consumers.hold_acks();
        }
    }

    /// Close Danube's message streams: the number of streams whose
    /// [`ConsumerEvent::Closed`] ends what is left to read.
    pub async fn stop_intake(&mut self) -> usize {
        match self {
            Inbound::Direct { consumers, .. } => consumers.stop_intake().await,
            Inbound::Buffered(_) => 0,
        }
    }

    /// `m` was delivered or dead-lettered; `handle` is what its event carried.
    pub fn settle(&mut self, handle: usize, m: &StreamMessage) {
        match self {
            Inbound::Direct { consumers, .. } => consumers.ack(m),
            Inbound::Buffered(b) => b.settle(handle, m),
        }
    }

    /// After a batch: make its settlements permanent where that is not done per message.
    pub async fn finish_batch(&mut self) -> Result<(), BufferError> {
        match self {
            Inbound::Direct { .. } => Ok(()),
            Inbound::Buffered(b) => b.finish_batch().await,
        }
    }

    pub async fn close(self) {
        match self {
            Inbound::Direct { consumers, .. } => consumers.close().await,
            Inbound::Buffered(b) => b.close().await,
        }
    }
}
