//! One subscription of a topic: its consumers, cursor and unacked set.

use super::channel::{Offer, StreamSender};
use super::log::MessageLog;
use super::message::StoredMessage;
use super::options::{LagLimit, OnLag};
use danube_core::proto::consumer_request::SubscriptionType;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use tonic::Status;

/// How a subscription spreads messages over its consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubKind {
    Exclusive,
    Shared,
    Failover,
    KeyShared,
}

impl SubKind {
    pub(crate) fn from_wire(value: i32) -> Option<Self> {
        Some(match SubscriptionType::try_from(value).ok()? {
            SubscriptionType::Exclusive => Self::Exclusive,
            SubscriptionType::Shared => Self::Shared,
            SubscriptionType::Failover => Self::Failover,
            SubscriptionType::KeyShared => Self::KeyShared,
        })
    }
}

/// A registered consumer; `tx` is set while its message stream is open.
#[derive(Debug)]
struct Member {
    id: u64,
    name: String,
    /// Generation of the stream `tx` belongs to (0: none), so that a stale
    /// stream closing cannot detach a newer one.
    generation: u64,
    tx: Option<StreamSender>,
    /// Key-shared only: glob patterns of the keys it takes (empty: every key).
    key_filters: Vec<String>,
}

impl Member {
    fn takes(&self, key: &str) -> bool {
        self.key_filters.is_empty() || self.key_filters.iter().any(|p| glob(p, key))
    }
}

/// `*` matches any run of characters, `?` any one character; the rest matches itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // matches[j]: the pattern so far matches the first j characters of the text.
    let mut matches = vec![false; t.len() + 1];
    matches[0] = true;
    for &c in &p {
        if c == '*' {
            for j in 1..=t.len() {
                matches[j] = matches[j] || matches[j - 1];
            }
        } else {
            for j in (1..=t.len()).rev() {
                matches[j] = matches[j - 1] && (c == '?' || c == t[j - 1]);
            }
            matches[0] = false;
        }
    }
    matches[t.len()]
}

/// Outcome of handing one message to a consumer stream.
enum Handoff {
    Sent,
    /// The (non-reliable) stream buffer is full.
    Busy,
    /// The stream is gone; its unacked messages were requeued.
    Gone,
}

#[derive(Debug)]
pub(crate) struct Subscription {
    name: String,
    kind: SubKind,
    /// Consumers in the order they joined (failover takes the first live one).
    members: Vec<Member>,
    /// Next offset never delivered to this subscription.
    cursor: u64,
    /// Delivered, not yet acknowledged: offset -> consumer id.
    in_flight: BTreeMap<u64, u64>,
    /// Offsets to deliver again, before anything new, in offset order.
    redeliver: BTreeSet<u64>,
    /// Nacked with a delay; moved to `redeliver` when the delay ends.
    delayed: BTreeSet<u64>,
    /// Round-robin position for shared delivery.
    next_turn: usize,
    lag_limit: Option<LagLimit>,
    /// Fell past the lag limit: never dispatched to again.
    stalled: bool,
    /// Key-shared: a departed consumer's un-acked messages are dropped, not requeued.
    drops_departed: bool,
}

