//! One consumer per configured topic, merged into a single event stream for the sink loop.
//!
//! A set lives for one connection; after the broker goes away the whole set is dropped and
//! rebuilt. Messages still buffered from the old set are dropped with it: they were never
//! acked, so the broker redelivers them.

use super::connection::{DanubeError, Timeouts};
use crate::config::{SinkSection, SubscriptionType};
use danube_client::{Consumer, DanubeClient, SubType};
use danube_core::message::StreamMessage;
use tokio::sync::mpsc;

// Messages are the hot, common variant: boxing them would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum ConsumerEvent {
    /// A message and the index of the consumer that delivered it (acks go back through it).
    Message(usize, StreamMessage),
    /// A consumer's stream ended: the broker went away or dropped the subscription.
    Closed(String),
}

pub struct ConsumerSet {
    consumers: Vec<(String, Consumer)>,
    events: mpsc::Receiver<ConsumerEvent>,
    timeouts: Timeouts,
}

fn sub_type(t: SubscriptionType) -> SubType {
    match t {
        SubscriptionType::Exclusive => SubType::Exclusive,
        SubscriptionType::Shared => SubType::Shared,
        SubscriptionType::Failover => SubType::FailOver,
        SubscriptionType::KeyShared => SubType::KeyShared,
    }
}

impl ConsumerSet {
    pub async fn subscribe(
        client: &DanubeClient,
        sink: &SinkSection,
        consumer_name: &str,
        timeouts: Timeouts,
        buffer: usize,
    ) -> Result<Self, DanubeError> {
        let (tx, events) = mpsc::channel(buffer.max(16));
        let mut consumers = Vec::with_capacity(sink.topics.len());
        for (idx, topic) in sink.topics.iter().enumerate() {
            let mut consumer = client
                .new_consumer()
                .with_topic(topic.clone())
                .with_consumer_name(consumer_name.to_string())
                .with_subscription(sink.subscription.clone())
                .with_subscription_type(sub_type(sink.subscription_type))
                .build()
                .map_err(|source| DanubeError::Client {
                    what: format!("configuring consumer for {topic}"),
                    source,
                })?;
            timeouts
                .run(
                    format!("subscribing to {topic} as `{}`", sink.subscription),
                    consumer.subscribe(),
                )
                .await?;
            // Open the stream straight away: a reliable subscription whose stream is never
            // opened blocks the topic for every producer.
            let mut rx = timeouts
                .run(
                    format!("opening the message stream of {topic}"),
                    consumer.receive(),
                )
                .await?;
            let tx = tx.clone();
            let name = topic.clone();
            tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    if tx.send(ConsumerEvent::Message(idx, m)).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send(ConsumerEvent::Closed(name)).await;
            });
            consumers.push((topic.clone(), consumer));
        }
        Ok(Self {
            consumers,
            events,
            timeouts,
        })
    }

    pub fn events(&mut self) -> &mut mpsc::Receiver<ConsumerEvent> {
        &mut self.events
    }

    pub async fn ack(&mut self, consumer: usize, m: &StreamMessage) -> Result<(), DanubeError> {
        let Some((topic, c)) = self.consumers.get_mut(consumer) else {
            return Err(DanubeError::Closed(format!("no consumer #{consumer}")));
        };
        let what = format!("acknowledging {}@{}", topic, m.msg_id.topic_offset);
        self.timeouts.run(what, c.ack(m)).await
    }

    pub async fn close(mut self) {
        for (_, c) in self.consumers.iter_mut() {
            let _ = tokio::time::timeout(self.timeouts.call, c.close()).await;
        }
    }
}
