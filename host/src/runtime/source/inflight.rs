//! Polled batches whose records are on their way to Danube. A batch's positions are handed
//! back to the connector only once every record of it, and of every batch polled before it,
//! was persisted: commits follow poll order, whatever order the lanes finish in.

use crate::wit::Position;
use std::collections::VecDeque;

struct Batch {
    seq: u64,
    /// Records not yet acknowledged by Danube.
    remaining: usize,
    positions: Vec<Position>,
    /// The instance that produced the positions; only it can commit them.
    instance: u64,
}

/// A batch ready to commit.
#[derive(Debug)]
pub struct Persisted {
    pub positions: Vec<Position>,
    pub instance: u64,
}

#[derive(Default)]
pub struct InFlight {
    batches: VecDeque<Batch>,
    next_seq: u64,
    records: usize,
}

impl InFlight {
    /// Track a polled batch of `records` records; returns the id its records carry.
    pub fn open(&mut self, records: usize, positions: Vec<Position>, instance: u64) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.records += records;
        self.batches.push_back(Batch {
            seq,
            remaining: records,
            positions,
            instance,
        });
        seq
    }

    /// Danube persisted one record of batch `seq`.
    pub fn persisted(&mut self, seq: u64) {
        let Some(front) = self.batches.front() else {
            return;
        };
        let Some(i) = seq.checked_sub(front.seq) else {
            return;
        };
        if let Some(b) = self.batches.get_mut(i as usize)
            && b.remaining > 0
        {
            b.remaining -= 1;
            self.records -= 1;
        }
    }

    /// The oldest batch, if all of it was persisted.
    pub fn pop_persisted(&mut self) -> Option<Persisted> {
        if self.batches.front()?.remaining > 0 {
            return None;
        }
        let b = self.batches.pop_front()?;
        Some(Persisted {
            positions: b.positions,
            instance: b.instance,
        })
    }

    /// Records polled and not yet persisted.
    pub fn records(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(v: &str) -> Position {
        Position {
            stream_id: "s".into(),
            value: v.into(),
        }
    }

    #[test]
    fn commits_follow_poll_order_whatever_order_records_finish_in() {
        let mut f = InFlight::default();
        let a = f.open(2, vec![pos("1"), pos("2")], 7);
        let b = f.open(1, vec![pos("3")], 7);
        assert_eq!(f.records(), 3);
        f.persisted(b);
        assert!(f.pop_persisted().is_none(), "b must wait for a");
        f.persisted(a);
        assert!(f.pop_persisted().is_none(), "a has one record left");
        f.persisted(a);
        let first = f.pop_persisted().expect("a is done");
        assert_eq!(first.positions.len(), 2);
        assert_eq!(first.instance, 7);
        let second = f.pop_persisted().expect("b was done already");
        assert_eq!(second.positions[0].value, "3");
        assert!(f.is_empty());
        assert_eq!(f.records(), 0);
    }

    #[test]
    fn stray_or_repeated_acks_change_nothing() {
        let mut f = InFlight::default();
        let a = f.open(1, vec![], 1);
        f.persisted(a);
        f.persisted(a);
        f.persisted(a + 5);
        assert_eq!(f.records(), 0);
        assert!(f.pop_persisted().is_some());
        f.persisted(a);
        assert!(f.pop_persisted().is_none());
    }
}
