//! The channel behind a consumer's message stream.
//!
//! Reliable streams are unbounded: the unacked window already caps what
//! they hold, and any window size a caller picks must work. Non-reliable
//! streams are bounded: nothing else limits them, and a slow consumer
//! loses messages instead of growing memory.

use danube_core::proto::StreamMessage;
use std::task::{Context, Poll};
use tokio::sync::mpsc::{self, error::TrySendError};
use tonic::Status;

type Item = Result<StreamMessage, Status>;

#[derive(Debug)]
pub(crate) enum StreamSender {
    Bounded(mpsc::Sender<Item>),
    Unbounded(mpsc::UnboundedSender<Item>),
}

#[derive(Debug)]
pub(crate) enum StreamReceiver {
    Bounded(mpsc::Receiver<Item>),
    Unbounded(mpsc::UnboundedReceiver<Item>),
}

/// Outcome of offering a message to a stream.
pub(crate) enum Offer {
    Sent,
    Full,
    Closed,
}

/// `None` makes an unbounded channel.
pub(crate) fn stream_channel(capacity: Option<usize>) -> (StreamSender, StreamReceiver) {
    match capacity {
        Some(capacity) => {
            let (tx, rx) = mpsc::channel(capacity.max(1));
            (StreamSender::Bounded(tx), StreamReceiver::Bounded(rx))
        }
        None => {
            let (tx, rx) = mpsc::unbounded_channel();
            (StreamSender::Unbounded(tx), StreamReceiver::Unbounded(rx))
        }
    }
}

impl StreamSender {
    pub(crate) fn offer(&self, message: StreamMessage) -> Offer {
        match self {
            Self::Bounded(tx) => match tx.try_send(Ok(message)) {
                Ok(()) => Offer::Sent,
                Err(TrySendError::Full(_)) => Offer::Full,
                Err(TrySendError::Closed(_)) => Offer::Closed,
            },
            Self::Unbounded(tx) => match tx.send(Ok(message)) {
                Ok(()) => Offer::Sent,
                Err(_) => Offer::Closed,
            },
        }
    }
}

impl StreamReceiver {
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        match self {
            Self::Bounded(rx) => rx.poll_recv(cx),
            Self::Unbounded(rx) => rx.poll_recv(cx),
        }
    }
}
