//! A topic: its offsets, stored messages, subscriptions and producers.

use super::channel::{StreamReceiver, StreamSender, stream_channel};
use super::locks::lock;
use super::log::MessageLog;
use super::message::StoredMessage;
use super::options::{BrokerOptions, LagLimit};
use super::subscription::{SubKind, Subscription};
use danube_core::proto::{DispatchStrategy, StreamMessage};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tonic::Status;

/// Stream buffer for non-reliable consumers; beyond it messages are dropped
/// for a slow consumer, as nothing is stored for non-reliable topics.
const NON_RELIABLE_BUFFER: usize = 4096;

#[derive(Debug)]
pub(crate) struct Topic {
    name: String,
    strategy: DispatchStrategy,
    /// Unacked window per subscription (reliable topics).
    window: usize,
    lag_limit: Option<LagLimit>,
    /// See [`BrokerOptions::key_shared_drops_departed`].
    key_shared_drops_departed: bool,
    broker_url: String,
    messages_in: AtomicU64,
    inner: Mutex<TopicState>,
}

#[derive(Debug, Default)]
struct TopicState {
    next_offset: u64,
    log: MessageLog,
    subscriptions: HashMap<String, Subscription>,
    producers: Vec<ProducerEntry>,
}

#[derive(Debug)]
struct ProducerEntry {
    id: u64,
    name: String,
    exclusive: bool,
}

impl Topic {
    pub(crate) fn new(
        name: &str,
        strategy: DispatchStrategy,
        options: &BrokerOptions,
        broker_url: &str,
    ) -> Self {
        Self {
            name: name.to_owned(),
            strategy,
            window: options.window(),
            lag_limit: options.lag_limit,
            key_shared_drops_departed: options.key_shared_drops_departed,
            broker_url: broker_url.to_owned(),
            messages_in: AtomicU64::new(0),
            inner: Mutex::new(TopicState::default()),
        }
    }

    pub(crate) fn strategy(&self) -> DispatchStrategy {
        self.strategy
    }

    fn reliable(&self) -> bool {
        self.strategy == DispatchStrategy::Reliable
    }

    pub(crate) fn messages_in(&self) -> u64 {
        self.messages_in.load(Ordering::Relaxed)
    }

    /// The channel for a consumer stream of this topic.
    pub(crate) fn stream_channel(&self) -> (StreamSender, StreamReceiver) {
        stream_channel((!self.reliable()).then_some(NON_RELIABLE_BUFFER))
    }

    /// Registers a producer; returns its id and whether it is new. A
    /// producer with a known name gets its id back, as on the real broker.
    pub(crate) fn add_producer(
        &self,
        name: &str,
        exclusive: bool,
        new_id: impl FnOnce() -> u64,
    ) -> Result<(u64, bool), Status> {
        let mut state = lock(&self.inner);
        if let Some(known) = state.producers.iter().find(|p| p.name == name) {
            return Ok((known.id, false));
        }
        let blocked = match state.producers.first() {
            Some(other) => exclusive || other.exclusive,
            None => false,
        };
        if blocked {
            return Err(Status::permission_denied(format!(
                "Not able to create the Producer {name}: the topic {} has an exclusive producer \
                 or other producers",
                self.name
            )));
        }
        let id = new_id();
        state.producers.push(ProducerEntry {
            id,
            name: name.to_owned(),
            exclusive,
        });
        Ok((id, true))
    }

    /// Assigns the next offset and hands the message to every subscription.
    pub(crate) fn publish(&self, message: StreamMessage, producer_id: u64) {
        let mut guard = lock(&self.inner);
        let state = &mut *guard;
        let offset = state.next_offset;
        state.next_offset += 1;
        self.messages_in.fetch_add(1, Ordering::Relaxed);
        let stored = StoredMessage::new(message, offset, producer_id, &self.name, &self.broker_url);
        if self.reliable() {
            state.log.append(stored);
            for subscription in state.subscriptions.values_mut() {
                subscription.dispatch(&state.log, self.window);
            }
            state.trim();
        } else {
            for subscription in state.subscriptions.values_mut() {
                subscription.deliver_now(&stored);
            }
        }
    }

