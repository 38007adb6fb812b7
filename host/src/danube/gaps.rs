//! Offsets a subscription never received. On an exclusive or failover subscription every
//! offset of a topic reaches the one active consumer, so a jump forward means the broker
//! skipped messages (a v0.15 broker does under lag: `channel lagged` in its log). The client
//! cannot seek back, so a skipped range can only be named and counted.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct OffsetGaps {
    /// Highest offset seen per topic (partitions count as topics).
    last: HashMap<String, u64>,
}

impl OffsetGaps {
    /// Note `offset` of `topic`; returns the skipped range before it, if any. Redeliveries
    /// (offsets at or below the highest seen) are no gap.
    pub fn see(&mut self, topic: &str, offset: u64) -> Option<(u64, u64)> {
        match self.last.get_mut(topic) {
            None => {
                // A new subscription starts at the topic's head: no history to compare.
                self.last.insert(topic.to_owned(), offset);
                None
            }
            Some(last) if offset > *last + 1 => {
                let gap = (*last + 1, offset - 1);
                *last = offset;
                Some(gap)
            }
            Some(last) => {
                *last = (*last).max(offset);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_forward_jumps_are_gaps() {
        let mut g = OffsetGaps::default();
        assert_eq!(g.see("/d/a", 40), None);
        assert_eq!(g.see("/d/a", 41), None);
        assert_eq!(g.see("/d/a", 45), Some((42, 44)));
        assert_eq!(g.see("/d/a", 43), None, "a redelivery");
        assert_eq!(g.see("/d/a", 46), None);
        assert_eq!(g.see("/d/b", 7), None, "topics are apart");
        assert_eq!(g.see("/d/b", 9), Some((8, 8)));
    }
}
