//! Publishes a source's records: several producer lanes per destination topic, created on
//! first use, with records spread by key hash so records with the same key keep their order.

use super::lane::{self, LaneEvent, LaneSettings, LaneSpec, Outgoing};
use crate::capabilities::topics::TopicPartitions;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub struct PublisherSettings {
    pub lanes: Arc<LaneSettings>,
    pub lanes_per_topic: usize,
    pub keep_unkeyed_order: bool,
    pub default_partitions: usize,
    /// Records a lane may hold before `send` waits.
    pub lane_queue: usize,
}

struct Topic {
    lanes: Vec<mpsc::Sender<Outgoing>>,
    /// Round robin for unkeyed records when their order need not be kept.
    next: usize,
}

pub struct Publisher {
    settings: PublisherSettings,
    partitions: TopicPartitions,
    topics: HashMap<Arc<str>, Topic>,
    /// Topics created ahead of their lanes by [`Publisher::create_first`].
    created: HashSet<String>,
    tasks: Vec<JoinHandle<()>>,
    events_tx: mpsc::UnboundedSender<LaneEvent>,
    events: mpsc::UnboundedReceiver<LaneEvent>,
}

impl Publisher {
    pub fn new(settings: PublisherSettings, partitions: TopicPartitions) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        Self {
            settings,
            partitions,
            topics: HashMap::new(),
            created: HashSet::new(),
            tasks: Vec::new(),
            events_tx,
            events,
        }
    }

    /// Queue a record on its topic's lane; waits while that lane is full (backpressure).
    pub async fn send(&mut self, topic: &str, record: Outgoing) {
        let lanes_per_topic = self.settings.lanes_per_topic;
        let keep_order = self.settings.keep_unkeyed_order;
        let entry = match self.topics.get_mut(topic) {
            Some(t) => t,
            None => self.open_topic(topic),
        };
        let lane = match &record.key {
            Some(key) => lane_for_key(key, lanes_per_topic),
            None if keep_order => 0,
            None => {
                entry.next = (entry.next + 1) % lanes_per_topic;
                entry.next
            }
        };
        // A lane only ends when the publisher is dropped, so this cannot fail while `self`
        // lives; if it did, the record stays un-acknowledged and is polled again upstream.
        let _ = entry.lanes[lane].send(record).await;
    }

    /// What the lanes reported: publishes and failures.
    pub fn events(&mut self) -> &mut mpsc::UnboundedReceiver<LaneEvent> {
        &mut self.events
    }

    /// Create `topic` now if no lane has yet. danube-broker v0.15.1 takes `<topic>-dlq`,
    /// created first, for a partition of `<topic>` and then refuses to create `<topic>` at
    /// all: a source whose first record is dead-lettered must create its topic before the
    /// dead-letter topic. A failure is left to the lanes, which retry.
    pub async fn create_first(&mut self, topic: &str) {
        if self.topics.contains_key(topic) || self.created.contains(topic) {
            return;
        }
        self.created.insert(topic.to_string());
        let spec = LaneSpec {
            topic: topic.into(),
            index: 0,
            partitions: self.partitions_of(topic),
            key_order_only: false,
            unkeyed_ordered: true,
            settings: self.settings.lanes.clone(),
        };
        if let Err(e) = lane::create(&spec, None).await {
            tracing::debug!(
                topic,
                "creating the topic ahead of its dead-letter topic: {e}"
            );
        }
    }

    fn partitions_of(&self, topic: &str) -> usize {
        self.partitions
            .lock()
            .ok()
            .and_then(|p| p.get(topic).map(|&n| n as usize))
            .unwrap_or(self.settings.default_partitions)
    }

    fn open_topic(&mut self, topic: &str) -> &mut Topic {
        let name: Arc<str> = topic.into();
        let partitions = self.partitions_of(topic);
        let lanes = (0..self.settings.lanes_per_topic)
            .map(|index| {
                let (tx, rx) = mpsc::channel(self.settings.lane_queue.max(1));
                let spec = LaneSpec {
                    topic: name.clone(),
                    index,
                    partitions,
                    key_order_only: self.settings.lanes_per_topic > 1,
                    unkeyed_ordered: self.settings.keep_unkeyed_order,
                    settings: self.settings.lanes.clone(),
                };
                self.tasks
                    .push(tokio::spawn(lane::run(spec, rx, self.events_tx.clone())));
                tx
            })
            .collect();
        self.topics.entry(name).or_insert(Topic { lanes, next: 0 })
    }
}

impl Drop for Publisher {
    /// Records still queued are never acknowledged, so their positions are never committed:
    /// the external system hands them over again.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The same key always takes the same lane (within this process), which keeps its order.
pub fn lane_for_key(key: &str, lanes: usize) -> usize {
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
    (hash % lanes.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_takes_the_same_lane_and_keys_spread() {
        let lanes: Vec<usize> = (0..1000)
            .map(|i| lane_for_key(&format!("device-{i}"), 4))
            .collect();
        for (i, &lane) in lanes.iter().enumerate() {
            assert_eq!(lane, lane_for_key(&format!("device-{i}"), 4));
            assert!(lane < 4);
        }
        for lane in 0..4 {
            let n = lanes.iter().filter(|&&l| l == lane).count();
            assert!(n > 150, "lane {lane} got only {n} of 1000 keys");
        }
        assert_eq!(lane_for_key("anything", 1), 0);
    }
}
