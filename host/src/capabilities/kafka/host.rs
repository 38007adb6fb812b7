//! The WIT side of `danube:connect/kafka`: `consumer` and `producer` resources are sessions
//! kept by rep.

use super::access::KafkaAccess;
use super::consumer::{Consumed, ConsumerSession, Subscription};
use super::context::GroupChange;
use super::errors::{Failure, KafkaError};
use super::producer::{Produce, ProducerSession};
use super::settings::{ClientOptions, Sasl};
use bindings::danube::connect::kafka as wit;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Resource;

/// Host bindings of the `kafka` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world kafka { import danube:connect/kafka@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/kafka",
        imports: { default: async },
    });
}

pub use bindings::danube::connect::kafka::{Consumer as KafkaConsumer, Producer as KafkaProducer};

pub struct KafkaCapability {
    connector: Arc<str>,
    /// `None`: not granted (the import check normally stops such a component at load).
    access: Option<Arc<KafkaAccess>>,
    consumers: HashMap<u32, ConsumerSession>,
    producers: HashMap<u32, ProducerSession>,
    next: u32,
}

impl KafkaCapability {
    pub fn new(connector: Arc<str>, access: Option<Arc<KafkaAccess>>) -> Self {
        Self {
            connector,
            access,
            consumers: HashMap::new(),
            producers: HashMap::new(),
            next: 0,
        }
    }

    fn access(&self) -> Result<Arc<KafkaAccess>, KafkaError> {
        self.access.clone().ok_or_else(|| {
            KafkaError::Denied(format!(
                "Kafka is not granted to connector {}: add [capabilities.kafka]",
                self.connector
            ))
        })
    }

    fn rep(&mut self) -> u32 {
        self.next = self.next.wrapping_add(1);
        self.next
    }
}

fn client_options(o: wit::ClientOptions) -> (ClientOptions, Duration) {
    let sasl = o.sasl.map(|s| Sasl {
        mechanism: match s.mechanism {
            wit::SaslMechanism::Plain => "PLAIN",
            wit::SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            wit::SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        },
        username: s.username,
        password: s.password,
    });
    let options = ClientOptions {
        brokers: o.brokers,
        client_id: o.client_id,
        sasl,
        properties: o.properties,
    };
    (options, Duration::from_millis(o.timeout_ms.max(1).into()))
}

fn headers(h: Vec<wit::Header>) -> Vec<(String, Option<Vec<u8>>)> {
    h.into_iter().map(|h| (h.key, h.value)).collect()
}

impl From<Failure> for wit::KafkaFailure {
    fn from(f: Failure) -> Self {
        Self {
            code: f.code,
            message: f.message,
            permanent: f.permanent,
        }
    }
}

impl From<KafkaError> for wit::KafkaError {
    fn from(e: KafkaError) -> Self {
        match e {
            KafkaError::Denied(m) => Self::Denied(m),
            KafkaError::Refused(m) => Self::Refused(m),
            KafkaError::Connection(m) => Self::Connection(m),
            KafkaError::Invalid(m) => Self::Invalid(m),
            KafkaError::Failure(f) => Self::Failure(f.into()),
        }
    }
}

impl From<Consumed> for wit::Consumed {
    fn from(c: Consumed) -> Self {
        Self {
            topic: c.topic,
            partition: c.partition,
            offset: c.offset,
            timestamp_ms: c.timestamp_ms,
            key: c.key,
            headers: c
                .headers
                .into_iter()
                .map(|(key, value)| wit::Header { key, value })
                .collect(),
            payload: c.payload,
        }
    }
}

impl wit::Host for KafkaCapability {}

impl wit::HostConsumer for KafkaCapability {
    async fn connect(
        &mut self,
        client: wit::ClientOptions,
        options: wit::ConsumerOptions,
    ) -> Result<Resource<KafkaConsumer>, wit::KafkaError> {
        let access = self.access()?;
        let (client, timeout) = client_options(client);
        let subscription = Subscription {
            group_id: options.group_id,
            topics: options.topics,
            earliest: matches!(options.offset_reset, wit::OffsetReset::Earliest),
        };
        let session = ConsumerSession::connect(
            access,
            self.connector.clone(),
            client,
            subscription,
            timeout,
        )
        .await?;
        let rep = self.rep();
        self.consumers.insert(rep, session);
        Ok(Resource::new_own(rep))
    }

