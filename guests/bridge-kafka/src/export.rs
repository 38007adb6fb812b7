//! Danube → Kafka (the sink role): each message becomes a Kafka record; a message is acked
//! only once Kafka acknowledged its record, and a record Kafka will never take is dead-lettered.

use crate::attributes::{self as attr, FROM_DANUBE, FROM_KAFKA};
use crate::config::{ExportSettings, RawConfig};
use crate::encode;
use danube_connect_sdk::kafka::{Header, Produce, Producer};
use danube_connect_sdk::{BatchError, Config, Error, Message, Sink, log, metrics};
use std::collections::HashSet;

/// How long to wait before trying a topic Kafka did not know again.
const MISSING_TOPIC_RETRY_MS: u32 = 5_000;

pub struct KafkaExport {
    settings: ExportSettings,
    producer: Producer,
    /// Kafka topics seen to exist.
    known: HashSet<String>,
}

impl Sink for KafkaExport {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.export()?;
        let producer = Producer::connect(&settings.common.client, settings.producer)
            .map_err(|e| crate::cannot_start("producer", e))?;
        Ok(KafkaExport {
            settings,
            producer,
            known: HashSet::new(),
        })
    }

    fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
        let mut failed: Vec<(u32, Error)> = Vec::new();
        let mut sent: Vec<u32> = Vec::with_capacity(batch.len());
        let mut records: Vec<Produce> = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            let i = i as u32;
            if m.attribute(&self.settings.common.provenance) == Some(FROM_KAFKA) {
                continue; // imported from Kafka: it is there already
            }
            let topic = match self.settings.routes.map(m.topic()) {
                Ok(t) => t,
                Err(why) => {
                    failed.push((i, Error::invalid_data(why)));
                    continue;
                }
            };
            if let Err(e) = self.check_topic(&topic, m.topic()) {
                failed.push((i, e));
                continue;
            }
            sent.push(i);
            records.push(self.record(m, topic));
        }
        if !records.is_empty() {
            let outcomes = self
                .producer
                .send(&records)
                .map_err(|e| BatchError::all(e.into()))?;
            let mut delivered = 0u64;
            for (i, outcome) in sent.into_iter().zip(outcomes) {
                match outcome {
                    Ok(_) => delivered += 1,
                    Err(f) => failed.push((i, f.into())),
                }
            }
            metrics::counter_add("kafka_records_total", delivered, &[("direction", "export")]);
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(BatchError::some(failed))
        }
    }
}

impl KafkaExport {
    /// A topic Kafka does not know is retried, not dead-lettered: creating it lets the
    /// waiting messages flow.
    fn check_topic(&mut self, topic: &str, from: &str) -> Result<(), Error> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let exists = self.producer.topics_exist(&[topic.to_string()])?;
        if exists.first() == Some(&true) {
            self.known.insert(topic.to_string());
            return Ok(());
        }
        log::error_with(
            "the Kafka topic does not exist; create it",
            &[("kafka_topic", &topic), ("danube_topic", &from)],
        );
        Err(Error::retry_after(
            format!("Kafka topic {topic} (for Danube topic {from}) does not exist; create it"),
            MISSING_TOPIC_RETRY_MS,
        ))
    }

    fn record(&self, m: &Message, topic: String) -> Produce {
        let mut headers: Vec<Header> = m
            .attributes()
            .iter()
            .filter(|(k, _)| *k != attr::TOMBSTONE)
            .map(|(k, v)| Header {
                key: attr::header_for_attribute(k).to_string(),
                value: Some(encode::to_bytes(v)),
            })
            .collect();
        headers.push(Header {
            key: self.settings.common.provenance.clone(),
            value: Some(FROM_DANUBE.as_bytes().to_vec()),
        });
        let tombstone = m.attribute(attr::TOMBSTONE) == Some("true");
        Produce {
            topic,
            key: m.key().map(encode::to_bytes),
            headers,
            payload: (!tombstone).then(|| m.payload().to_vec()),
            timestamp_ms: i64::try_from(m.publish_time() / 1_000).ok(),
        }
    }
}
