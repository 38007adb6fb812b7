//! Broker-wide state: the topic registry and who is connected.

use super::locks::{read, write};
use super::names::{namespace_of, partition_of};
use super::options::BrokerOptions;
use super::schemas::Registry;
use super::topic::Topic;
use danube_core::proto::DispatchStrategy;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tonic::Status;

/// Where a registered consumer reads from.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerEntry {
    pub(crate) topic: Arc<Topic>,
    pub(crate) subscription: String,
}

#[derive(Debug)]
pub(crate) struct BrokerState {
    url: String,
    options: BrokerOptions,
    serving: AtomicBool,
    refuse_publishes: AtomicBool,
    /// Ids for producers, consumers and streams; never reused, even across
    /// restarts, so a stale client id cannot match a new registration.
    next_id: AtomicU64,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    producers: RwLock<HashMap<u64, Arc<Topic>>>,
    consumers: RwLock<HashMap<u64, ConsumerEntry>>,
    schemas: Mutex<Registry>,
}

impl BrokerState {
    pub(crate) fn new(url: String, options: BrokerOptions) -> Self {
        Self {
            url,
            options,
            serving: AtomicBool::new(false),
            refuse_publishes: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            topics: RwLock::default(),
            producers: RwLock::default(),
            consumers: RwLock::default(),
            schemas: Mutex::default(),
        }
    }

