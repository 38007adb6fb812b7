//! `[sink] concurrency = N`: N instances of the component, each in its own sink loop (with its
//! own batching, retries, bisecting and crash-loop backoff), share one Danube subscription
//! through this hub. The hub routes each message to a lane by a hash of its key (round robin
//! without one), so a key's messages stay in order at one instance while N external writes are
//! in flight, and takes the acks of all lanes. A lane that loses its connection asks for the
//! next one: the first to ask builds it, the others join it.

use crate::danube::publisher::lane_for_key;
use crate::danube::{Acks, ConsumerEvent, ConsumerSet, DanubeError};
use danube_client::DanubeClient;
use std::sync::Arc;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Messages a lane may have waiting. The broker's un-acknowledged window (at most 10,000 on
/// danube-broker) bounds what is held in all lanes together, so a lane busy retrying never
/// blocks the routing of the others' messages.
const LANE_QUEUE: usize = 16_384;

pub struct LaneHub {
    lanes: usize,
    current: Mutex<Option<Generation>>,
}

/// One connection and subscription, shared by the lanes.
struct Generation {
    id: u64,
    client: DanubeClient,
    acks: Acks,
    /// Each lane's messages, taken when it attaches.
    receivers: Vec<Option<mpsc::Receiver<ConsumerEvent>>>,
    stop_intake: Arc<Notify>,
    end: oneshot::Sender<()>,
    dispatcher: JoinHandle<ConsumerSet>,
}

/// A lane's share of one generation.
pub struct LaneLink {
    pub generation: u64,
    pub client: DanubeClient,
    pub events: mpsc::Receiver<ConsumerEvent>,
    pub acks: Acks,
    stop_intake: Arc<Notify>,
}

impl LaneLink {
    /// Close the subscription's message streams (for every lane): what was received still
    /// arrives, then the lane's events end.
    pub fn stop_intake(&self) {
        self.stop_intake.notify_one();
    }
}

impl LaneHub {
    pub fn new(lanes: usize) -> Arc<Self> {
        Arc::new(Self {
            lanes: lanes.max(1),
            current: Mutex::new(None),
        })
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// The lane's share of the current generation, or of a new one when the lane already had
    /// its share of the current one (it ended for this lane) or there is none. `subscribe`
    /// builds a new one.
    pub async fn attach(
        &self,
        lane: usize,
        previous: Option<u64>,
        subscribe: impl AsyncFnOnce() -> Result<(DanubeClient, ConsumerSet), DanubeError>,
    ) -> Result<LaneLink, DanubeError> {
        let mut current = self.current.lock().await;
        let joinable = current
            .as_ref()
            .is_some_and(|g| Some(g.id) != previous && g.receivers[lane].is_some());
        if !joinable {
            let next_id = current.as_ref().map_or(1, |g| g.id + 1);
            if let Some(old) = current.take() {
                old.retire();
            }
            let (client, set) = subscribe().await?;
            *current = Some(Generation::start(next_id, client, set, self.lanes));
        }
        let Some(g) = current.as_mut() else {
            return Err(DanubeError::Closed("no subscription".into()));
        };
        let Some(events) = g.receivers[lane].take() else {
            return Err(DanubeError::Closed("lane already attached".into()));
        };
        Ok(LaneLink {
            generation: g.id,
            client: g.client.clone(),
            events,
            acks: g.acks.clone(),
            stop_intake: g.stop_intake.clone(),
        })
    }

    /// After every lane ended: send what acks are queued or held, close the consumers.
    pub async fn close(&self) {
        if let Some(g) = self.current.lock().await.take() {
            drop(g.acks);
            let _ = g.end.send(());
            if let Ok(set) = g.dispatcher.await {
                set.close().await;
            }
        }
    }
}

impl Generation {
    fn start(id: u64, client: DanubeClient, set: ConsumerSet, lanes: usize) -> Self {
        let acks = set.acks();
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..lanes)
            .map(|_| {
                let (tx, rx) = mpsc::channel(LANE_QUEUE);
                (tx, Some(rx))
            })
            .unzip();
        let stop_intake = Arc::new(Notify::new());
        let (end, ended) = oneshot::channel();
        let dispatcher = tokio::spawn(dispatch(set, senders, stop_intake.clone(), ended));
        Self {
            id,
            client,
            acks,
            receivers,
            stop_intake,
            end,
            dispatcher,
        }
    }

    /// Replaced by a newer one: stop routing and close the set once the lanes still busy
    /// with its messages let go of its acks.
    fn retire(self) {
        let _ = self.end.send(());
        let dispatcher = self.dispatcher;
        drop(self.acks);
        tokio::spawn(async move {
            if let Ok(set) = dispatcher.await {
                set.close().await;
            }
        });
    }
}

/// Route the set's events to the lanes until it ends, the hub ends this generation, or (after
/// the intake was stopped) every stream closed. The lanes' events end with it.
async fn dispatch(
    mut set: ConsumerSet,
    lanes: Vec<mpsc::Sender<ConsumerEvent>>,
    stop_intake: Arc<Notify>,
    mut ended: oneshot::Receiver<()>,
) -> ConsumerSet {
    let mut next = 0;
    let mut open_streams = None;
    loop {
        let event = tokio::select! {
            _ = &mut ended => break,
            _ = stop_intake.notified(), if open_streams.is_none() => {
                open_streams = Some(set.stop_intake().await);
                continue;
            }
            event = set.events().recv() => event,
        };
        match event {
            Some(ConsumerEvent::Message(handle, m)) => {
                let lane = route(m.routing_key.as_deref(), lanes.len(), &mut next);
                // A lane gone means its sink loop ended: the message stays un-acked.
                let _ = lanes[lane].send(ConsumerEvent::Message(handle, m)).await;
            }
            Some(ConsumerEvent::Closed(_)) if open_streams.is_some() => {
                let left = open_streams.unwrap_or(0).saturating_sub(1);
                open_streams = Some(left);
                if left == 0 {
                    break;
                }
            }
            Some(ConsumerEvent::Closed(why)) => {
                for lane in &lanes {
                    let _ = lane.send(ConsumerEvent::Closed(why.clone())).await;
                }
                break;
            }
            Some(ConsumerEvent::Failed(why)) => {
                for lane in &lanes {
                    let _ = lane.send(ConsumerEvent::Failed(why.clone())).await;
                }
                break;
            }
            None => break,
        }
    }
    set
}

/// The lane of a message: by key, so a key stays in order; round robin without one.
fn route(key: Option<&str>, lanes: usize, next: &mut usize) -> usize {
    match key {
        Some(key) if !key.is_empty() => lane_for_key(key, lanes),
        _ => {
            *next = (*next + 1) % lanes.max(1);
            *next
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn keys_keep_their_lane_and_unkeyed_messages_take_turns() {
        let mut next = 0;
        let a = route(Some("device-7"), 4, &mut next);
        for _ in 0..10 {
            assert_eq!(route(Some("device-7"), 4, &mut next), a);
        }
        let lanes: BTreeSet<usize> = (0..100)
            .map(|i| route(Some(&format!("device-{i}")), 4, &mut next))
            .collect();
        assert_eq!(lanes.len(), 4, "keys spread over every lane");
        let turns: Vec<usize> = (0..8).map(|_| route(None, 4, &mut next)).collect();
        assert_eq!(turns, [1, 2, 3, 0, 1, 2, 3, 0]);
        assert_eq!(route(Some(""), 1, &mut next), 0);
    }
}
