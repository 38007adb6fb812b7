//! Where the sink loop's messages come from: straight from Danube's consumers, or through the
//! durable local buffer. Either way a message is settled (delivered or dead-lettered) before
//! Danube or the buffer may forget it.

use super::buffer::{BufferError, BufferedInbound};
use super::lanes::LaneLink;
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
    /// One lane of a concurrent sink: its share of a subscription the lanes have in common.
    Lane {
        link: LaneLink,
        metrics: ConnectorMetrics,
    },
}

impl Inbound {
    pub fn events(&mut self) -> &mut mpsc::Receiver<ConsumerEvent> {
        match self {
            Inbound::Direct { consumers, .. } => consumers.events(),
            Inbound::Buffered(b) => b.events(),
            Inbound::Lane { link, .. } => &mut link.events,
        }
    }

    /// Messages of a gathered batch arrived: counted here on the direct path (the buffer's
    /// intake counts them as it takes them from Danube).
    pub fn received(&self, batch: &[(usize, StreamMessage)]) {
        if let Inbound::Direct { metrics, .. } | Inbound::Lane { metrics, .. } = self {
            for (_, m) in batch {
                metrics.received(&m.msg_id.topic_name, 1);
            }
        }
    }

    /// Whether what was received must be delivered before shutting down: only on the direct
    /// path (the buffer keeps what it took).
    pub fn drains(&self) -> bool {
        !matches!(self, Inbound::Buffered(_))
    }

    /// Keep acks back until close, so the broker dispatches nothing more here.
    pub fn hold_acks(&self) {
        match self {
            Inbound::Direct { consumers, .. } => consumers.hold_acks(),
            Inbound::Lane { link, .. } => link.acks.hold(),
            Inbound::Buffered(_) => {}
        }
    }

    /// Close Danube's message streams: the number of streams whose
    /// [`ConsumerEvent::Closed`] ends what is left to read.
    pub async fn stop_intake(&mut self) -> usize {
        match self {
            Inbound::Direct { consumers, .. } => consumers.stop_intake().await,
            Inbound::Lane { link, .. } => {
                // The lane's events simply end once the hub closed every stream.
                link.stop_intake();
                1
            }
            Inbound::Buffered(_) => 0,
        }
    }

    /// `m` was delivered or dead-lettered; `handle` is what its event carried.
    pub fn settle(&mut self, handle: usize, m: &StreamMessage) {
        match self {
            Inbound::Direct { consumers, .. } => consumers.ack(m),
            Inbound::Lane { link, .. } => link.acks.ack(m),
            Inbound::Buffered(b) => b.settle(handle, m),
        }
    }

    /// After a batch: make its settlements permanent where that is not done per message.
    pub async fn finish_batch(&mut self) -> Result<(), BufferError> {
        match self {
            Inbound::Direct { .. } | Inbound::Lane { .. } => Ok(()),
            Inbound::Buffered(b) => b.finish_batch().await,
        }
    }

    pub async fn close(self) {
        match self {
            Inbound::Direct { consumers, .. } => consumers.close().await,
            Inbound::Buffered(b) => b.close().await,
            // The hub closes the subscription when the last lane is done with it.
            Inbound::Lane { .. } => {}
        }
    }
}
