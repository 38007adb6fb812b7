//! The buffer file: messages in arrival order under increasing keys, appended in groups (one
//! fsync'd transaction each) and removed once delivered. What is in the file survives a crash
//! of the host; a lost disk loses it, as with any local buffer.

use danube_core::message::StreamMessage;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::Notify;

const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");

#[derive(Debug, thiserror::Error)]
#[error("sink buffer {path}: {message}")]
pub struct BufferError {
    pub path: PathBuf,
    pub message: String,
}

/// What the buffer holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub messages: u64,
    pub bytes: u64,
    /// Publish time (ms since the epoch) of the oldest message held.
    pub oldest_publish_ms: Option<u64>,
}

/// One message ready to append: its encoded form and size.
pub struct Encoded(Vec<u8>);

impl Encoded {
    pub fn new(m: &StreamMessage) -> Result<Self, postcard::Error> {
        postcard::to_allocvec(m).map(Self)
    }

    pub fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

pub struct DiskBuffer {
    db: Database,
    path: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    /// Wakes the reader after an append.
    pub appended: Notify,
    /// Wakes the writer after a removal made room.
    pub freed: Notify,
}

#[derive(Default)]
struct State {
    held: Held,
    next_key: u64,
}

impl DiskBuffer {
    /// Open (or create) the file and count what it holds from an earlier run.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, BufferError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| BufferError {
            path: path.to_path_buf(),
            message: format!("{what}: {e}"),
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| fail("creating its folder", &e))?;
        }
        let db = Database::create(path).map_err(|e| fail("opening", &e))?;
        let mut state = State::default();
        {
            let tx = db.begin_write().map_err(|e| fail("opening", &e))?;
            {
                let table = tx.open_table(MESSAGES).map_err(|e| fail("reading", &e))?;
                state.held.messages = table.len().map_err(|e| fail("reading", &e))?;
                for entry in table.iter().map_err(|e| fail("reading", &e))? {
                    let (key, value) = entry.map_err(|e| fail("reading", &e))?;
                    state.held.bytes += value.value().len() as u64;
                    state.next_key = key.value() + 1;
                }
            }
            tx.commit().map_err(|e| fail("opening", &e))?;
        }
        let buffer = Self {
            db,
            path: path.to_path_buf(),
            max_bytes,
            state: Mutex::new(state),
            appended: Notify::new(),
            freed: Notify::new(),
        };
        let oldest = buffer.oldest_publish_ms()?;
        buffer.lock().held.oldest_publish_ms = oldest;
        Ok(buffer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> BufferError {
        BufferError {
            path: self.path.clone(),
            message: format!("{what}: {e}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a pair of counters: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn held(&self) -> Held {
        self.lock().held
    }

    /// Bytes that may still be appended. An empty buffer takes one message of any size, so a
    /// message larger than `max_bytes` cannot stop the pipeline for good.
    pub fn room(&self) -> u64 {
        let held = self.lock().held;
        if held.messages == 0 {
            u64::MAX
        } else {
            self.max_bytes.saturating_sub(held.bytes)
        }
    }

    /// Append `group` in one durable transaction; returns once it is on disk.
    pub fn append(&self, group: &[Encoded], oldest_publish_ms: u64) -> Result<(), BufferError> {
        if group.is_empty() {
            return Ok(());
        }
        let first_key = self.lock().next_key;
        let tx = self
            .db
            .begin_write()
            .map_err(|e| self.error("writing", e))?;
        {
            let mut table = tx
                .open_table(MESSAGES)
                .map_err(|e| self.error("writing", e))?;
            for (i, m) in group.iter().enumerate() {
                table
                    .insert(first_key + i as u64, m.0.as_slice())
                    .map_err(|e| self.error("writing", e))?;
            }
        }
        tx.commit().map_err(|e| self.error("writing", e))?;
        {
            let mut state = self.lock();
            state.next_key = first_key + group.len() as u64;
            state.held.messages += group.len() as u64;
            state.held.bytes += group.iter().map(Encoded::len).sum::<u64>();
            state
                .held
                .oldest_publish_ms
                .get_or_insert(oldest_publish_ms);
        }
        self.appended.notify_one();
        Ok(())
    }

    /// Up to `max` messages with keys from `from` on, oldest first.
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<(u64, StreamMessage)>, BufferError> {
        let tx = self.db.begin_read().map_err(|e| self.error("reading", e))?;
        let table = tx
            .open_table(MESSAGES)
            .map_err(|e| self.error("reading", e))?;
        let mut out = Vec::new();
        for entry in table.range(from..).map_err(|e| self.error("reading", e))? {
            if out.len() >= max {
                break;
            }
            let (key, value) = entry.map_err(|e| self.error("reading", e))?;
            let m: StreamMessage = postcard::from_bytes(value.value())
                .map_err(|e| self.error(&format!("decoding message {}", key.value()), e))?;
            out.push((key.value(), m));
        }
        Ok(out)
    }

    /// Remove delivered messages in one transaction. It is not synced by itself: the next
    /// append's sync makes it durable. A crash before that forgets the removal, and the
    /// messages are delivered again, which at-least-once allows; one sync per group instead
    /// of two halves the cost of the buffer.
    pub fn remove(&self, keys: &[u64]) -> Result<(), BufferError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .db
            .begin_write()
            .map_err(|e| self.error("removing", e))?;
        tx.set_durability(redb::Durability::None)
            .map_err(|e| self.error("removing", e))?;
        let mut freed = 0u64;
        let mut removed = 0u64;
        {
            let mut table = tx
                .open_table(MESSAGES)
                .map_err(|e| self.error("removing", e))?;
            for key in keys {
                if let Some(old) = table.remove(key).map_err(|e| self.error("removing", e))? {
                    freed += old.value().len() as u64;
                    removed += 1;
                }
            }
        }
        tx.commit().map_err(|e| self.error("removing", e))?;
        let oldest = self.oldest_publish_ms()?;
        {
            let mut state = self.lock();
            state.held.messages = state.held.messages.saturating_sub(removed);
            state.held.bytes = state.held.bytes.saturating_sub(freed);
            state.held.oldest_publish_ms = oldest;
        }
        self.freed.notify_one();
        Ok(())
    }

    fn oldest_publish_ms(&self) -> Result<Option<u64>, BufferError> {
        let tx = self.db.begin_read().map_err(|e| self.error("reading", e))?;
        let table = tx
            .open_table(MESSAGES)
            .map_err(|e| self.error("reading", e))?;
        let Some((key, value)) = table.first().map_err(|e| self.error("reading", e))? else {
            return Ok(None);
        };
        let m: StreamMessage = postcard::from_bytes(value.value())
            .map_err(|e| self.error(&format!("decoding message {}", key.value()), e))?;
        Ok(Some(m.publish_time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use danube_core::message::MessageID;

    fn message(offset: u64, payload: &str) -> StreamMessage {
        StreamMessage {
            request_id: offset,
            msg_id: MessageID {
                producer_id: 1,
                topic_name: "/default/t".into(),
                broker_addr: "127.0.0.1:6650".into(),
                topic_offset: offset,
            },
            payload: payload.as_bytes().to_vec().into(),
            publish_time: 1_000 + offset,
            producer_name: "p".into(),
            subscription_name: Some("s".into()),
            attributes: [("k".to_string(), "v".to_string())].into(),
            schema_id: None,
            schema_version: None,
            routing_key: Some(format!("key-{offset}")),
        }
    }

    fn encoded(ms: &[StreamMessage]) -> Vec<Encoded> {
        ms.iter()
            .map(|m| Encoded::new(m).expect("encodes"))
            .collect()
    }

    #[test]
    fn messages_come_back_in_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("b.redb");
        let ms: Vec<StreamMessage> = (0..5).map(|i| message(i, &format!("m{i}"))).collect();
        {
            let b = DiskBuffer::open(&path, 1 << 20).expect("open");
            b.append(&encoded(&ms[..3]), 1_000).expect("append");
            b.append(&encoded(&ms[3..]), 1_003).expect("append");
            let first = b.read(0, 2).expect("read");
            assert_eq!(first.len(), 2);
            b.remove(&[first[0].0, first[1].0]).expect("remove");
            assert_eq!(b.held().messages, 3);
        }
        let b = DiskBuffer::open(&path, 1 << 20).expect("reopen");
        let held = b.held();
        assert_eq!(held.messages, 3);
        assert_eq!(held.oldest_publish_ms, Some(1_002));
        let rest = b.read(0, 10).expect("read");
        let payloads: Vec<&[u8]> = rest.iter().map(|(_, m)| &m.payload[..]).collect();
        assert_eq!(payloads, [&b"m2"[..], b"m3", b"m4"]);
        assert_eq!(rest[0].1.routing_key.as_deref(), Some("key-2"));
        assert_eq!(rest[0].1.attributes["k"], "v");
        // New keys continue after the ones already used.
        b.append(&encoded(&[message(9, "m9")]), 1_009)
            .expect("append");
        let all = b.read(0, 10).expect("read");
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(&all[3].1.payload[..], b"m9");
    }

    #[test]
    fn room_shrinks_as_bytes_are_held_and_grows_on_removal() {
        let dir = tempfile::tempdir().expect("tmp");
        let b = DiskBuffer::open(&dir.path().join("b.redb"), 1_000).expect("open");
        assert_eq!(b.room(), u64::MAX, "an empty buffer takes any one message");
        let big = encoded(&[message(0, &"x".repeat(600))]);
        let size = big[0].len();
        b.append(&big, 1_000).expect("append");
        assert_eq!(b.room(), 1_000 - size);
        let key = b.read(0, 1).expect("read")[0].0;
        b.remove(&[key]).expect("remove");
        assert_eq!(b.held(), Held::default());
    }

    #[test]
    fn a_file_that_is_not_a_buffer_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("garbage.redb");
        std::fs::write(&path, b"this is not a redb file at all, just some bytes").expect("write");
        let e = DiskBuffer::open(&path, 1 << 20)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("garbage.redb"), "{e}");
    }

    #[test]
    fn a_truncated_tail_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("tail.redb");
        {
            let b = DiskBuffer::open(&path, 1 << 30).expect("open");
            let ms: Vec<StreamMessage> = (0..500).map(|i| message(i, &"x".repeat(200))).collect();
            b.append(&encoded(&ms), 1_000).expect("append");
        }
        let len = std::fs::metadata(&path).expect("meta").len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_len(len - 4096).expect("truncate");
        drop(file);
        let e = DiskBuffer::open(&path, 1 << 30)
            .err()
            .expect("a torn file is no buffer")
            .to_string();
        assert!(e.contains("tail.redb") && e.contains("corrupted"), "{e}");
    }
}
