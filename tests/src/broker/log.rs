//! The stored messages of a reliable topic.

use super::message::StoredMessage;
use std::collections::VecDeque;

/// Messages from `base` on; everything below `base` was acknowledged by
/// every subscription (or published when none existed) and is dropped.
#[derive(Debug, Default)]
pub(crate) struct MessageLog {
    base: u64,
    entries: VecDeque<StoredMessage>,
}

impl MessageLog {
    /// Offset the next appended message must carry.
    pub(crate) fn next_offset(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    pub(crate) fn append(&mut self, message: StoredMessage) {
        debug_assert_eq!(message.offset, self.next_offset());
        self.entries.push_back(message);
    }

    pub(crate) fn get(&self, offset: u64) -> Option<&StoredMessage> {
        let index = offset.checked_sub(self.base)?;
        self.entries.get(usize::try_from(index).ok()?)
    }

    /// Drops every message below `floor`.
    pub(crate) fn trim(&mut self, floor: u64) {
        while self.base < floor && self.entries.pop_front().is_some() {
            self.base += 1;
        }
    }
}
