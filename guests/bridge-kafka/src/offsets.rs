//! Which Kafka offsets the import may commit: per partition, the records handed to the host,
//! the ones Danube persisted, and the records skipped on purpose (they came from Danube).
//!
//! A position carries the partition's generation: after the group revoked a partition, what
//! the old assignment read is never committed by this member (the new owner reads it again
//! from the group's offset), even if the partition comes back later.

use std::collections::HashMap;

#[derive(Debug, Default)]
struct Partition {
    generation: u32,
    /// Highest offset handed to the host in this generation.
    handed: Option<i64>,
    /// Highest offset Danube persisted in this generation.
    persisted: Option<i64>,
    /// Next offset after records skipped while others were still in flight.
    skipped_to: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Offsets {
    partitions: HashMap<(String, i32), Partition>,
}

/// The position stream of a partition: `topic/partition` (Kafka names hold no `/`).
pub fn stream_id(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

/// A commit for the group: the next offset to read in a partition.
pub type Commit = (String, i32, i64);

impl Offsets {
    /// A record goes to the host: the value of its position.
    pub fn handed(&mut self, topic: &str, partition: i32, offset: i64) -> String {
        let p = self.part(topic, partition);
        p.handed = Some(p.handed.map_or(offset, |h| h.max(offset)));
        format!("{offset}@{}", p.generation)
    }

    /// A record is skipped: commit past it now when nothing before it is in flight.
    pub fn skipped(&mut self, topic: &str, partition: i32, offset: i64) -> Option<Commit> {
        let p = self.part(topic, partition);
        let in_flight = match (p.handed, p.persisted) {
            (Some(h), Some(d)) => h > d,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if in_flight {
            p.skipped_to = Some(p.skipped_to.map_or(offset + 1, |s| s.max(offset + 1)));
            None
        } else {
            Some((topic.to_string(), partition, offset + 1))
        }
    }

    pub fn revoked(&mut self, topic: &str, partition: i32) {
        let p = self.part(topic, partition);
        *p = Partition {
            generation: p.generation.wrapping_add(1),
            ..Partition::default()
        };
    }

    /// Danube persisted up to a position: the commit it allows, if it is of this generation.
    pub fn persisted(&mut self, stream_id: &str, value: &str) -> Option<Commit> {
        let (topic, partition) = stream_id.rsplit_once('/')?;
        let partition: i32 = partition.parse().ok()?;
        let (offset, generation) = value.split_once('@')?;
        let offset: i64 = offset.parse().ok()?;
        let generation: u32 = generation.parse().ok()?;
        let p = self.part(topic, partition);
        if generation != p.generation {
            return None;
        }
        p.persisted = Some(p.persisted.map_or(offset, |d| d.max(offset)));
        let mut next = offset + 1;
        if p.handed == p.persisted
            && let Some(s) = p.skipped_to.take()
        {
            next = next.max(s);
        }
        Some((topic.to_string(), partition, next))
    }

    fn part(&mut self, topic: &str, partition: i32) -> &mut Partition {
        self.partitions
            .entry((topic.to_string(), partition))
            .or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_follow_what_danube_persisted() {
        let mut o = Offsets::default();
        let a = o.handed("t", 0, 10);
        let b = o.handed("t", 0, 11);
        assert_eq!(o.persisted("t/0", &a), Some(("t".into(), 0, 11)));
        assert_eq!(o.persisted("t/0", &b), Some(("t".into(), 0, 12)));
    }

    #[test]
    fn skipped_records_are_committed_once_nothing_before_them_is_in_flight() {
        let mut o = Offsets::default();
        assert_eq!(o.skipped("t", 1, 0), Some(("t".into(), 1, 1)));
        let a = o.handed("t", 1, 1);
        assert_eq!(o.skipped("t", 1, 2), None, "offset 1 is still in flight");
        assert_eq!(o.persisted("t/1", &a), Some(("t".into(), 1, 3)));
    }

    #[test]
    fn a_revoked_partitions_old_positions_are_never_committed() {
        let mut o = Offsets::default();
        let old = o.handed("t", 2, 5);
        o.revoked("t", 2);
        assert_eq!(o.persisted("t/2", &old), None);
        let new = o.handed("t", 2, 3);
        assert_eq!(o.persisted("t/2", &new), Some(("t".into(), 2, 4)));
        assert_eq!(o.persisted("t/x", "1@0"), None);
    }
}
