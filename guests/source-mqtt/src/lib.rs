//! MQTT source: subscribes to MQTT topic filters through the host's `mqtt` capability and
//! turns each message into a record for the mapped Danube topic. A QoS 1/2 message is
//! acknowledged to the MQTT broker only when the host commits its position, i.e. after Danube
//! persisted it. See `README.md` for every option.

mod config;
mod convert;
mod key;
mod route;

use config::{RawConfig, Settings};
use danube_connect_sdk::mqtt::{Client, Subscription};
use danube_connect_sdk::{
    Config, DEAD_LETTER_ATTRIBUTE, Error, Position, Record, Source, export_source, log, topics,
};
use std::collections::HashSet;

pub struct MqttSource {
    settings: Settings,
    client: Client,
    /// Topics whose partition count was handed to the host already.
    declared: HashSet<String>,
    /// Ack ids of messages dead-lettered as invalid: acknowledged as such on commit, which
    /// the host's MQTT server passes on to MQTT 5 devices.
    invalid: HashSet<u64>,
}

impl Source for MqttSource {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.validate()?;
        let client = Client::connect(&settings.connect)?;
        let mut subscriptions: Vec<Subscription> = Vec::new();
        for m in &settings.mappings {
            let filter = settings.subscription_filter(&m.filter);
            if !subscriptions.iter().any(|s| s.filter == filter) {
                subscriptions.push(Subscription { filter, qos: m.qos });
            }
        }
        let granted = client.subscribe(&subscriptions)?;
        for (s, g) in subscriptions.iter().zip(&granted) {
            if g.level() < s.qos.level() {
                log::warn(&format!(
                    "the broker granted QoS {} instead of {} for {}",
                    g.level(),
                    s.qos.level(),
                    s.filter
                ));
            }
        }
        let mut source = MqttSource {
            settings,
            client,
            declared: HashSet::new(),
            invalid: HashSet::new(),
        };
        for m in source.settings.mappings.clone() {
            if m.topic.is_fixed()
                && let Ok(topic) = m.topic.render("")
            {
                source.declare(&topic, m.partitions);
            }
        }
        Ok(source)
    }

    fn poll(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<Record>, Error> {
        let deliveries = self.client.receive(max_records, timeout_ms)?;
        let mut records = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let (record, mapping) = convert::to_record(d, &self.settings.mappings);
            if let (Some(topic), Some(m)) = (&record.topic, mapping)
                && !self.declared.contains(topic)
            {
                let (topic, partitions) = (topic.clone(), self.settings.mappings[m].partitions);
                self.declare(&topic, partitions);
            }
            if record
                .attributes
                .iter()
                .any(|(name, _)| name == DEAD_LETTER_ATTRIBUTE)
                && let Some(id) = record.position.as_ref().and_then(|p| p.value.parse().ok())
            {
                self.invalid.insert(id);
            }
            records.push(record);
        }
        Ok(records)
    }

    fn commit(&mut self, positions: Vec<Position>) -> Result<(), Error> {
        let mut ids = Vec::with_capacity(positions.len());
        for p in positions.iter().filter(|p| p.stream_id == convert::STREAM) {
            match p.value.parse::<u64>() {
                Ok(id) => ids.push(id),
                Err(_) => log::warn(&format!("ignoring position \"{}\": not an ack id", p.value)),
            }
        }
        // In the order received, a run of valid and a run of invalid ones at a time.
        let invalid = &self.invalid;
        let runs: Vec<(bool, &[u64])> = ids
            .chunk_by(|a, b| invalid.contains(a) == invalid.contains(b))
            .map(|run| (invalid.contains(&run[0]), run))
            .collect();
        for (bad, run) in runs {
            if bad {
                for id in run {
                    self.invalid.remove(id);
                }
                self.client.ack_invalid(run)?;
            } else {
                self.client.ack(run)?;
            }
        }
        Ok(())
    }
}

impl MqttSource {
    fn declare(&mut self, topic: &str, partitions: u32) {
        if partitions > 0 {
            topics::set_partitions(topic, partitions);
        }
        self.declared.insert(topic.to_string());
    }
}

export_source!(MqttSource);
