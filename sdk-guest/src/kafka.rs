//! Kafka through the host (`danube:connect/kafka`), for connectors granted
//! `[capabilities.kafka]`: consumer-group members that commit only what the connector commits,
//! and idempotent producers that report every record's outcome.
//!
//! ```ignore
//! use danube_connect_sdk::kafka::{ClientOptions, Consumer, ConsumerOptions};
//! let client = ClientOptions::new(vec!["127.0.0.1:9092".into()]);
//! let consumer = Consumer::connect(&client, &ConsumerOptions::new("bridge", vec!["orders".into()]))?;
//! let batch = consumer.poll(500, 100)?;
//! ```

use crate::Error;
pub use crate::bindings::sink::danube::connect::kafka::{
    ClientOptions, Compression, Consumed, Consumer, ConsumerOptions, Delivered, Header, KafkaError,
    KafkaFailure, OffsetReset, PartitionLag, PartitionOffset, PollResult, Produce, Producer,
    ProducerOptions, Sasl, SaslMechanism, TopicPartition,
};

impl ClientOptions {
    /// No SASL, no tuning, 10 s to reach the cluster.
    pub fn new(brokers: Vec<String>) -> Self {
        ClientOptions {
            brokers,
            client_id: None,
            sasl: None,
            properties: Vec::new(),
            timeout_ms: 10_000,
        }
    }
}

impl ConsumerOptions {
    /// Partitions without a committed offset start at their first record.
    pub fn new(group_id: impl Into<String>, topics: Vec<String>) -> Self {
        ConsumerOptions {
            group_id: group_id.into(),
            topics,
            offset_reset: OffsetReset::Earliest,
        }
    }
}

impl KafkaError {
    pub fn describe(&self) -> String {
        match self {
            KafkaError::Denied(m)
            | KafkaError::Refused(m)
            | KafkaError::Connection(m)
            | KafkaError::Invalid(m) => m.clone(),
            KafkaError::Failure(f) => f.describe(),
        }
    }
}

impl KafkaFailure {
    pub fn describe(&self) -> String {
        format!("{} ({})", self.message, self.code)
    }
}

impl From<KafkaError> for Error {
    /// An unreachable cluster or a transient answer is worth retrying; a broker outside the
    /// grant, a refusal or bad options are configuration problems.
    fn from(e: KafkaError) -> Self {
        let text = e.describe();
        match &e {
            KafkaError::Connection(_) => Error::retryable(text),
            KafkaError::Failure(f) if !f.permanent => Error::retryable(text),
            KafkaError::Failure(_) => Error::fatal(text),
            KafkaError::Denied(_) | KafkaError::Refused(_) | KafkaError::Invalid(_) => {
                Error::config(text)
            }
        }
    }
}

impl From<KafkaFailure> for Error {
    /// One record's failure: a permanent one is bad input for the dead-letter topic.
    fn from(f: KafkaFailure) -> Self {
        if f.permanent {
            Error::invalid_data(f.describe())
        } else {
            Error::retryable(f.describe())
        }
    }
}
