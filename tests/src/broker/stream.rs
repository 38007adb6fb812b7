//! The response stream of `ReceiveMessages`.

use super::channel::StreamReceiver;
use super::state::BrokerState;
use danube_core::proto::StreamMessage;
use futures::Stream;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};
use tonic::Status;

/// Messages for one consumer. The server drops it when the client goes
/// away, which is how the broker learns that the consumer disconnected.
pub(crate) struct ConsumerStream {
    rx: StreamReceiver,
    state: Weak<BrokerState>,
    consumer_id: u64,
    generation: u64,
}

impl ConsumerStream {
    pub(crate) fn new(
        rx: StreamReceiver,
        state: Weak<BrokerState>,
        consumer_id: u64,
        generation: u64,
    ) -> Self {
        Self {
            rx,
            state,
            consumer_id,
            generation,
        }
    }
}

impl Stream for ConsumerStream {
    type Item = Result<StreamMessage, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for ConsumerStream {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            state.close_stream(self.consumer_id, self.generation);
        }
    }
}
