//! A published message as the broker keeps it, and its wire form.

use danube_core::proto::{MsgId, StreamMessage};
use std::time::{SystemTime, UNIX_EPOCH};

/// A message with its topic offset assigned.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    pub(crate) offset: u64,
    /// The message as published, with `msg_id` completed by the broker.
    proto: StreamMessage,
}

impl StoredMessage {
    /// Completes a producer's message: the broker owns the offset, the
    /// producer id and the topic name; everything else passes through.
    pub(crate) fn new(
        mut proto: StreamMessage,
        offset: u64,
        producer_id: u64,
        topic: &str,
        broker_url: &str,
    ) -> Self {
        let broker_addr = match proto.msg_id.take() {
            Some(id) if !id.broker_addr.is_empty() => id.broker_addr,
            _ => broker_url.to_owned(),
        };
        proto.msg_id = Some(MsgId {
            producer_id,
            topic_name: topic.to_owned(),
            broker_addr,
            topic_offset: offset,
        });
        // danube-client stamps milliseconds; keep that unit for raw senders.
        if proto.publish_time == 0 {
            proto.publish_time = now_millis();
        }
        proto.subscription_name.clear();
        Self { offset, proto }
    }

    pub(crate) fn routing_key(&self) -> Option<&str> {
        self.proto.routing_key.as_deref()
    }

    /// The message as delivered to a consumer of `subscription`.
    pub(crate) fn delivery(&self, subscription: &str) -> StreamMessage {
        let mut message = self.proto.clone();
        subscription.clone_into(&mut message.subscription_name);
        message
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
