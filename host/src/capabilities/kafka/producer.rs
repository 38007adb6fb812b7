//! An idempotent producer: a batch in, every record's outcome out, in the order given.

use super::access::KafkaAccess;
use super::cluster;
use super::context::{Callbacks, ClientState};
use super::errors::{Failure, KafkaError};
use super::settings::{self, ClientOptions};
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::sync::Arc;
use std::time::Duration;

/// How long to wait for librdkafka's queue to drain when it is full.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(5);

pub struct Produce {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub payload: Option<Vec<u8>>,
    pub timestamp_ms: Option<i64>,
}

pub struct ProducerSession {
    producer: FutureProducer<Callbacks>,
    /// To start a new producer after a fatal error or a lost identity.
    config: ClientConfig,
    /// The cluster no longer knows this producer's id or epoch (it fenced it, or lost its
    /// state): every later record would fail the same way.
    stale: bool,
    state: Arc<ClientState>,
    timeout: Duration,
}

impl ProducerSession {
    pub async fn connect(
        access: Arc<KafkaAccess>,
        connector: Arc<str>,
        client: ClientOptions,
        compression: &str,
        delivery_timeout_ms: u32,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let config = settings::producer(
            settings::base(&access, &connector, &client)?,
            compression,
            delivery_timeout_ms,
        );
        let state = Arc::new(ClientState::new(connector, access));
        let producer: FutureProducer<Callbacks> =
            config.create_with_context(Callbacks(state.clone()))?;
        let session = Self {
            producer,
            config,
            stale: false,
            state,
            timeout,
        };
        session.topics().await?;
        Ok(session)
    }

    fn check(&self) -> Result<(), KafkaError> {
        match self.state.denied() {
            Some(why) => Err(KafkaError::Denied(why)),
            None => Ok(()),
        }
    }

    async fn topics(&self) -> Result<std::collections::HashSet<String>, KafkaError> {
        let client = self.producer.clone();
        cluster::topics(
            &self.state,
            move |t| client.client().fetch_metadata(None, t),
            self.timeout,
        )
        .await
    }

    pub async fn topics_exist(&self, topics: &[String]) -> Result<Vec<bool>, KafkaError> {
        self.check()?;
        let known = self.topics().await?;
        Ok(topics.iter().map(|t| known.contains(t)).collect())
    }

    /// An idempotent producer that hit a fatal error or lost its identity (a cluster that
    /// forgot or fenced its producer id) fails every later record: replace it, so it asks for
    /// a new id. Its unacknowledged records were reported failed, and are sent again.
    fn revive(&mut self) {
        let why = match self.producer.client().fatal_error() {
            Some((code, reason)) => format!("{code:?}: {reason}"),
            None if self.stale => "the cluster no longer knows its producer id".to_string(),
            None => return,
        };
        tracing::warn!(reason = why, "starting a new Kafka producer");
        self.stale = false;
        match self
            .config
            .create_with_context::<_, FutureProducer<Callbacks>>(Callbacks(self.state.clone()))
        {
            Ok(fresh) => {
                let old = std::mem::replace(&mut self.producer, fresh);
                close_in_background(old);
            }
            Err(e) => tracing::warn!(%e, "starting a new Kafka producer failed"),
        }
    }

    /// Queue every record, then wait for each one's delivery report.
    pub async fn send(
        &mut self,
        records: Vec<Produce>,
    ) -> Result<Vec<Result<(i32, i64), Failure>>, KafkaError> {
        self.check()?;
        self.revive();
        let mut pending = Vec::with_capacity(records.len());
        for r in &records {
            pending.push(self.enqueue(r).await);
        }
        let mut outcomes = Vec::with_capacity(pending.len());
        for p in pending {
            outcomes.push(match p {
                Err(failure) => Err(failure),
                Ok(delivery) => match delivery.await {
                    Ok(Ok(d)) => Ok((d.partition, d.offset)),
                    Ok(Err((e, _))) => {
                        self.stale |= lost_identity(&e);
                        Err(Failure::of(&e))
                    }
                    Err(_) => Err(Failure::of(&RdError::Canceled)),
                },
            });
        }
        Ok(outcomes)
    }

    async fn enqueue(&self, r: &Produce) -> Result<rdkafka::producer::DeliveryFuture, Failure> {
        let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
        for (key, value) in &r.headers {
            headers = headers.insert(Header {
                key,
                value: value.as_deref(),
            });
        }
        loop {
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&r.topic).headers(headers.clone());
            if let Some(k) = &r.key {
                record = record.key(k.as_slice());
            }
            if let Some(p) = &r.payload {
                record = record.payload(p.as_slice());
            }
            if let Some(ts) = r.timestamp_ms {
                record = record.timestamp(ts);
            }
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(QUEUE_FULL_PAUSE).await;
                }
                Err((e, _)) => return Err(Failure::of(&e)),
            }
        }
    }
}

impl Drop for ProducerSession {
    /// librdkafka purges what is still queued (no one waits for it: the connector was told
    /// nothing, so the host redelivers it) and stops its threads: not on the runtime's.
    fn drop(&mut self) {
        close_in_background(self.producer.clone());
    }
}

/// Answers that mean the cluster does not accept this producer's id and epoch any more.
fn lost_identity(e: &RdError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::UnknownProducerId
                | RDKafkaErrorCode::OutOfOrderSequenceNumber
                | RDKafkaErrorCode::InvalidProducerIdMapping
        )
    )
}

fn close_in_background(producer: FutureProducer<Callbacks>) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn_blocking(move || drop(producer));
    }
}
