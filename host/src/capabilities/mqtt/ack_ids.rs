//! Which MQTT packet an ack id stands for. Ids are handed to the connector with each QoS 1/2
//! delivery and come back in `ack` once the record is safe. A packet id is only meaningful on
//! the connection it arrived on: after a reconnect the broker resends unacknowledged messages
//! with ids of the new connection, and an old id may then name a different message. So every
//! connection starts a new generation and ids of older generations are skipped.

use std::collections::HashMap;

/// QoS level and packet id of a delivery to acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub qos: u8,
    pub pkid: u16,
}

#[derive(Debug, Default)]
pub struct AckBook {
    generation: u32,
    next: u32,
    pending: HashMap<u64, Pending>,
}

impl AckBook {
    /// A new connection: ids handed out before it can no longer be acknowledged.
    pub fn new_connection(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.next = 0;
        self.pending.clear();
    }

    /// The id for a delivery; never 0, which stands for "nothing to acknowledge".
    pub fn issue(&mut self, pending: Pending) -> u64 {
        self.next = self.next.wrapping_add(1);
        let id = (u64::from(self.generation) << 32) | u64::from(self.next);
        self.pending.insert(id, pending);
        id
    }

    /// What `id` acknowledges, once; `None` for an id of an older connection, an unknown
    /// one, or one acknowledged already.
    pub fn take(&mut self, id: u64) -> Option<Pending> {
        self.pending.remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Pending = Pending { qos: 1, pkid: 7 };

    #[test]
    fn an_id_acknowledges_its_packet_once() {
        let mut book = AckBook::default();
        book.new_connection();
        let id = book.issue(P);
        assert_ne!(id, 0);
        assert_eq!(book.take(id), Some(P));
        assert_eq!(book.take(id), None);
        assert_eq!(book.take(12345), None);
    }

    #[test]
    fn ids_of_an_older_connection_are_skipped() {
        let mut book = AckBook::default();
        book.new_connection();
        let old = book.issue(P);
        book.new_connection();
        let new = book.issue(P);
        assert_ne!(
            old, new,
            "the same packet id on a new connection gets a new ack id"
        );
        assert_eq!(book.take(old), None);
        assert_eq!(book.take(new), Some(P));
    }
}
