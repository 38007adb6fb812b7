//! One producer publishing one topic's share of records. Records with the same key (and,
//! when their order is kept, records without one) go out in the order the lane was given
//! them, one at a time; records with different keys may be in flight together, up to
//! `sends_in_flight`, through [`DirectProducer`]. A lane that holds a topic's total order
//! (the topic's only producer) sends one record at a time.
//!
//! A failed send is retried with backoff on a rebuilt producer (fresh client, `create` again)
//! until it succeeds: a record is never skipped, and the ones behind it wait.

use super::connection::{DanubeError, Timeouts};
use super::direct_producer::DirectProducer;
use super::shared_client::SharedClient;
use crate::backoff::Backoff;
use crate::client::direct::Direct;
use bytes::Bytes;
use danube_client::Producer;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::mpsc;

/// A record on its way to Danube; `batch` says which poll it came from.
pub struct Outgoing {
    pub batch: u64,
    pub key: Option<String>,
    pub attributes: HashMap<String, String>,
    pub payload: Bytes,
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
    /// Sends a producer keeps in flight when records need only their key's order.
    pub sends_in_flight: usize,
    /// Danube's gRPC reached directly, for sends in flight together; `None`: one at a time.
    pub direct: Option<Arc<Direct>>,
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
    /// Records only keep their key's order here (the topic has other lanes): different keys
    /// may be in flight together.
    pub key_order_only: bool,
    /// Records without a key keep their order.
    pub unkeyed_ordered: bool,
    pub settings: Arc<LaneSettings>,
}

pub async fn run(
    spec: LaneSpec,
    mut queue: mpsc::Receiver<Outgoing>,
    events: mpsc::UnboundedSender<LaneEvent>,
) {
    let mut lane = Lane {
        spec,
        events,
        producer: None,
        direct: None,
        refused_direct: false,
        attempt: 0,
    };
    let limit = if lane.spec.key_order_only {
        lane.spec.settings.sends_in_flight.max(1)
    } else {
        1
    };
    let mut flying = FuturesUnordered::new();
    // Taken from the queue but not started: its key is in flight, or the lane is full.
    let mut waiting: Option<Outgoing> = None;
    // Sends that failed, retried in the order they were taken before anything else starts.
    let mut failed: Vec<(u64, Outgoing)> = Vec::new();
    let mut taken = 0u64;
    loop {
        if waiting.is_none() && failed.is_empty() {
            let next = if flying.is_empty() {
                queue.recv().await
            } else {
                tokio::select! {
                    biased;
                    Some(done) = flying.next() => {
                        lane.finished(done, &mut failed);
                        continue;
                    }
                    next = queue.recv() => next,
                }
            };
            match next {
                Some(record) => waiting = Some(record),
                // The publisher is gone: what is still in flight no longer matters.
                None => return,
            }
        }
        if !failed.is_empty() {
            // Let everything in flight finish, then retry the failures one by one, in order,
            // on a new producer: a record is never skipped, and its key's followers wait.
            while let Some(done) = flying.next().await {
                lane.finished(done, &mut failed);
            }
            failed.sort_by_key(|(seq, _)| *seq);
            lane.direct = None;
            for (_, record) in std::mem::take(&mut failed) {
                if !lane.send_until_persisted(record).await {
                    return;
                }
            }
            continue;
        }
        let Some(record) = waiting.take() else {
            continue;
        };
        let pipelined = limit > 1 && lane.may_pipeline(&record).await;
        if !pipelined {
            while let Some(done) = flying.next().await {
                lane.finished(done, &mut failed);
            }
            if !failed.is_empty() {
                waiting = Some(record);
                continue;
            }
            if !lane.send_until_persisted(record).await {
                return;
            }
            continue;
        }
        let hold = lane.hold_of(&record);
        let busy = hold.is_some_and(|h| flying.iter().any(|f: &Flying| f.hold == Some(h)));
        if busy || flying.len() >= limit {
            waiting = Some(record);
            if let Some(done) = flying.next().await {
                lane.finished(done, &mut failed);
            }
            continue;
        }
        let Some(direct) = lane.direct.as_mut() else {
            // `may_pipeline` said yes, so there is a direct producer; should there not be,
            // the record takes the client's path rather than being lost.
            waiting = Some(record);
            lane.refused_direct = true;
            continue;
        };
        let send = direct.send(&record);
        let timeouts = lane.spec.settings.timeouts;
        let topic = lane.spec.topic.clone();
        taken += 1;
        let seq = taken;
        flying.push(Flying {
            hold,
            fut: Box::pin(async move {
                let started = Instant::now();
                let result = timeouts
                    .run(|| format!("publishing to {topic}"), send)
                    .await;
                (seq, record, started, result)
            }),
        });
    }
}

type Sent = (u64, Outgoing, Instant, Result<(), DanubeError>);

/// A send in flight, with the hold it keeps on its key.
struct Flying {
    hold: Option<u64>,
    fut: Pin<Box<dyn Future<Output = Sent> + Send>>,
}

impl Future for Flying {
    type Output = Sent;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Sent> {
        self.fut.as_mut().poll(cx)
    }
}

struct Lane {
    spec: LaneSpec,
    events: mpsc::UnboundedSender<LaneEvent>,
    /// The producer, the client generation it was built on, its name and its schema.
    producer: Option<Built>,
    /// Sends to `producer` that may be in flight together.
    direct: Option<DirectProducer>,
    /// Taking over `producer`'s sends failed: it sends one at a time until it is rebuilt.
    refused_direct: bool,
    attempt: u32,
}