    /// Each subscription's lag (reliable topics only: nothing is stored otherwise).
    pub(crate) fn lags(&self) -> Vec<(String, u64)> {
        if !self.reliable() {
            return Vec::new();
        }
        let state = lock(&self.inner);
        state
            .subscriptions
            .values()
            .map(|s| (s.name().to_owned(), s.lag(&state.log)))
            .collect()
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Joins (creating if needed) a subscription and returns the consumer id.
    pub(crate) fn subscribe(
        &self,
        subscription: &str,
        consumer_name: &str,
        kind: SubKind,
        key_filters: Vec<String>,
        new_id: impl FnOnce() -> u64,
    ) -> Result<u64, Status> {
        let mut guard = lock(&self.inner);
        let state = &mut *guard;
        let cursor = state.next_offset;
        let sub = state
            .subscriptions
            .entry(subscription.to_owned())
            .or_insert_with(|| {
                Subscription::new(subscription, kind, cursor)
                    .with_lag_limit(self.lag_limit)
                    .with_departed_dropped(self.key_shared_drops_departed)
            });
        let id = sub.join(consumer_name, kind, new_id)?;
        sub.filter_keys(id, key_filters);
        Ok(id)
    }

    /// Attaches a consumer stream and delivers what is pending.
    pub(crate) fn open_stream(
        &self,
        subscription: &str,
        consumer_id: u64,
        generation: u64,
        tx: StreamSender,
    ) -> bool {
        self.with_subscription(subscription, |sub| {
            sub.open_stream(consumer_id, generation, tx)
        })
    }

    /// A consumer stream ended; returns true if the consumer was unregistered.
    pub(crate) fn close_stream(
        &self,
        subscription: &str,
        consumer_id: u64,
        generation: u64,
    ) -> bool {
        self.with_subscription(subscription, |sub| {
            sub.close_stream(consumer_id, generation)
        })
    }

    pub(crate) fn ack(&self, subscription: &str, offset: u64) {
        self.with_subscription(subscription, |sub| sub.ack(offset));
    }

    /// Returns true if the message was in flight and is now queued again.
    pub(crate) fn nack(&self, subscription: &str, offset: u64, delayed: bool) -> bool {
        self.with_subscription(subscription, |sub| sub.nack(offset, delayed))
    }

    /// Ends the delay of a message nacked with a delay.
    pub(crate) fn release(&self, subscription: &str, offset: u64) {
        self.with_subscription(subscription, |sub| sub.release(offset));
    }

    /// Forgets producers and consumers (ending streams); keeps messages,
    /// subscriptions, cursors and unacked sets.
    pub(crate) fn forget_clients(&self) {
        let mut state = lock(&self.inner);
        state.producers.clear();
        for subscription in state.subscriptions.values_mut() {
            subscription.detach_all();
        }
    }

    pub(crate) fn live_streams(&self, subscription: &str) -> usize {
        lock(&self.inner)
            .subscriptions
            .get(subscription)
            .map_or(0, Subscription::live_streams)
    }

    /// Runs `change` on a subscription, then delivers whatever it freed up.
    fn with_subscription(
        &self,
        name: &str,
        change: impl FnOnce(&mut Subscription) -> bool,
    ) -> bool {
        let mut guard = lock(&self.inner);
        let state = &mut *guard;
        let Some(subscription) = state.subscriptions.get_mut(name) else {
            return false;
        };
        let changed = change(subscription);
        if changed && self.reliable() {
            subscription.dispatch(&state.log, self.window);
            state.trim();
        }
        changed
    }
}

impl TopicState {
    /// Drops messages no subscription needs any more.
    fn trim(&mut self) {
        let floor = self
            .subscriptions
            .values()
            .map(Subscription::floor)
            .fold(self.next_offset, u64::min);
        self.log.trim(floor);
    }
}
