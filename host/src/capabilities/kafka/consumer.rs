//! A consumer-group member over librdkafka's stream consumer: batches of records, the group's
//! rebalances, and offsets committed only when the connector says so.

use super::access::KafkaAccess;
use super::cluster;
use super::context::{Callbacks, ClientState, GroupChange, Lag};
use super::errors::{Failure, KafkaError};
use super::settings::{self, ClientOptions};
use futures::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::Duration;

pub struct Subscription {
    pub group_id: String,
    /// Names, or patterns starting with `^`.
    pub topics: Vec<String>,
    pub earliest: bool,
}

/// One record as read.
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub payload: Option<Vec<u8>>,
}

pub struct Polled {
    pub changes: Vec<GroupChange>,
    pub records: Vec<Consumed>,
}

pub struct ConsumerSession {
    consumer: Option<Arc<StreamConsumer<Callbacks>>>,
    state: Arc<ClientState>,
}

impl ConsumerSession {
    pub async fn connect(
        access: Arc<KafkaAccess>,
        connector: Arc<str>,
        client: ClientOptions,
        subscription: Subscription,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        if subscription.group_id.trim().is_empty() {
            return Err(KafkaError::Invalid("the consumer group id is empty".into()));
        }
        if subscription.topics.is_empty() {
            return Err(KafkaError::Invalid("no topics to subscribe to".into()));
        }
        for pattern in subscription.topics.iter().filter(|t| t.starts_with('^')) {
            regex::Regex::new(pattern).map_err(|e| {
                KafkaError::Invalid(format!(
                    "topic pattern `{pattern}` is not a valid regular expression: {e}"
                ))
            })?;
        }
        let config = settings::consumer(
            settings::base(&access, &connector, &client)?,
            &subscription.group_id,
            subscription.earliest,
        );
        let state = Arc::new(ClientState::new(connector, access));
        let consumer: StreamConsumer<Callbacks> =
            config.create_with_context(Callbacks(state.clone()))?;
        let consumer = Arc::new(consumer);
        let known = {
            let c = consumer.clone();
            cluster::topics(&state, move |t| c.fetch_metadata(None, t), timeout).await?
        };
        for name in subscription.topics.iter().filter(|t| !t.starts_with('^')) {
            if !known.contains(name) {
                return Err(KafkaError::Failure(Failure::unknown_topic(name)));
            }
        }
        let topics: Vec<&str> = subscription.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        Ok(Self {
            consumer: Some(consumer),
            state,
        })
    }

    fn consumer(&self) -> Result<&Arc<StreamConsumer<Callbacks>>, KafkaError> {
        let consumer = self
            .consumer
            .as_ref()
            .ok_or_else(|| KafkaError::Invalid("this consumer was closed".into()))?;
        match self.state.denied() {
            Some(why) => Err(KafkaError::Denied(why)),
            None => Ok(consumer),
        }
    }

    pub async fn poll(&self, max: usize, timeout: Duration) -> Result<Polled, KafkaError> {
        let consumer = self.consumer()?;
        let mut records = Vec::new();
        if max > 0 {
            match tokio::time::timeout(timeout, consumer.recv()).await {
                Err(_) => {}
                Ok(Ok(m)) => records.push(consumed(&m)),
                Ok(Err(e)) => return Err(e.into()),
            }
        }
        // Whatever librdkafka has already fetched, without waiting again.
        while !records.is_empty() && records.len() < max {
            match consumer.recv().now_or_never() {
                Some(Ok(m)) => records.push(consumed(&m)),
                Some(Err(e)) => {
                    tracing::debug!(%e, "Kafka consumer error after a batch; reported next poll");
                    break;
                }
                None => break,
            }
        }
        Ok(Polled {
            changes: self.state.take_changes(),
            records,
        })
    }

    /// Commit `(topic, partition, next offset)`; partitions no longer assigned are skipped and
    /// returned.
    pub async fn commit(
        &self,
        offsets: Vec<(String, i32, i64)>,
    ) -> Result<Vec<(String, i32)>, KafkaError> {
        let consumer = self.consumer()?;
        let assignment = consumer.assignment()?;
        let mut list = TopicPartitionList::new();
        let mut skipped = Vec::new();
        for (topic, partition, offset) in offsets {
            if assignment.find_partition(&topic, partition).is_some() {
                list.add_partition_offset(&topic, partition, Offset::Offset(offset))?;
            } else {
                skipped.push((topic, partition));
            }
        }
        if list.count() > 0 {
            let c = consumer.clone();
            tokio::task::spawn_blocking(move || c.commit(&list, CommitMode::Sync))
                .await
                .map_err(|e| KafkaError::Connection(format!("commit did not finish: {e}")))??;
        }
        Ok(skipped)
    }

    pub fn lag(&self) -> Vec<Lag> {
        self.state.lag()
    }
}

impl Drop for ConsumerSession {
    /// Leaving the group waits for the coordinator: not on the runtime's threads.
    fn drop(&mut self) {
        if let Some(c) = self.consumer.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn_blocking(move || drop(c));
        }
    }
}

fn consumed(m: &BorrowedMessage<'_>) -> Consumed {
    Consumed {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
        timestamp_ms: m.timestamp().to_millis(),
        key: m.key().map(<[u8]>::to_vec),
        headers: m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default(),
        payload: m.payload().map(<[u8]>::to_vec),
    }
}
