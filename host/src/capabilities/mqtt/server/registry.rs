//! Which connection and packet an ack id stands for, while the record it carried is on its
//! way to Danube. Ids are unique for the life of the server, so an id from a connection that
//! has since closed names nothing and is skipped (its device sends the message again).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

use super::wire::Outgoing;

/// A connection as the registry reaches it: its id and where its answers go.
#[derive(Clone)]
pub struct Link {
    pub id: u64,
    pub answers: mpsc::UnboundedSender<Command>,
}

/// What a connection task is told to do.
#[derive(Debug)]
pub enum Command {
    Send(Outgoing),
    /// Close: the connector that held this connection's messages is gone, so the device must
    /// send the unacknowledged ones again.
    Close,
}

struct Waiting {
    link: Link,
    qos: u8,
    pkid: u16,
}

#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiting>>,
}

impl Registry {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ack id for a QoS 1/2 message; never 0.
    pub fn issue(&self, link: &Link, qos: u8, pkid: u16) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.waiting().insert(
            id,
            Waiting {
                link: link.clone(),
                qos,
                pkid,
            },
        );
        id
    }

    /// Acknowledge `id` to its device with MQTT 5 `reason` (0: success); false when it names
    /// nothing any more.
    pub fn ack(&self, id: u64, reason: u8) -> bool {
        let Some(w) = self.waiting().remove(&id) else {
            return false;
        };
        w.link
            .answers
            .send(Command::Send(Outgoing::Ack {
                qos: w.qos,
                pkid: w.pkid,
                reason,
            }))
            .is_ok()
    }

    /// Forget every id and close the connections that had any unacknowledged: their devices
    /// reconnect and send those messages again.
    pub fn abandon_all(&self) -> usize {
        let waiting: Vec<Waiting> = self.waiting().drain().map(|(_, w)| w).collect();
        let mut closed = std::collections::HashSet::new();
        for w in waiting {
            if closed.insert(w.link.id) {
                let _ = w.link.answers.send(Command::Close);
            }
        }
        closed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_acknowledged_once_and_abandoning_closes_each_connection_once() {
        let registry = Registry::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let link = Link { id: 1, answers: tx };
        let a = registry.issue(&link, 1, 10);
        let b = registry.issue(&link, 2, 11);
        let _c = registry.issue(&link, 1, 12);
        assert!(registry.ack(a, 0));
        assert!(!registry.ack(a, 0));
        assert!(matches!(
            rx.try_recv(),
            Ok(Command::Send(Outgoing::Ack {
                qos: 1,
                pkid: 10,
                ..
            }))
        ));
        assert!(registry.ack(b, 0x99));
        assert!(matches!(
            rx.try_recv(),
            Ok(Command::Send(Outgoing::Ack {
                qos: 2,
                pkid: 11,
                ..
            }))
        ));
        assert_eq!(registry.abandon_all(), 1);
        assert!(matches!(rx.try_recv(), Ok(Command::Close)));
        assert!(rx.try_recv().is_err());
    }
}
