//! `danube:connect/kafka`: consumer-group members and idempotent producers for connectors
//! granted `[capabilities.kafka]`, on librdkafka (its bundled, recent build).
//!
//! Offsets are committed only when the connector commits, so a source commits what Danube
//! persisted and nothing more; a producer reports each record's outcome, so a sink acks what
//! Kafka acked and dead-letters what Kafka will never take.
//!
//! librdkafka is C and takes minutes to build: a host built without the `kafka` feature (the
//! demo's) keeps the grant's syntax and refuses to open it.

mod grant;
pub use grant::KafkaGrant;

/// Its section and import, the same with or without the `kafka` feature.
const NAME: &str = "kafka";
const IMPORTS: &[&str] = &["danube:connect/kafka"];

#[cfg(feature = "kafka")]
mod access;
#[cfg(feature = "kafka")]
mod cluster;
#[cfg(feature = "kafka")]
mod consumer;
#[cfg(feature = "kafka")]
mod context;
#[cfg(feature = "kafka")]
mod errors;
#[cfg(feature = "kafka")]
mod host;
#[cfg(feature = "kafka")]
mod producer;
#[cfg(feature = "kafka")]
mod settings;
#[cfg(feature = "kafka")]
mod unit;

#[cfg(feature = "kafka")]
pub use access::KafkaAccess;
#[cfg(feature = "kafka")]
pub use host::{KafkaCapability, KafkaConsumer, KafkaProducer};
#[cfg(feature = "kafka")]
pub use unit::Kafka;

#[cfg(not(feature = "kafka"))]
mod absent;
#[cfg(not(feature = "kafka"))]
pub use absent::Kafka;
