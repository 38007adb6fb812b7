//! One producer publishing one topic's share of records, in the order it was given them.
//! A failed send is retried with backoff on a rebuilt producer (fresh client, `create` again)
//! until it succeeds: a record is never skipped, and the ones behind it wait.

use super::connection::{DanubeError, Timeouts};
use super::shared_client::SharedClient;
use crate::backoff::Backoff;
use danube_client::Producer;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// A record on its way to Danube; `batch` says which poll it came from.
pub struct Outgoing {
    pub batch: u64,
    pub key: Option<String>,
    pub attributes: HashMap<String, String>,
    pub payload: Vec<u8>,
    /// The schema it is published under.
    pub schema: Option<Arc<SchemaRef>>,
}

/// What lanes tell the runtime.
pub enum LaneEvent {
    /// Danube acknowledged a record of `batch` on `topic`.
    Published {
        batch: u64,
        topic: Arc<str>,
        took: std::time::Duration,
    },
    /// A send or producer creation failed; the lane retries after `retry_in`.
    Failed {
        topic: Arc<str>,
        error: DanubeError,
        retry_in: std::time::Duration,
        attempt: u32,
    },
}

/// Shared by every lane of a connector.
pub struct LaneSettings {
    pub connector: String,
    pub client: SharedClient,
    pub timeouts: Timeouts,
    pub reliable: bool,
    pub backoff: Backoff,
}

/// A registry subject and the version of it a producer publishes under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRef {
    pub subject: String,
    pub version: u32,
}

pub struct LaneSpec {
    pub topic: Arc<str>,
    pub index: usize,
    /// 0: not partitioned.
    pub partitions: usize,
    pub settings: Arc<LaneSettings>,
}

pub async fn run(
    spec: LaneSpec,
    mut queue: mpsc::Receiver<Outgoing>,
    events: mpsc::UnboundedSender<LaneEvent>,
) {
    // The producer, the client generation it was built on and the schema it carries.
    let mut producer: Option<(Producer, u64, Option<Arc<SchemaRef>>)> = None;
    let mut attempt = 0u32;
    while let Some(record) = queue.recv().await {
        // A producer carries one schema version: a record under another one (a table's new
        // version after DDL) gets a producer of its own, in order.
        if producer
            .as_ref()
            .is_some_and(|(_, _, s)| *s != record.schema)
        {
            producer = None;
        }
        loop {
            let started = Instant::now();
            let result = match producer.as_ref() {
                Some((p, _, _)) => send(p, &spec, &record).await,
                None => match create(&spec, record.schema.as_deref()).await {
                    Ok((built, generation)) => {
                        let sent = send(&built, &spec, &record).await;
                        producer = Some((built, generation, record.schema.clone()));
                        sent
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(()) => {
                    attempt = 0;
                    let published = LaneEvent::Published {
                        batch: record.batch,
                        topic: spec.topic.clone(),
                        took: started.elapsed(),
                    };
                    if events.send(published).is_err() {
                        return;
                    }
                    break;
                }
                Err(error) => {
                    // After a broker restart a producer fails until it is created again, and
                    // the old client's channels may be dead: start over with both.
                    if let Some((_, generation, _)) = producer.take() {
                        spec.settings.client.discard(generation).await;
                    }
                    let retry_in = spec.settings.backoff.delay(attempt, None);
                    attempt = attempt.saturating_add(1);
                    let failed = LaneEvent::Failed {
                        topic: spec.topic.clone(),
                        error,
                        retry_in,
                        attempt,
                    };
                    if events.send(failed).is_err() {
                        return;
                    }
                    tokio::time::sleep(retry_in).await;
                }
            }
        }
    }
}

pub(super) async fn create(
    spec: &LaneSpec,
    schema: Option<&SchemaRef>,
) -> Result<(Producer, u64), DanubeError> {
    let s = &spec.settings;
    let lease = s.client.get().await?;
    let mut builder = lease
        .client
        .new_producer()
        .with_topic(&*spec.topic)
        .with_name(format!(
            "{}-{}-{}-{:08x}",
            s.connector,
            spec.index,
            std::process::id(),
            rand::random::<u32>()
        ));
    if s.reliable {
        builder = builder.with_reliable_dispatch();
    }
    if spec.partitions > 0 {
        builder = builder.with_partitions(spec.partitions);
    }
    if let Some(schema) = schema {
        builder = builder.with_schema_version(&schema.subject, schema.version);
    }
    let mut producer = builder.build().map_err(|source| DanubeError::Client {
        what: format!("configuring a producer for {}", spec.topic),
        source,
    })?;
    let created = s
        .timeouts
        .run(
            || format!("creating a producer for {}", spec.topic),
            producer.create(),
        )
        .await;
    if let Err(e) = created {
        // A client that cannot create a producer may be dead: the next attempt gets a new one.
        s.client.discard(lease.generation).await;
        return Err(e);
    }
    Ok((producer, lease.generation))
}

async fn send(producer: &Producer, spec: &LaneSpec, record: &Outgoing) -> Result<(), DanubeError> {
    let what = || format!("publishing to {}", spec.topic);
    let attributes = (!record.attributes.is_empty()).then(|| record.attributes.clone());
    let payload = record.payload.clone();
    let timeouts = spec.settings.timeouts;
    match &record.key {
        Some(key) => {
            timeouts
                .run(what, producer.send_with_key(payload, attributes, key))
                .await?
        }
        None => {
            timeouts
                .run(what, producer.send(payload, attributes))
                .await?
        }
    };
    Ok(())
}
