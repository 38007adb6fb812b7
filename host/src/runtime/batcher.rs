//! Gathers a batch without stalling on the broker's un-acknowledged window: the broker stops
//! delivering after `max_unacked` messages per subscription, so waiting for a full batch
//! would wait for messages that cannot come until this batch is acked. The batch is flushed as
//! soon as the inbound queue is empty (after an optional linger), full, or too old.

use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    pub max_size: usize,
    pub max_wait: Duration,
    pub linger: Duration,
}

pub enum Gathered<T> {
    Batch(Vec<T>),
    /// The channel ended (the batch so far is returned too, possibly empty).
    Closed(Vec<T>),
}

/// Wait for the first item, then take what is queued until a flush condition holds.
/// `stop(&item)` ends the batch at an item that must not be batched (returned as the last).
pub async fn gather<T>(
    rx: &mut mpsc::Receiver<T>,
    policy: BatchPolicy,
    is_end: impl Fn(&T) -> bool,
) -> Gathered<T> {
    let Some(first) = rx.recv().await else {
        return Gathered::Closed(Vec::new());
    };
    gather_from(first, rx, policy, is_end).await
}

/// [`gather`] once the first item is in hand. Waiting for the first item is the only
/// cancel-safe part, so a caller that selects on other events waits for it itself.
pub async fn gather_from<T>(
    first: T,
    rx: &mut mpsc::Receiver<T>,
    policy: BatchPolicy,
    is_end: impl Fn(&T) -> bool,
) -> Gathered<T> {
    let mut batch = Vec::new();
    if is_end(&first) {
        batch.push(first);
        return Gathered::Closed(batch);
    }
    batch.push(first);
    let started = Instant::now();
    while batch.len() < policy.max_size {
        let item = match rx.try_recv() {
            Ok(item) => item,
            Err(mpsc::error::TryRecvError::Disconnected) => return Gathered::Closed(batch),
            Err(mpsc::error::TryRecvError::Empty) => {
                let left = policy
                    .max_wait
                    .saturating_sub(started.elapsed())
                    .min(policy.linger);
                if left.is_zero() {
                    break;
                }
                match tokio::time::timeout(left, rx.recv()).await {
                    Ok(Some(item)) => item,
                    Ok(None) => return Gathered::Closed(batch),
                    Err(_) => break,
                }
            }
        };
        let end = is_end(&item);
        batch.push(item);
        if end {
            return Gathered::Closed(batch);
        }
        if started.elapsed() >= policy.max_wait {
            break;
        }
    }
    Gathered::Batch(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_size: usize, linger_ms: u64) -> BatchPolicy {
        BatchPolicy {
            max_size,
            max_wait: Duration::from_millis(500),
            linger: Duration::from_millis(linger_ms),
        }
    }

    #[tokio::test]
    async fn flushes_when_queue_empty_without_waiting() {
        let (tx, mut rx) = mpsc::channel(100);
        for i in 0..3 {
            tx.send(i).await.expect("send");
        }
        let t = Instant::now();
        let Gathered::Batch(b) = gather(&mut rx, policy(10, 0), |_| false).await else {
            panic!("closed")
        };
        assert_eq!(b, vec![0, 1, 2]);
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn caps_at_max_size() {
        let (tx, mut rx) = mpsc::channel(100);
        for i in 0..25 {
            tx.send(i).await.expect("send");
        }
        let Gathered::Batch(b) = gather(&mut rx, policy(10, 0), |_| false).await else {
            panic!("closed")
        };
        assert_eq!(b.len(), 10);
    }

    #[tokio::test]
    async fn linger_collects_late_items() {
        let (tx, mut rx) = mpsc::channel(100);
        tx.send(1).await.expect("send");
        let late = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = late.send(2).await;
        });
        let Gathered::Batch(b) = gather(&mut rx, policy(10, 200), |_| false).await else {
            panic!("closed")
        };
        assert_eq!(b, vec![1, 2]);
    }

    #[tokio::test]
    async fn end_marker_closes() {
        let (tx, mut rx) = mpsc::channel(100);
        tx.send(1).await.expect("send");
        tx.send(-1).await.expect("send");
        tx.send(2).await.expect("send");
        let Gathered::Closed(b) = gather(&mut rx, policy(10, 0), |v| *v < 0).await else {
            panic!("batch")
        };
        assert_eq!(b, vec![1, -1]);
    }
}
