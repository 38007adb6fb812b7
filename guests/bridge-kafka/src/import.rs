//! Kafka → Danube (the source role): a consumer-group member whose offsets are committed only
//! after Danube persisted the records read before them.

use crate::attributes::{self as attr, FROM_DANUBE, FROM_KAFKA};
use crate::config::{ImportSettings, RawConfig};
use crate::encode;
use crate::offsets::{self, Commit, Offsets};
use danube_connect_sdk::kafka::{Consumed, Consumer, PollResult};
use danube_connect_sdk::{Config, Error, Position, Record, Source, log, metrics};
use std::time::{Duration, Instant};

pub struct KafkaImport {
    settings: ImportSettings,
    consumer: Consumer,
    offsets: Offsets,
    lag_reported: Instant,
}

impl Source for KafkaImport {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.import()?;
        let consumer = Consumer::connect(&settings.common.client, &settings.consumer)
            .map_err(|e| crate::cannot_start("consumer", e))?;
        log::info_with(
            "consuming from Kafka",
            &[
                ("group", &settings.consumer.group_id),
                ("topics", &settings.consumer.topics.join(",")),
            ],
        );
        Ok(KafkaImport {
            settings,
            consumer,
            offsets: Offsets::default(),
            lag_reported: Instant::now(),
        })
    }

    fn poll(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<Record>, Error> {
        let PollResult {
            revoked,
            assigned,
            records,
        } = self.consumer.poll(max_records, timeout_ms)?;
        for tp in &revoked {
            self.offsets.revoked(&tp.topic, tp.partition);
        }
        if !revoked.is_empty() || !assigned.is_empty() {
            log::info_with(
                "Kafka group rebalanced",
                &[("revoked", &revoked.len()), ("assigned", &assigned.len())],
            );
        }
        let mut out = Vec::with_capacity(records.len());
        let mut skipped: Vec<Commit> = Vec::new();
        for c in records {
            if self.came_from_danube(&c) {
                skipped.extend(self.offsets.skipped(&c.topic, c.partition, c.offset));
                continue;
            }
            out.push(self.record(c));
        }
        if !skipped.is_empty() {
            self.commit_offsets(skipped)?;
        }
        if !out.is_empty() {
            metrics::counter_add(
                "kafka_records_total",
                out.len() as u64,
                &[("direction", "import")],
            );
        }
        self.report_lag();
        Ok(out)
    }

    fn commit(&mut self, positions: Vec<Position>) -> Result<(), Error> {
        let commits: Vec<Commit> = positions
            .iter()
            .filter_map(|p| self.offsets.persisted(&p.stream_id, &p.value))
            .collect();
        self.commit_offsets(commits)
    }
}

impl KafkaImport {
    fn came_from_danube(&self, c: &Consumed) -> bool {
        c.headers.iter().any(|h| {
            h.key == self.settings.common.provenance
                && h.value.as_deref() == Some(FROM_DANUBE.as_bytes())
        })
    }

    fn record(&mut self, mut c: Consumed) -> Record {
        let position = self.offsets.handed(&c.topic, c.partition, c.offset);
        let stream = offsets::stream_id(&c.topic, c.partition);
        let tombstone = c.payload.is_none();
        let mut record = Record::new(c.payload.take().unwrap_or_default());
        record = match self.settings.routes.map(&c.topic) {
            Ok(topic) => record.with_topic(topic),
            Err(why) => record.dead_letter(why),
        };
        if let Some(key) = &c.key {
            record = record.with_key(encode::to_text(key));
        }
        for h in &c.headers {
            let value = h.value.as_deref().map(encode::to_text).unwrap_or_default();
            record = record.with_attribute(attr::attribute_for_header(&h.key), value);
        }
        record = record
            .with_attribute(attr::TOPIC, c.topic.clone())
            .with_attribute(attr::PARTITION, c.partition.to_string())
            .with_attribute(attr::OFFSET, c.offset.to_string());
        if let Some(ts) = c.timestamp_ms {
            record = record.with_attribute(attr::TIMESTAMP, ts.to_string());
        }
        if tombstone {
            record = record.with_attribute(attr::TOMBSTONE, "true");
        }
        record
            .with_attribute(self.settings.common.provenance.clone(), FROM_KAFKA)
            .with_position(stream, position)
    }

    fn commit_offsets(&mut self, commits: Vec<Commit>) -> Result<(), Error> {
        if commits.is_empty() {
            return Ok(());
        }
        // One offset per partition: the furthest.
        let mut furthest: Vec<Commit> = Vec::new();
        for (topic, partition, offset) in commits {
            match furthest
                .iter_mut()
                .find(|(t, p, _)| *t == topic && *p == partition)
            {
                Some(c) => c.2 = c.2.max(offset),
                None => furthest.push((topic, partition, offset)),
            }
        }
        let offsets = furthest
            .into_iter()
            .map(
                |(topic, partition, offset)| danube_connect_sdk::kafka::PartitionOffset {
                    topic,
                    partition,
                    offset,
                },
            )
            .collect::<Vec<_>>();
        let skipped = self.consumer.commit(&offsets)?;
        for tp in skipped {
            log::debug_with(
                "not committing a partition the group moved away",
                &[("topic", &tp.topic), ("partition", &tp.partition)],
            );
        }
        Ok(())
    }

    fn report_lag(&mut self) {
        let every = Duration::from_millis(self.settings.lag_interval_ms.into());
        if self.settings.lag_interval_ms == 0 || self.lag_reported.elapsed() < every {
            return;
        }
        self.lag_reported = Instant::now();
        for l in self.consumer.lag() {
            if let Some(position) = l.position {
                let partition = l.partition.to_string();
                metrics::gauge_set(
                    "kafka_consumer_lag",
                    (l.high_watermark - position).max(0) as f64,
                    &[("topic", &l.topic), ("partition", &partition)],
                );
            }
        }
    }
}