    /// The schema registry; it outlives restarts, as the real broker stores it.
    pub(crate) fn schemas(&self) -> &Mutex<Registry> {
        &self.schemas
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn set_serving(&self, serving: bool) {
        self.serving.store(serving, Ordering::SeqCst);
    }

    /// Calls still in progress on a stopped broker must not change its state.
    pub(crate) fn check_serving(&self) -> Result<(), Status> {
        if self.serving.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Status::unavailable("the broker is stopped"))
        }
    }

    pub(crate) fn set_refuse_publishes(&self, refuse: bool) {
        self.refuse_publishes.store(refuse, Ordering::SeqCst);
    }

    /// How long this publish waits before it is stored (`BrokerOptions::publish_jitter`).
    pub(crate) fn publish_delay(&self, request_id: u64) -> Option<std::time::Duration> {
        use std::hash::BuildHasher;
        let jitter = self.options.publish_jitter?;
        let random = std::hash::RandomState::new().hash_one(request_id);
        Some(jitter.mul_f64((random % 1000) as f64 / 1000.0))
    }

    pub(crate) fn refuses_publishes(&self) -> bool {
        self.refuse_publishes.load(Ordering::SeqCst)
    }

    /// A topic consumers may use: only producers create topics, so a missing one is NotFound,
    /// worded as the real broker words it.
    pub(crate) fn existing_topic(&self, name: &str) -> Result<Arc<Topic>, tonic::Status> {
        self.topic(name)
            .ok_or_else(|| tonic::Status::not_found(format!("Unable to find the topic: {name}")))
    }

    pub(crate) fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        read(&self.topics).get(name).cloned()
    }

    /// The topic a producer publishes to, created on first use with the
    /// producer's dispatch strategy.
    pub(crate) fn topic_for_producer(
        &self,
        name: &str,
        strategy: DispatchStrategy,
    ) -> Result<Arc<Topic>, Status> {
        let namespace = namespace_of(name)?;
        if !self.options.namespaces.iter().any(|ns| ns == namespace) {
            return Err(Status::not_found(format!(
                "Unable to find the namespace {namespace}, the topic can be created only for an \
                 existing namespace"
            )));
        }
        let topic = match self.topic(name) {
            Some(topic) => topic,
            None => self.create_topic(name, strategy)?,
        };
        if topic.strategy() != strategy {
            return Err(Status::failed_precondition(
                "Producer requested dispatch strategy does not match topic strategy",
            ));
        }
        Ok(topic)
    }

    fn create_topic(&self, name: &str, strategy: DispatchStrategy) -> Result<Arc<Topic>, Status> {
        let mut topics = write(&self.topics);
        if let Some(topic) = topics.get(name) {
            return Ok(Arc::clone(topic));
        }
        // A base name is either one topic or a set of partitions, never both,
        // so that TopicPartitions has one answer.
        let clashes = match partition_of(name) {
            Some((base, _)) => topics.contains_key(base),
            None => topics
                .keys()
                .any(|t| partition_of(t).is_some_and(|(base, _)| base == name)),
        };
        if clashes {
            return Err(Status::failed_precondition(format!(
                "The topic {name} clashes with an existing partitioned or non-partitioned topic"
            )));
        }
        let topic = Arc::new(Topic::new(name, strategy, &self.options, &self.url));
        topics.insert(name.to_owned(), Arc::clone(&topic));
        Ok(topic)
    }

    /// The topic itself if it exists, else its `-part-N` partitions in order
    /// (empty if neither exists, like the real broker).
    pub(crate) fn partitions(&self, name: &str) -> Vec<String> {
        let topics = read(&self.topics);
        if topics.contains_key(name) {
            return vec![name.to_owned()];
        }
        let mut parts: Vec<(u32, &String)> = topics
            .keys()
            .filter_map(|t| match partition_of(t) {
                Some((base, number)) if base == name => Some((number, t)),
                _ => None,
            })
            .collect();
        parts.sort_unstable();
        parts.into_iter().map(|(_, t)| t.clone()).collect()
    }

    pub(crate) fn add_producer(&self, id: u64, topic: Arc<Topic>) {
        write(&self.producers).insert(id, topic);
    }

    pub(crate) fn producer_topic(&self, id: u64) -> Option<Arc<Topic>> {
        read(&self.producers).get(&id).cloned()
    }

    pub(crate) fn has_producer(&self, id: u64) -> bool {
        read(&self.producers).contains_key(&id)
    }

    pub(crate) fn add_consumer(&self, id: u64, entry: ConsumerEntry) {
        write(&self.consumers).insert(id, entry);
    }

    pub(crate) fn consumer(&self, id: u64) -> Option<ConsumerEntry> {
        read(&self.consumers).get(&id).cloned()
    }

    pub(crate) fn has_consumer(&self, id: u64) -> bool {
        read(&self.consumers).contains_key(&id)
    }

    /// A consumer stream ended: the consumer is gone unless a newer stream
    /// or a takeover replaced that one.
    pub(crate) fn close_stream(&self, consumer_id: u64, generation: u64) {
        let Some(entry) = self.consumer(consumer_id) else {
            return;
        };
        if entry
            .topic
            .close_stream(&entry.subscription, consumer_id, generation)
        {
            write(&self.consumers).remove(&consumer_id);
        }
    }

    /// Forgets every producer and consumer and ends every stream; topics,
    /// messages and subscriptions stay.
    pub(crate) fn forget_clients(&self) {
        write(&self.producers).clear();
        write(&self.consumers).clear();
        let topics: Vec<Arc<Topic>> = read(&self.topics).values().cloned().collect();
        for topic in topics {
            topic.forget_clients();
        }
    }

    /// Messages published to a topic, or to all its partitions.
    pub(crate) fn messages_in(&self, name: &str) -> u64 {
        self.partitions(name)
            .iter()
            .filter_map(|t| self.topic(t))
            .map(|t| t.messages_in())
            .sum()
    }

    /// `danube_subscription_lag_messages` for every subscription, in Prometheus' text format,
    /// as a real broker's `--prom-exporter` serves it.
    pub(crate) fn metrics_text(&self) -> String {
        let topics: Vec<Arc<Topic>> = read(&self.topics).values().cloned().collect();
        let mut text = String::from("# TYPE danube_subscription_lag_messages gauge\n");
        for topic in topics {
            for (subscription, lag) in topic.lags() {
                text.push_str(&format!(
                    "danube_subscription_lag_messages{{topic=\"{}\",subscription=\"{subscription}\"}} {lag}\n",
                    topic.name()
                ));
            }
        }
        text
    }

    pub(crate) fn live_streams(&self, topic: &str, subscription: &str) -> usize {
        self.topic(topic)
            .map_or(0, |t| t.live_streams(subscription))
    }
}