struct Built {
    producer: Producer,
    generation: u64,
    name: String,
    schema: Option<Arc<SchemaRef>>,
}

impl Lane {
    /// What `record` keeps to itself while in flight: a hash of its key, or one hold shared
    /// by every unkeyed record when their order is kept. `None`: nothing.
    fn hold_of(&self, record: &Outgoing) -> Option<u64> {
        match &record.key {
            Some(key) => Some(BuildHasherDefault::<DefaultHasher>::default().hash_one(key)),
            None if self.spec.unkeyed_ordered => Some(0),
            None => None,
        }
    }

    /// Whether `record` may go out beside others: only records without a schema on a
    /// topic without partitions, once a producer exists to take over. Without one (or when
    /// taking over fails) records go through the client, one at a time.
    async fn may_pipeline(&mut self, record: &Outgoing) -> bool {
        if self.spec.partitions > 0 || record.schema.is_some() || self.refused_direct {
            return false;
        }
        let Some(direct) = self.spec.settings.direct.clone() else {
            return false;
        };
        if self.direct.is_some() && self.producer.as_ref().is_some_and(|b| b.schema.is_none()) {
            return true;
        }
        let Some(built) = self.producer.as_ref().filter(|b| b.schema.is_none()) else {
            // The first record makes the producer through the client.
            return false;
        };
        let s = &self.spec.settings;
        match DirectProducer::attach(
            direct,
            self.spec.topic.clone(),
            built.name.clone(),
            s.reliable,
            s.timeouts,
        )
        .await
        {
            Ok(d) => {
                self.direct = Some(d);
                true
            }
            Err(e) => {
                tracing::debug!(topic = %self.spec.topic, "sending one at a time: {e}");
                self.refused_direct = true;
                false
            }
        }
    }

    /// Account for a send that ended: report it, or keep the record for its retry.
    fn finished(
        &mut self,
        (seq, record, started, result): Sent,
        failed: &mut Vec<(u64, Outgoing)>,
    ) {
        match result {
            Ok(()) => {
                self.attempt = 0;
                let _ = self.events.send(LaneEvent::Published {
                    batch: record.batch,
                    topic: self.spec.topic.clone(),
                    took: started.elapsed(),
                });
            }
            Err(error) => {
                if failed.is_empty() {
                    let _ = self.events.send(LaneEvent::Failed {
                        topic: self.spec.topic.clone(),
                        error,
                        retry_in: std::time::Duration::ZERO,
                        attempt: 1,
                    });
                }
                failed.push((seq, record));
            }
        }
    }

    /// Send `record` through the client, retrying with backoff on a rebuilt producer until
    /// Danube has it. `false`: the runtime is gone.
    async fn send_until_persisted(&mut self, record: Outgoing) -> bool {
        // A producer carries one schema version: a record under another one (a table's new
        // version after DDL) gets a producer of its own, in order.
        if self
            .producer
            .as_ref()
            .is_some_and(|b| b.schema != record.schema)
        {
            self.producer = None;
            self.direct = None;
        }
        loop {
            let started = Instant::now();
            let result = match self.producer.as_ref() {
                Some(b) => send(&b.producer, &self.spec, &record).await,
                None => match create(&self.spec, record.schema.as_deref()).await {
                    Ok((producer, generation, name)) => {
                        let sent = send(&producer, &self.spec, &record).await;
                        self.refused_direct = false;
                        self.producer = Some(Built {
                            producer,
                            generation,
                            name,
                            schema: record.schema.clone(),
                        });
                        sent
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(()) => {
                    self.attempt = 0;
                    let published = LaneEvent::Published {
                        batch: record.batch,
                        topic: self.spec.topic.clone(),
                        took: started.elapsed(),
                    };
                    return self.events.send(published).is_ok();
                }
                Err(error) => {
                    // After a broker restart a producer fails until it is created again, and
                    // the old client's channels may be dead: start over with both.
                    self.direct = None;
                    if let Some(b) = self.producer.take() {
                        self.spec.settings.client.discard(b.generation).await;
                    }
                    let retry_in = self.spec.settings.backoff.delay(self.attempt, None);
                    self.attempt = self.attempt.saturating_add(1);
                    let failed = LaneEvent::Failed {
                        topic: self.spec.topic.clone(),
                        error,
                        retry_in,
                        attempt: self.attempt,
                    };
                    if self.events.send(failed).is_err() {
                        return false;
                    }
                    tokio::time::sleep(retry_in).await;
                }
            }
        }
    }
}

/// A producer for the lane through the client, with the client generation it was built on
/// and its name.
pub(super) async fn create(
    spec: &LaneSpec,
    schema: Option<&SchemaRef>,
) -> Result<(Producer, u64, String), DanubeError> {
    let s = &spec.settings;
    let lease = s.client.get().await?;
    let name = format!(
        "{}-{}-{}-{:08x}",
        s.connector,
        spec.index,
        std::process::id(),
        rand::random::<u32>()
    );
    let mut builder = lease
        .client
        .new_producer()
        .with_topic(&*spec.topic)
        .with_name(&name);
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
    Ok((producer, lease.generation, name))
}

async fn send(producer: &Producer, spec: &LaneSpec, record: &Outgoing) -> Result<(), DanubeError> {
    let what = || format!("publishing to {}", spec.topic);
    let attributes = (!record.attributes.is_empty()).then(|| record.attributes.clone());
    let payload = record.payload.to_vec();
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
