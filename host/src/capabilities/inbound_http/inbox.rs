//! Requests between the listener and the connector: queued until an instance takes them,
//! then waiting for their answer. Each request's answer goes back through a oneshot channel to
//! the connection that received it; dropping the sender without an answer means "not taken
//! care of", which the listener turns into 503 + `Retry-After`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

pub struct InboundRequest {
    pub id: u64,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub client: String,
    pub received_at_ms: u64,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

#[derive(Default)]
pub struct Inbox {
    state: Mutex<State>,
    arrived: Notify,
    next_id: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Received, not yet taken by an instance.
    queue: VecDeque<InboundRequest>,
    /// Every request not yet answered, taken or not.
    waiting: HashMap<u64, oneshot::Sender<Answer>>,
    /// The connector is gone: nothing more is accepted.
    closed: bool,
}

impl Inbox {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a request built with its new id; `None` when `max_pending` requests already
    /// wait for an answer.
    pub fn submit(
        &self,
        max_pending: usize,
        build: impl FnOnce(u64) -> InboundRequest,
    ) -> Option<(u64, oneshot::Receiver<Answer>)> {
        let mut state = self.state();
        if state.closed || state.waiting.len() >= max_pending {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        state.waiting.insert(id, tx);
        state.queue.push_back(build(id));
        drop(state);
        self.arrived.notify_one();
        Some((id, rx))
    }

    /// Up to `max` queued requests, waiting at most `timeout` for the first.
    pub async fn take(&self, max: usize, timeout: Duration) -> Vec<InboundRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.state();
                if !state.queue.is_empty() {
                    let n = max.max(1).min(state.queue.len());
                    let batch: Vec<_> = state.queue.drain(..n).collect();
                    if !state.queue.is_empty() {
                        // Another taker may be waiting.
                        self.arrived.notify_one();
                    }
                    return batch;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
        }
    }

    /// Answers request `id`; false when nobody waits for it any more.
    pub fn answer(&self, id: u64, answer: Answer) -> bool {
        let sender = self.state().waiting.remove(&id);
        sender.is_some_and(|tx| tx.send(answer).is_ok())
    }

    /// Refuses everything from now on; whoever waits for an answer gets none (503).
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.queue.clear();
        state.waiting.clear();
    }

    /// The client stopped waiting (timed out, disconnected): forget the request, and drop it
    /// from the queue if no instance took it yet, so it is not published for nobody.
    pub fn withdraw(&self, id: u64) {
        let mut state = self.state();
        // Answered (so taken, not queued) or closed: nothing to look for.
        if state.waiting.remove(&id).is_none() {
            return;
        }
        if let Some(i) = state.queue.iter().position(|r| r.id == id) {
            state.queue.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: u64) -> InboundRequest {
        InboundRequest {
            id,
            method: "POST".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: id.to_string().into_bytes(),
            client: "127.0.0.1".into(),
            received_at_ms: 0,
        }
    }

    #[tokio::test]
    async fn taken_in_order_and_answered_once() {
        let inbox = Inbox::default();
        let (a, rx_a) = inbox.submit(10, request).expect("room");
        let (b, _rx_b) = inbox.submit(10, request).expect("room");
        let taken = inbox.take(10, Duration::ZERO).await;
        assert_eq!(taken.iter().map(|r| r.id).collect::<Vec<_>>(), [a, b]);
        assert!(inbox.answer(a, Answer::text(200, "ok")));
        assert!(!inbox.answer(a, Answer::text(500, "again")));
        assert_eq!(rx_a.await.map(|x| x.status).ok(), Some(200));
    }

    #[tokio::test]
    async fn full_refuses_and_a_withdrawn_request_is_never_taken() {
        let inbox = Inbox::default();
        let (a, _rx) = inbox.submit(1, request).expect("room");
        assert!(inbox.submit(1, request).is_none(), "one pending at most");
        inbox.withdraw(a);
        assert!(inbox.take(10, Duration::from_millis(10)).await.is_empty());
        assert!(inbox.submit(1, request).is_some(), "room again");
    }

    #[tokio::test]
    async fn a_taker_wakes_when_a_request_arrives() {
        let inbox = std::sync::Arc::new(Inbox::default());
        let taker = {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.take(5, Duration::from_secs(10)).await.len() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _pending = inbox.submit(10, request);
        let took = tokio::time::timeout(Duration::from_secs(2), taker).await;
        assert_eq!(took.ok().and_then(Result::ok), Some(1));
    }
}