    async fn poll(
        &mut self,
        consumer: Resource<KafkaConsumer>,
        max: u32,
        timeout_ms: u32,
    ) -> Result<wit::PollResult, wit::KafkaError> {
        let session = self
            .consumers
            .get(&consumer.rep())
            .ok_or_else(|| KafkaError::Invalid("this consumer was closed".into()))?;
        let polled = session
            .poll(max as usize, Duration::from_millis(timeout_ms.into()))
            .await?;
        let mut result = wit::PollResult {
            revoked: Vec::new(),
            assigned: Vec::new(),
            records: polled.records.into_iter().map(Into::into).collect(),
        };
        for change in polled.changes {
            match change {
                GroupChange::Revoked(topic, partition) => result
                    .revoked
                    .push(wit::TopicPartition { topic, partition }),
                GroupChange::Assigned(topic, partition) => result
                    .assigned
                    .push(wit::TopicPartition { topic, partition }),
            }
        }
        Ok(result)
    }

    async fn commit(
        &mut self,
        consumer: Resource<KafkaConsumer>,
        offsets: Vec<wit::PartitionOffset>,
    ) -> Result<Vec<wit::TopicPartition>, wit::KafkaError> {
        let session = self
            .consumers
            .get(&consumer.rep())
            .ok_or_else(|| KafkaError::Invalid("this consumer was closed".into()))?;
        let skipped = session
            .commit(
                offsets
                    .into_iter()
                    .map(|o| (o.topic, o.partition, o.offset))
                    .collect(),
            )
            .await?;
        Ok(skipped
            .into_iter()
            .map(|(topic, partition)| wit::TopicPartition { topic, partition })
            .collect())
    }

    async fn lag(&mut self, consumer: Resource<KafkaConsumer>) -> Vec<wit::PartitionLag> {
        let Some(session) = self.consumers.get(&consumer.rep()) else {
            return Vec::new();
        };
        session
            .lag()
            .into_iter()
            .map(|l| wit::PartitionLag {
                topic: l.topic,
                partition: l.partition,
                position: l.position,
                high_watermark: l.high_watermark,
            })
            .collect()
    }

    async fn drop(&mut self, consumer: Resource<KafkaConsumer>) -> wasmtime::Result<()> {
        self.consumers.remove(&consumer.rep());
        Ok(())
    }
}

impl wit::HostProducer for KafkaCapability {
    async fn connect(
        &mut self,
        client: wit::ClientOptions,
        options: wit::ProducerOptions,
    ) -> Result<Resource<KafkaProducer>, wit::KafkaError> {
        let access = self.access()?;
        let (client, timeout) = client_options(client);
        let compression = match options.compression {
            wit::Compression::None => "none",
            wit::Compression::Gzip => "gzip",
            wit::Compression::Snappy => "snappy",
            wit::Compression::Lz4 => "lz4",
            wit::Compression::Zstd => "zstd",
        };
        let session = ProducerSession::connect(
            access,
            self.connector.clone(),
            client,
            compression,
            options.delivery_timeout_ms,
            timeout,
        )
        .await?;
        let rep = self.rep();
        self.producers.insert(rep, session);
        Ok(Resource::new_own(rep))
    }

    async fn send(
        &mut self,
        producer: Resource<KafkaProducer>,
        records: Vec<wit::Produce>,
    ) -> Result<Vec<Result<wit::Delivered, wit::KafkaFailure>>, wit::KafkaError> {
        let session = self
            .producers
            .get_mut(&producer.rep())
            .ok_or_else(|| KafkaError::Invalid("this producer was closed".into()))?;
        let records = records
            .into_iter()
            .map(|r| Produce {
                topic: r.topic,
                key: r.key,
                headers: headers(r.headers),
                payload: r.payload,
                timestamp_ms: r.timestamp_ms,
            })
            .collect();
        let outcomes = session.send(records).await?;
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.map(|(partition, offset)| wit::Delivered { partition, offset })
                    .map_err(Into::into)
            })
            .collect())
    }

    async fn topics_exist(
        &mut self,
        producer: Resource<KafkaProducer>,
        topics: Vec<String>,
    ) -> Result<Vec<bool>, wit::KafkaError> {
        let session = self
            .producers
            .get(&producer.rep())
            .ok_or_else(|| KafkaError::Invalid("this producer was closed".into()))?;
        Ok(session.topics_exist(&topics).await?)
    }

    async fn drop(&mut self, producer: Resource<KafkaProducer>) -> wasmtime::Result<()> {
        self.producers.remove(&producer.rep());
        Ok(())
    }
}
