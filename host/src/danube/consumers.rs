//! One consumer per configured topic, merged into a single event stream for the sink loop,
//! and acknowledged from a pipeline task.
//!
//! Acks run beside the sink loop so the broker's small un-acked window refills while the
//! connector processes the next batch; a message is still queued for ack only after it was
//! delivered or dead-lettered. They go out several at a time (`ack_sender`): the client's own
//! `ack` awaits each round trip in turn, which would let the window refill one message per
//! round trip.
//!
//! A set lives for one connection; after the broker goes away the whole set is dropped and
//! rebuilt. Messages still buffered from the old set are dropped with it: they were never
//! acked, so the broker redelivers them.

use super::ack_sender::AckSender;
use super::connection::{Broker, DanubeError, Timeouts};
use super::gaps::OffsetGaps;
use crate::config::{SinkSection, SubscriptionType};
use danube_client::{Consumer, DanubeClient, SubType};
use danube_core::message::StreamMessage;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

// Messages are the hot, common variant: boxing them would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum ConsumerEvent {
    /// A message and the index of the consumer that delivered it (acks go back through it).
    Message(usize, StreamMessage),
    /// A consumer's stream ended or an ack failed: the connection must be rebuilt.
    Closed(String),
    /// What feeds the sink cannot go on (its local buffer failed): the connector stops.
    Failed(String),
}

/// Called for every message the broker accepted an ack for.
pub type OnAcked = Box<dyn Fn(&StreamMessage) + Send + Sync>;

/// Called with a topic and the first and last offset the broker skipped on it.
pub type OnSkipped = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

/// What the set reports as it goes.
pub struct ConsumerHooks {
    pub on_acked: OnAcked,
    pub on_skipped: OnSkipped,
}

/// What the ack pipeline is asked to do, in order. Acks are the common variant: not boxed.
#[allow(clippy::large_enum_variant)]
enum AckOrder {
    Ack(StreamMessage),
    /// Keep later acks back until the set closes: the broker's window stays full, so it
    /// dispatches nothing more here while the last messages are delivered.
    Hold,
}

/// Queues acks for the set's ack pipeline.
#[derive(Clone)]
pub struct Acks(mpsc::UnboundedSender<AckOrder>);

impl Acks {
    pub fn ack(&self, m: &StreamMessage) {
        // An ack needs only the ids: leave attributes, names and key behind instead of copying
        // them once per message.
        let token = StreamMessage {
            request_id: m.request_id,
            msg_id: m.msg_id.clone(),
            payload: Default::default(),
            publish_time: m.publish_time,
            producer_name: String::new(),
            subscription_name: None,
            attributes: Default::default(),
            schema_id: None,
            schema_version: None,
            routing_key: None,
        };
        // The acker only stops once every handle is gone, so a send cannot fail while in use.
        let _ = self.0.send(AckOrder::Ack(token));
    }

    pub fn hold(&self) {
        let _ = self.0.send(AckOrder::Hold);
    }
}

pub struct ConsumerSet {
    events: mpsc::Receiver<ConsumerEvent>,
    acks: Acks,
    acker: JoinHandle<()>,
    consumers: Vec<Consumer>,
    /// The message streams were closed ([`ConsumerSet::stop_intake`]).
    intake_stopped: bool,
    timeouts: Timeouts,
}

fn sub_type(t: SubscriptionType) -> SubType {
    match t {
        SubscriptionType::Exclusive => SubType::Exclusive,
        SubscriptionType::Shared => SubType::Shared,
        SubscriptionType::Failover => SubType::FailOver,
        SubscriptionType::KeyShared => SubType::KeyShared,
    }
}