impl Subscription {
    /// A new subscription starts at `cursor`, the topic's next offset.
    pub(crate) fn new(name: &str, kind: SubKind, cursor: u64) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            members: Vec::new(),
            cursor,
            in_flight: BTreeMap::new(),
            redeliver: BTreeSet::new(),
            delayed: BTreeSet::new(),
            next_turn: 0,
            lag_limit: None,
            stalled: false,
            drops_departed: false,
        }
    }

    pub(crate) fn with_departed_dropped(mut self, drops: bool) -> Self {
        self.drops_departed = drops;
        self
    }

    pub(crate) fn with_lag_limit(mut self, limit: Option<LagLimit>) -> Self {
        self.lag_limit = limit;
        self
    }

    /// Messages stored and not yet dispatched to this subscription, as the broker's
    /// `danube_subscription_lag_messages` gauge reports them.
    pub(crate) fn lag(&self, log: &MessageLog) -> u64 {
        log.next_offset().saturating_sub(self.cursor) + self.redeliver.len() as u64
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Registers a consumer and returns its id. A consumer with the same
    /// name takes over the existing registration, as on the real broker.
    pub(crate) fn join(
        &mut self,
        consumer_name: &str,
        kind: SubKind,
        new_id: impl FnOnce() -> u64,
    ) -> Result<u64, Status> {
        if let Some(index) = self.members.iter().position(|m| m.name == consumer_name) {
            let member = &mut self.members[index];
            member.tx = None;
            member.generation = 0;
            let id = member.id;
            self.requeue(id);
            return Ok(id);
        }
        if self.members.is_empty() {
            self.kind = kind;
        } else if self.kind != kind {
            return Err(Status::permission_denied(format!(
                "The subscription {} is {:?} and has consumers; cannot join it as {:?}",
                self.name, self.kind, kind
            )));
        } else if kind == SubKind::Exclusive {
            return Err(Status::permission_denied(format!(
                "Not allowed to add the Consumer: {consumer_name}, the Exclusive subscription {} \
                 can't be shared with other consumers",
                self.name
            )));
        }
        let id = new_id();
        self.members.push(Member {
            id,
            name: consumer_name.to_owned(),
            generation: 0,
            tx: None,
            key_filters: Vec::new(),
        });
        Ok(id)
    }

    /// The keys a key-shared consumer takes, as its subscribe request named them.
    pub(crate) fn filter_keys(&mut self, consumer_id: u64, key_filters: Vec<String>) {
        if let Some(member) = self.members.iter_mut().find(|m| m.id == consumer_id) {
            member.key_filters = key_filters;
        }
    }

    /// Attaches a new message stream to a consumer; returns false if the
    /// consumer is not registered here. Messages unacked on its previous
    /// stream are delivered again.
    pub(crate) fn open_stream(
        &mut self,
        consumer_id: u64,
        generation: u64,
        tx: StreamSender,
    ) -> bool {
        let Some(member) = self.members.iter_mut().find(|m| m.id == consumer_id) else {
            return false;
        };
        member.generation = generation;
        member.tx = Some(tx);
        self.requeue(consumer_id);
        true
    }

    /// The stream of the given generation ended: the consumer is gone, so it
    /// is unregistered and its unacked messages are requeued. Returns true
    /// if it was unregistered.
    pub(crate) fn close_stream(&mut self, consumer_id: u64, generation: u64) -> bool {
        let Some(index) = self
            .members
            .iter()
            .position(|m| m.id == consumer_id && m.generation == generation)
        else {
            return false;
        };
        self.members.remove(index);
        if self.drops_departed && self.kind == SubKind::KeyShared {
            self.in_flight.retain(|_, owner| *owner != consumer_id);
        } else {
            self.requeue(consumer_id);
        }
        true
    }

    /// Drops every consumer (ending their streams) and requeues all
    /// unacked messages; cursor and stored state stay.
    pub(crate) fn detach_all(&mut self) {
        self.members.clear();
        self.redeliver.extend(self.in_flight.keys().copied());
        self.in_flight.clear();
    }

    /// Returns true if the message was pending here. Unknown offsets are
    /// accepted silently, like the real broker does.
    pub(crate) fn ack(&mut self, offset: u64) -> bool {
        let in_flight = self.in_flight.remove(&offset).is_some();
        let queued = self.redeliver.remove(&offset);
        let delayed = self.delayed.remove(&offset);
        in_flight || queued || delayed
    }

    /// Takes an in-flight message back; it is redelivered at once or, when
    /// `delayed`, once [`Self::release`] is called. Returns true if it was
    /// in flight.
    pub(crate) fn nack(&mut self, offset: u64, delayed: bool) -> bool {
        if self.in_flight.remove(&offset).is_none() {
            return false;
        }
        if delayed {
            self.delayed.insert(offset);
        } else {
            self.redeliver.insert(offset);
        }
        true
    }

    /// Ends the delay of a nacked message.
    pub(crate) fn release(&mut self, offset: u64) -> bool {
        let released = self.delayed.remove(&offset);
        if released {
            self.redeliver.insert(offset);
        }
        released
    }

    /// Lowest offset this subscription may still need.
    pub(crate) fn floor(&self) -> u64 {
        [
            self.in_flight.keys().next(),
            self.redeliver.first(),
            self.delayed.first(),
        ]
        .into_iter()
        .flatten()
        .fold(self.cursor, |low, &offset| low.min(offset))
    }

    /// Consumers with an open stream.
    pub(crate) fn live_streams(&self) -> usize {
        self.members.iter().filter(|m| m.tx.is_some()).count()
    }

    /// Delivers stored messages while the unacked window has room.
    pub(crate) fn dispatch(&mut self, log: &MessageLog, window: usize) {
        if let Some(limit) = self.lag_limit
            && log.next_offset().saturating_sub(self.cursor) > limit.behind
        {
            match limit.then {
                OnLag::Stall => self.stalled = true,
                OnLag::Skip => self.cursor = log.next_offset() - limit.behind / 2,
            }
        }
        if self.stalled {
            return;
        }
        while self.in_flight.len() < window {
            let (offset, again) = match self.redeliver.first() {
                Some(&offset) => (offset, true),
                None if self.cursor < log.next_offset() => (self.cursor, false),
                None => break,
            };
            let Some(message) = log.get(offset) else {
                // Already dropped from the log: nothing left to deliver.
                self.consume(offset, again);
                continue;
            };
            if self.no_filter_takes(message.routing_key()) {
                // As the real broker does: a key nobody's filters accept is skipped.
                self.consume(offset, again);
                continue;
            }
            let Some(index) = self.pick(message.routing_key()) else {
                break;
            };
            match self.hand_off(index, message) {
                Handoff::Sent => {
                    self.consume(offset, again);
                    self.in_flight.insert(offset, self.members[index].id);
                }
                Handoff::Busy => break,
                Handoff::Gone => {}
            }
        }
    }

    /// Non-reliable delivery: to one live consumer now, or to nobody.
    pub(crate) fn deliver_now(&mut self, message: &StoredMessage) {
        self.cursor = message.offset + 1;
        for _ in 0..=self.members.len() {
            let Some(index) = self.pick(message.routing_key()) else {
                return;
            };
            match self.hand_off(index, message) {
                // A full buffer drops the message: nothing is stored.
                Handoff::Sent | Handoff::Busy => return,
                Handoff::Gone => {}
            }
        }
    }

    fn consume(&mut self, offset: u64, again: bool) {
        if again {
            self.redeliver.remove(&offset);
        } else {
            self.cursor = offset + 1;
        }
    }

    fn hand_off(&mut self, index: usize, message: &StoredMessage) -> Handoff {
        let name = &self.name;
        let member = &mut self.members[index];
        let Some(tx) = &member.tx else {
            return Handoff::Gone;
        };
        match tx.offer(message.delivery(name)) {
            Offer::Sent => Handoff::Sent,
            Offer::Full => Handoff::Busy,
            Offer::Closed => {
                member.tx = None;
                let id = member.id;
                self.requeue(id);
                Handoff::Gone
            }
        }
    }

    /// Chooses the consumer for a message among those with an open stream.
    fn pick(&mut self, routing_key: Option<&str>) -> Option<usize> {
        match (self.kind, routing_key) {
            (SubKind::Exclusive | SubKind::Failover, _) => {
                self.members.iter().position(|m| m.tx.is_some())
            }
            // Rendezvous hashing among the live consumers whose filters take the key: when
            // one leaves, only its keys move (the real broker keeps keys in place too).
            (SubKind::KeyShared, Some(key)) => self
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.tx.is_some() && m.takes(key))
                .max_by_key(|(_, m)| {
                    let mut hasher = DefaultHasher::new();
                    (key, &m.name).hash(&mut hasher);
                    hasher.finish()
                })
                .map(|(i, _)| i),
            (SubKind::Shared | SubKind::KeyShared, _) => self.next_in_turn(),
        }
    }

    /// Key-shared: live consumers exist, and none of their filters takes this key.
    fn no_filter_takes(&self, routing_key: Option<&str>) -> bool {
        let (SubKind::KeyShared, Some(key)) = (self.kind, routing_key) else {
            return false;
        };
        let mut live = self.members.iter().filter(|m| m.tx.is_some()).peekable();
        live.peek().is_some() && !live.any(|m| m.takes(key))
    }

    fn next_in_turn(&mut self) -> Option<usize> {
        let count = self.members.len();
        let index = (0..count)
            .map(|step| (self.next_turn + step) % count)
            .find(|&i| self.members[i].tx.is_some())?;
        self.next_turn = index + 1;
        Some(index)
    }

    /// Moves a consumer's unacked messages back for redelivery.
    fn requeue(&mut self, consumer_id: u64) {
        let redeliver = &mut self.redeliver;
        self.in_flight.retain(|&offset, owner| {
            if *owner == consumer_id {
                redeliver.insert(offset);
                false
            } else {
                true
            }
        });
    }
}
