//! The bookkeeping of delivering one batch, free of I/O: which messages to hand to the
//! connector next, when a retry round is due, when a message has used up its attempts, and how
//! a batch that makes the guest trap is split until the message causing it is alone.

use std::collections::VecDeque;
use std::time::Duration;

/// What the sink loop should do next for this batch.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Hand these messages (indices into the batch) to the connector.
    Call(Vec<usize>),
    /// Wait (retry round `round`, at least `at_least`), then ask again.
    Wait {
        round: u32,
        at_least: Option<Duration>,
        messages: usize,
    },
    /// Every message is settled (acked or dead-lettered).
    Done,
}

/// After a trap on a group.
#[derive(Debug, PartialEq)]
pub enum AfterTrap {
    /// Split or requeued: try again after the restart backoff.
    Again,
    /// This message made the guest trap this many times: dead-letter it.
    GiveUp { index: usize, traps: u32 },
}

/// After a retryable failure of one message.
#[derive(Debug, PartialEq)]
pub enum AfterRetryable {
    /// Queued for the next round; `first` when this is the message's first failure or the
    /// first failure of the round (what is worth a log line).
    Queued { first: bool },
    /// Out of retries after this many attempts: dead-letter it.
    GiveUp { attempts: u32 },
}

pub struct BatchPlan {
    attempts: Vec<u32>,
    traps: Vec<u32>,
    groups: VecDeque<Vec<usize>>,
    retry_next: Vec<usize>,
    retry_floor: Option<Duration>,
    round: u32,
    max_retries: u32,
    max_traps: u32,
}

impl BatchPlan {
    pub fn new(len: usize, max_retries: u32, max_traps: u32) -> Self {
        let groups = if len == 0 {
            VecDeque::new()
        } else {
            VecDeque::from([(0..len).collect()])
        };
        Self {
            attempts: vec![0; len],
            traps: vec![0; len],
            groups,
            retry_next: Vec::new(),
            retry_floor: None,
            round: 0,
            max_retries,
            max_traps,
        }
    }

    pub fn next_step(&mut self) -> Step {
        if let Some(group) = self.groups.pop_front() {
            return Step::Call(group);
        }
        if self.retry_next.is_empty() {
            return Step::Done;
        }
        let step = Step::Wait {
            round: self.round,
            at_least: self.retry_floor.take(),
            messages: self.retry_next.len(),
        };
        self.round += 1;
        self.groups.push_back(std::mem::take(&mut self.retry_next));
        step
    }

    /// The group could not be handed over (no instance): it goes first next time.
    pub fn requeue(&mut self, group: Vec<usize>) {
        self.groups.push_front(group);
    }

    pub fn trapped(&mut self, group: Vec<usize>) -> AfterTrap {
        if group.len() > 1 {
            // Halve: the half without the bad message goes through, the other is halved again.
            let (a, b) = group.split_at(group.len() / 2);
            self.groups.push_front(b.to_vec());
            self.groups.push_front(a.to_vec());
            return AfterTrap::Again;
        }
        let Some(&index) = group.first() else {
            return AfterTrap::Again;
        };
        self.traps[index] += 1;
        if self.traps[index] >= self.max_traps {
            return AfterTrap::GiveUp {
                index,
                traps: self.traps[index],
            };
        }
        self.groups.push_front(group);
        AfterTrap::Again
    }

    pub fn retryable(&mut self, index: usize, after: Option<Duration>) -> AfterRetryable {
        self.attempts[index] += 1;
        let attempts = self.attempts[index];
        if attempts > self.max_retries {
            return AfterRetryable::GiveUp { attempts };
        }
        let first = attempts == 1 || self.retry_next.is_empty();
        self.retry_next.push(index);
        self.retry_floor = self.retry_floor.max(after);
        AfterRetryable::Queued { first }
    }

    /// Attempts so far for a message, counting the one that just ended.
    pub fn attempts(&self, index: usize) -> u32 {
        self.attempts[index] + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_batch_first_then_done() {
        let mut p = BatchPlan::new(3, 2, 3);
        assert_eq!(p.next_step(), Step::Call(vec![0, 1, 2]));
        assert_eq!(p.next_step(), Step::Done);
        assert_eq!(BatchPlan::new(0, 2, 3).next_step(), Step::Done);
    }

    #[test]
    fn retries_come_in_rounds_with_the_largest_floor() {
        let mut p = BatchPlan::new(3, 2, 3);
        let Step::Call(g) = p.next_step() else {
            panic!("call")
        };
        assert_eq!(g.len(), 3);
        assert_eq!(
            p.retryable(0, Some(Duration::from_secs(1))),
            AfterRetryable::Queued { first: true }
        );
        assert_eq!(
            p.retryable(2, Some(Duration::from_secs(3))),
            AfterRetryable::Queued { first: true }
        );
        assert_eq!(
            p.next_step(),
            Step::Wait {
                round: 0,
                at_least: Some(Duration::from_secs(3)),
                messages: 2
            }
        );
        assert_eq!(p.next_step(), Step::Call(vec![0, 2]));
        assert_eq!(p.retryable(0, None), AfterRetryable::Queued { first: true });
        assert_eq!(
            p.next_step(),
            Step::Wait {
                round: 1,
                at_least: None,
                messages: 1
            }
        );
        assert_eq!(p.next_step(), Step::Call(vec![0]));
        assert_eq!(p.retryable(0, None), AfterRetryable::GiveUp { attempts: 3 });
        assert_eq!(p.next_step(), Step::Done);
    }

    #[test]
    fn trapping_batch_is_bisected_to_the_poison_message() {
        let mut p = BatchPlan::new(4, 10, 2);
        let Step::Call(g) = p.next_step() else {
            panic!("call")
        };
        assert_eq!(p.trapped(g), AfterTrap::Again);
        assert_eq!(p.next_step(), Step::Call(vec![0, 1]));
        // [0, 1] goes through; [2, 3] traps and is halved again.
        assert_eq!(p.next_step(), Step::Call(vec![2, 3]));
        assert_eq!(p.trapped(vec![2, 3]), AfterTrap::Again);
        assert_eq!(p.next_step(), Step::Call(vec![2]));
        assert_eq!(p.next_step(), Step::Call(vec![3]));
        assert_eq!(p.trapped(vec![3]), AfterTrap::Again);
        assert_eq!(p.next_step(), Step::Call(vec![3]));
        assert_eq!(p.trapped(vec![3]), AfterTrap::GiveUp { index: 3, traps: 2 });
        assert_eq!(p.next_step(), Step::Done);
    }

    #[test]
    fn requeued_group_goes_first() {
        let mut p = BatchPlan::new(2, 1, 1);
        let Step::Call(g) = p.next_step() else {
            panic!("call")
        };
        p.requeue(g);
        assert_eq!(p.next_step(), Step::Call(vec![0, 1]));
    }
}