impl ConsumerSet {
    pub async fn subscribe(
        client: &DanubeClient,
        broker: &Broker,
        sink: &SinkSection,
        consumer_name: &str,
        timeouts: Timeouts,
        buffer: usize,
        hooks: ConsumerHooks,
    ) -> Result<Self, DanubeError> {
        let ConsumerHooks {
            on_acked,
            on_skipped,
        } = hooks;
        // Only with one active consumer does every offset come here: on shared
        // subscriptions the other consumers' messages are no gap.
        let watch_gaps = matches!(
            sink.subscription_type,
            SubscriptionType::Exclusive | SubscriptionType::Failover
        );
        let (tx, events) = mpsc::channel(buffer.max(16));
        let mut consumers = Vec::with_capacity(sink.topics.len());
        for (idx, topic) in sink.topics.iter().enumerate() {
            let mut consumer = client
                .new_consumer()
                .with_topic(topic.clone())
                .with_consumer_name(consumer_name.to_string())
                .with_subscription(sink.subscription.clone())
                .with_subscription_type(sub_type(sink.subscription_type))
                .with_key_filters(sink.key_filters.clone())
                .build()
                .map_err(|source| DanubeError::Client {
                    what: format!("configuring consumer for {topic}"),
                    source,
                })?;
            timeouts
                .run(
                    || format!("subscribing to {topic} as `{}`", sink.subscription),
                    consumer.subscribe(),
                )
                .await?;
            // Open the stream straight away: a reliable subscription whose stream is never
            // opened blocks the topic for every producer.
            let mut rx = timeouts
                .run(
                    || format!("opening the message stream of {topic}"),
                    consumer.receive(),
                )
                .await?;
            let tx = tx.clone();
            let name = topic.clone();
            let on_skipped = on_skipped.clone();
            tokio::spawn(async move {
                let mut gaps = OffsetGaps::default();
                while let Some(m) = rx.recv().await {
                    let id = &m.msg_id;
                    if watch_gaps
                        && let Some((from, to)) = gaps.see(&id.topic_name, id.topic_offset)
                    {
                        on_skipped(&id.topic_name, from, to);
                    }
                    if tx.send(ConsumerEvent::Message(idx, m)).await.is_err() {
                        return;
                    }
                }
                let _ = tx
                    .send(ConsumerEvent::Closed(format!(
                        "message stream of {name} ended"
                    )))
                    .await;
            });
            consumers.push(consumer);
        }
        let (acks, queue) = mpsc::unbounded_channel();
        let sender =
            AckSender::new(broker, &sink.subscription).map_err(|source| DanubeError::Client {
                what: "preparing acknowledgements".into(),
                source,
            })?;
        let acker = tokio::spawn(ack_loop(sender, queue, tx, timeouts, on_acked));
        Ok(Self {
            events,
            acks: Acks(acks),
            acker,
            consumers,
            intake_stopped: false,
            timeouts,
        })
    }

    pub fn events(&mut self) -> &mut mpsc::Receiver<ConsumerEvent> {
        &mut self.events
    }

    /// Queue an ack; a failure surfaces as a [`ConsumerEvent::Closed`].
    pub fn ack(&self, m: &StreamMessage) {
        self.acks.ack(m);
    }

    /// Acks queued from now on go out only when the set closes.
    pub fn hold_acks(&self) {
        self.acks.hold();
    }

    /// A handle that queues acks from elsewhere (the lanes of a concurrent sink). The set's
    /// `close` waits for every handle to be dropped, at most twice the call timeout.
    pub fn acks(&self) -> Acks {
        self.acks.clone()
    }

    /// Close the message streams so the broker dispatches nothing more here; acks still go
    /// out. What was already received still arrives as events, then one
    /// [`ConsumerEvent::Closed`] per stream; returns how many streams there are.
    pub async fn stop_intake(&mut self) -> usize {
        if !self.intake_stopped {
            self.intake_stopped = true;
            close_all(&mut self.consumers, self.timeouts).await;
        }
        self.consumers.len()
    }

    /// Finish the queued acks, then close the consumers.
    pub async fn close(self) {
        let Self {
            acks,
            acker,
            mut consumers,
            intake_stopped,
            timeouts,
            ..
        } = self;
        drop(acks);
        let acked = tokio::time::timeout(timeouts.call * 2, acker).await;
        if matches!(acked, Ok(Ok(()))) && !intake_stopped {
            close_all(&mut consumers, timeouts).await;
        }
    }
}

async fn close_all(consumers: &mut [Consumer], timeouts: Timeouts) {
    for c in consumers.iter_mut() {
        let _ = tokio::time::timeout(timeouts.call, c.close()).await;
    }
}

/// Acks in flight at once; enough to cover the broker's window many times over.
const MAX_ACKS_IN_FLIGHT: usize = 64;

async fn ack_loop(
    sender: AckSender,
    mut queue: mpsc::UnboundedReceiver<AckOrder>,
    events: mpsc::Sender<ConsumerEvent>,
    timeouts: Timeouts,
    on_acked: OnAcked,
) {
    let mut in_flight = FuturesUnordered::new();
    let mut ready = VecDeque::new();
    let mut held = Vec::new();
    let mut holding = false;
    let mut open = true;
    let mut failed = false;
    loop {
        // After a failure the rest stays un-acked: the broker redelivers it to the next set.
        if failed {
            ready.clear();
        }
        while in_flight.len() < MAX_ACKS_IN_FLIGHT
            && let Some(m) = ready.pop_front()
        {
            let ack = sender.ack(&m);
            let what = format!(
                "acknowledging {}@{}",
                m.msg_id.topic_name, m.msg_id.topic_offset
            );
            in_flight.push(async move { (timeouts.run(|| what, ack).await, m) });
        }
        tokio::select! {
            next = queue.recv(), if open && in_flight.len() < MAX_ACKS_IN_FLIGHT => match next {
                Some(AckOrder::Ack(m)) if holding => held.push(m),
                Some(AckOrder::Ack(m)) => ready.push_back(m),
                Some(AckOrder::Hold) => holding = true,
                None => {
                    open = false;
                    ready.extend(held.drain(..));
                }
            },
            Some((result, m)) = in_flight.next() => match result {
                Ok(()) => on_acked(&m),
                Err(e) if !failed => {
                    failed = true;
                    let _ = events.send(ConsumerEvent::Closed(e.to_string())).await;
                }
                Err(_) => {}
            },
            else => break,
        }
    }
}
