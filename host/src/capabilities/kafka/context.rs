//! What librdkafka calls back into: its logs, its statistics (every broker the cluster
//! advertises is checked against the grant; consumer lag is read from them) and the consumer
//! group's rebalances, queued for the connector's next poll.

use super::access::KafkaAccess;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::{TopicPartitionList, error::KafkaError as RdError};
use std::sync::{Arc, Mutex, PoisonError};

/// A partition taken away or handed over by the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    Revoked(String, i32),
    Assigned(String, i32),
}

/// One assigned partition's read position and end, from the last statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lag {
    pub topic: String,
    pub partition: i32,
    pub position: Option<i64>,
    pub high_watermark: i64,
}

pub struct ClientState {
    connector: Arc<str>,
    access: Arc<KafkaAccess>,
    /// Set once the cluster advertised a broker outside the grant; every later call fails.
    denied: Mutex<Option<String>>,
    changes: Mutex<Vec<GroupChange>>,
    lag: Mutex<Vec<Lag>>,
    /// The client's newest error report (e.g. a TLS handshake refused), to explain a
    /// cluster that did not answer.
    last_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClientState {
    pub fn new(connector: Arc<str>, access: Arc<KafkaAccess>) -> Self {
        Self {
            connector,
            access,
            denied: Mutex::new(None),
            changes: Mutex::new(Vec::new()),
            lag: Mutex::new(Vec::new()),
            last_error: Mutex::new(None),
        }
    }

    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// Check a broker the cluster advertised; the first one outside the grant stops the client.
    pub fn check_advertised(&self, broker: &str) {
        if let Err(why) = self.access.check_broker(broker, &self.connector) {
            let mut denied = lock(&self.denied);
            if denied.is_none() {
                tracing::error!(connector = %self.connector, broker, "the Kafka cluster advertises a broker outside the grant; the client stops");
                *denied = Some(format!(
                    "the cluster advertises a broker outside the grant: {why}"
                ));
            }
        }
    }

    pub fn denied(&self) -> Option<String> {
        lock(&self.denied).clone()
    }

    pub fn take_changes(&self) -> Vec<GroupChange> {
        std::mem::take(&mut *lock(&self.changes))
    }

    pub fn lag(&self) -> Vec<Lag> {
        lock(&self.lag).clone()
    }

    fn record(&self, list: &TopicPartitionList, change: fn(String, i32) -> GroupChange) {
        let mut changes = lock(&self.changes);
        for e in list.elements() {
            changes.push(change(e.topic().to_string(), e.partition()));
        }
    }
}

/// librdkafka owns its context; the host keeps a second handle on the same state.
pub struct Callbacks(pub Arc<ClientState>);

impl ClientContext for Callbacks {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let connector = &*self.0.connector;
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(connector, facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(connector, facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(connector, facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(connector, facility, "librdkafka: {message}"),
        }
    }

    fn stats(&self, statistics: Statistics) {
        for broker in statistics.brokers.values() {
            // Bootstrap entries are checked before the client starts; the internal and
            // logical (coordinator) entries are not connections of their own.
            if broker.source == "learned" {
                self.0.check_advertised(&broker.nodename);
            }
        }
        let mut lag = Vec::new();
        for topic in statistics.topics.values() {
            for p in topic.partitions.values() {
                if p.partition >= 0 && p.desired {
                    lag.push(Lag {
                        topic: topic.topic.clone(),
                        partition: p.partition,
                        position: (p.app_offset >= 0).then_some(p.app_offset),
                        high_watermark: p.hi_offset,
                    });
                }
            }
        }
        lag.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        *lock(&self.0.lag) = lag;
    }

    fn error(&self, error: RdError, reason: &str) {
        tracing::warn!(connector = %self.0.connector, %error, "Kafka client: {reason}");
        // "all brokers are down" follows the failure that says why: keep the why.
        if error.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown) {
            *lock(&self.0.last_error) = Some(reason.to_string());
        }
    }
}

impl ConsumerContext for Callbacks {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            self.0.record(list, GroupChange::Revoked);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => self.0.record(list, GroupChange::Assigned),
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => {
                tracing::warn!(connector = %self.0.connector, %e, "Kafka consumer group rebalance failed")
            }
        }
    }
}
