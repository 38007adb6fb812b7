//! Decoder for `pgoutput` logical replication messages, protocol version 1.
//!
//! Each call decodes exactly one message payload (the bytes carried inside
//! XLogData). The bytes come from the network, so every read is bounds-checked
//! and malformed input becomes a [`DecodeError`], never a panic.

use std::fmt;

/// Microseconds from the Unix epoch to the Postgres epoch (2000-01-01 UTC);
/// wire timestamps count from the latter.
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// One decoded `pgoutput` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgOutput {
    Relation(Relation),
    Type(TypeInfo),
    Insert {
        relation_id: u32,
        new: TupleData,
    },
    Update {
        relation_id: u32,
        /// Present only when the key changed ('K') or the table has
        /// `REPLICA IDENTITY FULL` ('O').
        old: Option<OldTuple>,
        new: TupleData,
    },
    Delete {
        relation_id: u32,
        old: OldTuple,
    },
    Truncate {
        /// Bit 1: `CASCADE`; bit 2: `RESTART IDENTITY`.
        options: u8,
        relation_ids: Vec<u32>,
    },
    Origin {
        lsn: u64,
        name: String,
    },
    Begin {
        final_lsn: u64,
        /// Microseconds since the Unix epoch.
        commit_ts_us: i64,
        xid: u32,
    },
    Commit {
        flags: u8,
        lsn: u64,
        end_lsn: u64,
        /// Microseconds since the Unix epoch.
        commit_ts_us: i64,
    },
    Message {
        transactional: bool,
        lsn: u64,
        prefix: String,
        content: Vec<u8>,
    },
}

/// The "before" image sent with an Update or Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// Only the replica identity key columns ('K'); other cells are null.
    Key(TupleData),
    /// The whole old row ('O'), for `REPLICA IDENTITY FULL`.
    Full(TupleData),
}

/// Schema of a table; sent before the first change to it in a session and
/// again whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub id: u32,
    /// Empty on the wire means `pg_catalog`.
    pub namespace: String,
    pub name: String,
    /// `b'd'` default, `b'n'` nothing, `b'f'` full, `b'i'` index.
    pub replica_identity: u8,
    pub columns: Vec<Column>,
}

impl Relation {
    /// The schema, spelling out the `pg_catalog` the wire leaves implicit.
    pub fn schema(&self) -> &str {
        if self.namespace.is_empty() {
            "pg_catalog"
        } else {
            &self.namespace
        }
    }

    /// `schema.table`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema(), self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Part of the replica identity key (flags bit 1).
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
}

/// Name of a non-builtin type referenced by a Relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    pub id: u32,
    pub namespace: String,
    pub name: String,
}

/// One row's cells, in the Relation's column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TupleData(pub Vec<Cell>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    /// A TOASTed value that the change did not touch, so it was not sent.
    UnchangedToast,
    /// Text output format.
    Text(String),
    /// Binary format (only in binary mode).
    Binary(Vec<u8>),
}

/// Why a message could not be decoded; the text names what was being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    message: String,
}

impl DecodeError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// Prefixes the place being decoded, building "Insert: column 3: …".
    fn context(self, what: &str) -> Self {
        Self::new(format!("{what}: {}", self.message))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

/// Decodes one `pgoutput` message; trailing bytes are an error because they
/// mean the layout was misread.
pub fn decode(bytes: &[u8]) -> Result<PgOutput> {
    let (&tag, body) = bytes
        .split_first()
        .ok_or_else(|| DecodeError::new("empty message"))?;
    let mut c = Cursor { rest: body };
    let (kind, decoded) = match tag {
        b'B' => ("Begin", begin(&mut c)),
        b'C' => ("Commit", commit(&mut c)),
        b'M' => ("Message", message(&mut c)),
        b'O' => ("Origin", origin(&mut c)),
        b'R' => ("Relation", relation(&mut c)),
        b'Y' => ("Type", type_info(&mut c)),
        b'I' => ("Insert", insert(&mut c)),
        b'U' => ("Update", update(&mut c)),
        b'D' => ("Delete", delete(&mut c)),
        b'T' => ("Truncate", truncate(&mut c)),
        other => {
            return Err(DecodeError::new(format!(
                "unknown message tag {}",
                show_byte(other)
            )));
        }
    };
    decoded
        .and_then(|msg| c.finish().map(|()| msg))
        .map_err(|e| e.context(kind))
}

fn begin(c: &mut Cursor) -> Result<PgOutput> {
    Ok(PgOutput::Begin {
        final_lsn: c.read_u64("final LSN")?,
        commit_ts_us: read_timestamp(c, "commit timestamp")?,
        xid: c.read_u32("xid")?,
    })
}

fn commit(c: &mut Cursor) -> Result<PgOutput> {
    Ok(PgOutput::Commit {
        flags: c.read_u8("flags")?,
        lsn: c.read_u64("commit LSN")?,
        end_lsn: c.read_u64("end LSN")?,
        commit_ts_us: read_timestamp(c, "commit timestamp")?,
    })
}

fn message(c: &mut Cursor) -> Result<PgOutput> {
    let flags = c.read_u8("flags")?;
    let lsn = c.read_u64("LSN")?;
    let prefix = c.read_cstring("prefix")?;
    let len = read_length(c, "content length")?;
    let content = c.read_bytes(len)?.to_vec();
    Ok(PgOutput::Message {
        transactional: flags & 1 != 0,
        lsn,
        prefix,
        content,
    })
}

fn origin(c: &mut Cursor) -> Result<PgOutput> {
    Ok(PgOutput::Origin {
        lsn: c.read_u64("LSN")?,
        name: c.read_cstring("name")?,
    })
}

fn relation(c: &mut Cursor) -> Result<PgOutput> {
    let id = c.read_u32("relation id")?;
    let namespace = c.read_cstring("namespace")?;
    let name = c.read_cstring("name")?;
    let replica_identity = c.read_u8("replica identity")?;
    let count = read_count16(c, "column count")?;
    // Each column takes at least 10 bytes, so a bogus count cannot force a
    // huge allocation.
    let mut columns = Vec::with_capacity(count.min(c.remaining() / 10));
    for i in 0..count {
        let column = (|| {
            Ok(Column {
                key: c.read_u8("flags")? & 1 != 0,
                name: c.read_cstring("name")?,
                type_oid: c.read_u32("type OID")?,
                type_modifier: c.read_i32("type modifier")?,
            })
        })()
        .map_err(|e: DecodeError| e.context(&format!("column {i}")))?;
        columns.push(column);
    }
    Ok(PgOutput::Relation(Relation {
        id,
        namespace,
        name,
        replica_identity,
        columns,
    }))
}

fn type_info(c: &mut Cursor) -> Result<PgOutput> {
    Ok(PgOutput::Type(TypeInfo {
        id: c.read_u32("type OID")?,
        namespace: c.read_cstring("namespace")?,
        name: c.read_cstring("name")?,
    }))
}

fn insert(c: &mut Cursor) -> Result<PgOutput> {
    let relation_id = c.read_u32("relation id")?;
    expect_new_marker(c.read_u8("tuple marker")?)?;
    let new = read_tuple(c, "new tuple")?;
    Ok(PgOutput::Insert { relation_id, new })
}

fn update(c: &mut Cursor) -> Result<PgOutput> {
    let relation_id = c.read_u32("relation id")?;
    let mut marker = c.read_u8("tuple marker")?;
    let old = match marker {
        b'K' | b'O' => {
            let old = read_old_tuple(c, marker)?;
            marker = c.read_u8("tuple marker")?;
            Some(old)
        }
        _ => None,
    };
    expect_new_marker(marker)?;
    let new = read_tuple(c, "new tuple")?;
    Ok(PgOutput::Update {
        relation_id,
        old,
        new,
    })
}

fn delete(c: &mut Cursor) -> Result<PgOutput> {
    let relation_id = c.read_u32("relation id")?;
    let marker = c.read_u8("tuple marker")?;
    let old = read_old_tuple(c, marker)?;
    Ok(PgOutput::Delete { relation_id, old })
}

fn truncate(c: &mut Cursor) -> Result<PgOutput> {
    let count = c.read_i32("relation count")?;
    let count = usize::try_from(count)
        .map_err(|_| DecodeError::new(format!("negative relation count {count}")))?;
    let options = c.read_u8("options")?;
    let mut relation_ids = Vec::with_capacity(count.min(c.remaining() / 4));
    for _ in 0..count {
        relation_ids.push(c.read_u32("relation id")?);
    }
    Ok(PgOutput::Truncate {
        options,
        relation_ids,
    })
}

fn expect_new_marker(marker: u8) -> Result<()> {
    if marker == b'N' {
        Ok(())
    } else {
        Err(DecodeError::new(format!(
            "expected new tuple marker 'N', found {}",
            show_byte(marker)
        )))
    }
}

fn read_old_tuple(c: &mut Cursor, marker: u8) -> Result<OldTuple> {
    match marker {
        b'K' => Ok(OldTuple::Key(read_tuple(c, "old key")?)),
        b'O' => Ok(OldTuple::Full(read_tuple(c, "old tuple")?)),
        other => Err(DecodeError::new(format!(
            "expected old tuple marker 'K' or 'O', found {}",
            show_byte(other)
        ))),
    }
}

fn read_tuple(c: &mut Cursor, what: &str) -> Result<TupleData> {
    let count = read_count16(c, "column count").map_err(|e| e.context(what))?;
    // Every cell takes at least one byte.
    let mut cells = Vec::with_capacity(count.min(c.remaining()));
    for i in 0..count {
        let cell = read_cell(c).map_err(|e| e.context(&format!("{what} column {i}")))?;
        cells.push(cell);
    }
    Ok(TupleData(cells))
}

fn read_cell(c: &mut Cursor) -> Result<Cell> {
    match c.read_u8("cell kind")? {
        b'n' => Ok(Cell::Null),
        b'u' => Ok(Cell::UnchangedToast),
        b't' => {
            let len = read_length(c, "length")?;
            let text = std::str::from_utf8(c.read_bytes(len)?)
                .map_err(|e| DecodeError::new(format!("text value is not UTF-8: {e}")))?;
            Ok(Cell::Text(text.to_owned()))
        }
        b'b' => {
            let len = read_length(c, "length")?;
            Ok(Cell::Binary(c.read_bytes(len)?.to_vec()))
        }
        other => Err(DecodeError::new(format!(
            "unknown cell kind {}",
            show_byte(other)
        ))),
    }
}

/// Reads a wire timestamp and shifts it to the Unix epoch.
fn read_timestamp(c: &mut Cursor, what: &str) -> Result<i64> {
    let pg_us = c.read_i64(what)?;
    pg_us
        .checked_add(PG_EPOCH_OFFSET_US)
        .ok_or_else(|| DecodeError::new(format!("{what}: {pg_us} out of range")))
}

/// An Int32 byte length, which must not be negative.
fn read_length(c: &mut Cursor, what: &str) -> Result<usize> {
    let len = c.read_i32(what)?;
    usize::try_from(len).map_err(|_| DecodeError::new(format!("{what}: negative length {len}")))
}

/// An Int16 element count, which must not be negative.
fn read_count16(c: &mut Cursor, what: &str) -> Result<usize> {
    let n = c.read_i16(what)?;
    usize::try_from(n).map_err(|_| DecodeError::new(format!("{what}: negative count {n}")))
}

/// Renders a tag or marker byte readably in error messages.
fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}' (0x{b:02x})", b as char)
    } else {
        format!("0x{b:02x}")
    }
}

/// Bounds-checked big-endian reader over the unread part of a message.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn read_array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let (head, tail) = self.rest.split_first_chunk::<N>().ok_or_else(|| {
            DecodeError::new(format!(
                "{what}: {N}-byte field past end of message ({} bytes left)",
                self.rest.len()
            ))
        })?;
        self.rest = tail;
        Ok(*head)
    }

    fn read_u8(&mut self, what: &str) -> Result<u8> {
        Ok(u8::from_be_bytes(self.read_array(what)?))
    }

    fn read_i16(&mut self, what: &str) -> Result<i16> {
        Ok(i16::from_be_bytes(self.read_array(what)?))
    }

    fn read_i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.read_array(what)?))
    }

    fn read_u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.read_array(what)?))
    }

    fn read_i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.read_array(what)?))
    }

    fn read_u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_be_bytes(self.read_array(what)?))
    }

    /// A NUL-terminated UTF-8 string.
    fn read_cstring(&mut self, what: &str) -> Result<String> {
        let nul = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| DecodeError::new(format!("{what}: string not NUL-terminated")))?;
        let (text, tail) = self.rest.split_at(nul);
        let text = std::str::from_utf8(text)
            .map_err(|e| DecodeError::new(format!("{what}: not UTF-8: {e}")))?;
        self.rest = tail.get(1..).unwrap_or_default();
        Ok(text.to_owned())
    }

    fn read_bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(n).ok_or_else(|| {
            DecodeError::new(format!(
                "length {n} past end of message ({} bytes left)",
                self.rest.len()
            ))
        })?;
        self.rest = tail;
        Ok(head)
    }

    fn finish(&self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new(format!(
                "{} unexpected trailing bytes",
                self.rest.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes wire bytes the way the server would.
    struct Wire(Vec<u8>);

    impl Wire {
        fn tag(tag: u8) -> Self {
            Self(vec![tag])
        }
        fn u8(mut self, v: u8) -> Self {
            self.0.push(v);
            self
        }
        fn i16(mut self, v: i16) -> Self {
            self.0.extend(v.to_be_bytes());
            self
        }
        fn i32(mut self, v: i32) -> Self {
            self.0.extend(v.to_be_bytes());
            self
        }
        fn u32(mut self, v: u32) -> Self {
            self.0.extend(v.to_be_bytes());
            self
        }
        fn i64(mut self, v: i64) -> Self {
            self.0.extend(v.to_be_bytes());
            self
        }
        fn u64(mut self, v: u64) -> Self {
            self.0.extend(v.to_be_bytes());
            self
        }
        fn cstr(mut self, s: &str) -> Self {
            self.0.extend(s.as_bytes());
            self.0.push(0);
            self
        }
        fn raw(mut self, b: &[u8]) -> Self {
            self.0.extend(b);
            self
        }
        /// A TupleData block: `None` is null, `Some("\u{0}toast")` unchanged toast.
        fn tuple(mut self, cells: &[Option<&str>]) -> Self {
            self = self.i16(cells.len() as i16);
            for cell in cells {
                self = match cell {
                    None => self.u8(b'n'),
                    Some(TOAST) => self.u8(b'u'),
                    Some(text) => self.u8(b't').i32(text.len() as i32).raw(text.as_bytes()),
                };
            }
            self
        }
    }

    const TOAST: &str = "\u{0}toast";

    fn text(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    #[test]
    fn relation() {
        let bytes = Wire::tag(b'R')
            .u32(16384)
            .cstr("public")
            .cstr("orders")
            .u8(b'd')
            .i16(2)
            .u8(1)
            .cstr("id")
            .u32(23)
            .i32(-1)
            .u8(0)
            .cstr("note")
            .u32(1043)
            .i32(68)
            .0;
        let PgOutput::Relation(rel) = decode(&bytes).unwrap() else {
            panic!("not a relation");
        };
        assert_eq!(rel.id, 16384);
        assert_eq!(rel.qualified_name(), "public.orders");
        assert_eq!(rel.replica_identity, b'd');
        assert_eq!(
            rel.columns,
            vec![
                Column {
                    key: true,
                    name: "id".into(),
                    type_oid: 23,
                    type_modifier: -1
                },
                Column {
                    key: false,
                    name: "note".into(),
                    type_oid: 1043,
                    type_modifier: 68
                },
            ]
        );
    }

    #[test]
    fn empty_namespace_is_pg_catalog() {
        let bytes = Wire::tag(b'R')
            .u32(1)
            .cstr("")
            .cstr("pg_class")
            .u8(b'n')
            .i16(0)
            .0;
        let PgOutput::Relation(rel) = decode(&bytes).unwrap() else {
            panic!("not a relation");
        };
        assert_eq!(rel.namespace, "");
        assert_eq!(rel.qualified_name(), "pg_catalog.pg_class");
    }

    #[test]
    fn insert_with_null_and_toast() {
        let bytes = Wire::tag(b'I')
            .u32(7)
            .u8(b'N')
            .tuple(&[Some("42"), None, Some(TOAST)])
            .0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Insert {
                relation_id: 7,
                new: TupleData(vec![text("42"), Cell::Null, Cell::UnchangedToast]),
            }
        );
    }

    #[test]
    fn binary_cell() {
        let bytes = Wire::tag(b'I')
            .u32(7)
            .u8(b'N')
            .i16(1)
            .u8(b'b')
            .i32(2)
            .raw(&[0xff, 0x00])
            .0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Insert {
                relation_id: 7,
                new: TupleData(vec![Cell::Binary(vec![0xff, 0x00])]),
            }
        );
    }

    #[test]
    fn update_without_old() {
        let bytes = Wire::tag(b'U').u32(7).u8(b'N').tuple(&[Some("1")]).0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Update {
                relation_id: 7,
                old: None,
                new: TupleData(vec![text("1")]),
            }
        );
    }

    #[test]
    fn update_with_old_key() {
        let bytes = Wire::tag(b'U')
            .u32(7)
            .u8(b'K')
            .tuple(&[Some("1"), None])
            .u8(b'N')
            .tuple(&[Some("2"), Some("x")])
            .0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Update {
                relation_id: 7,
                old: Some(OldTuple::Key(TupleData(vec![text("1"), Cell::Null]))),
                new: TupleData(vec![text("2"), text("x")]),
            }
        );
    }

    #[test]
    fn update_with_full_old_row() {
        let bytes = Wire::tag(b'U')
            .u32(7)
            .u8(b'O')
            .tuple(&[Some("1"), Some("a")])
            .u8(b'N')
            .tuple(&[Some("1"), Some("b")])
            .0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Update {
                relation_id: 7,
                old: Some(OldTuple::Full(TupleData(vec![text("1"), text("a")]))),
                new: TupleData(vec![text("1"), text("b")]),
            }
        );
    }

    #[test]
    fn delete() {
        let bytes = Wire::tag(b'D').u32(9).u8(b'K').tuple(&[Some("5")]).0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Delete {
                relation_id: 9,
                old: OldTuple::Key(TupleData(vec![text("5")])),
            }
        );
        let bad = Wire::tag(b'D').u32(9).u8(b'N').tuple(&[Some("5")]).0;
        assert!(decode(&bad).unwrap_err().to_string().contains("'K' or 'O'"));
    }

    #[test]
    fn truncate() {
        let bytes = Wire::tag(b'T').i32(2).u8(3).u32(10).u32(11).0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Truncate {
                options: 3,
                relation_ids: vec![10, 11],
            }
        );
    }

    #[test]
    fn type_message() {
        let bytes = Wire::tag(b'Y').u32(50000).cstr("public").cstr("mood").0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Type(TypeInfo {
                id: 50000,
                namespace: "public".into(),
                name: "mood".into(),
            })
        );
    }

    #[test]
    fn origin() {
        let bytes = Wire::tag(b'O').u64(0x1_0000_0020).cstr("node_a").0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Origin {
                lsn: 0x1_0000_0020,
                name: "node_a".into(),
            }
        );
    }

    #[test]
    fn begin_and_commit_shift_timestamps_to_unix_epoch() {
        // 2024-01-01T00:00:00Z is 1_704_067_200 s after the Unix epoch.
        let unix_us = 1_704_067_200_000_000_i64;
        let pg_us = unix_us - PG_EPOCH_OFFSET_US;
        let begin = Wire::tag(b'B').u64(100).i64(pg_us).u32(777).0;
        assert_eq!(
            decode(&begin).unwrap(),
            PgOutput::Begin {
                final_lsn: 100,
                commit_ts_us: unix_us,
                xid: 777,
            }
        );
        let commit = Wire::tag(b'C').u8(0).u64(100).u64(120).i64(pg_us).0;
        assert_eq!(
            decode(&commit).unwrap(),
            PgOutput::Commit {
                flags: 0,
                lsn: 100,
                end_lsn: 120,
                commit_ts_us: unix_us,
            }
        );
        let overflow = Wire::tag(b'B').u64(1).i64(i64::MAX).u32(1).0;
        assert!(decode(&overflow).is_err());
    }

    #[test]
    fn logical_message() {
        let bytes = Wire::tag(b'M')
            .u8(1)
            .u64(55)
            .cstr("app")
            .i32(3)
            .raw(b"hey")
            .0;
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutput::Message {
                transactional: true,
                lsn: 55,
                prefix: "app".into(),
                content: b"hey".to_vec(),
            }
        );
    }

    #[test]
    fn truncated_messages_error_without_panicking() {
        let full = Wire::tag(b'I')
            .u32(7)
            .u8(b'N')
            .tuple(&[Some("1"), Some("hello")])
            .0;
        for end in 0..full.len() {
            assert!(decode(&full[..end]).is_err(), "prefix of {end} bytes");
        }
        assert!(decode(&full).is_ok());
    }

    #[test]
    fn error_names_what_was_read() {
        let bytes = Wire::tag(b'I')
            .u32(7)
            .u8(b'N')
            .i16(4)
            .u8(b'n')
            .u8(b'n')
            .u8(b'n')
            .u8(b't')
            .i32(120)
            .raw(b"abc")
            .0;
        assert_eq!(
            decode(&bytes).unwrap_err().to_string(),
            "Insert: new tuple column 3: length 120 past end of message (3 bytes left)"
        );
    }

    #[test]
    fn invalid_input_is_rejected() {
        let unknown = decode(b"Zxyz").unwrap_err().to_string();
        assert!(unknown.contains("'Z'"), "{unknown}");
        assert!(decode(&[]).is_err());

        let bad_utf8 = Wire::tag(b'I')
            .u32(7)
            .u8(b'N')
            .i16(1)
            .u8(b't')
            .i32(2)
            .raw(&[0xc3, 0x28])
            .0;
        assert!(decode(&bad_utf8).is_err());

        let negative_len = Wire::tag(b'I').u32(7).u8(b'N').i16(1).u8(b't').i32(-5).0;
        assert!(decode(&negative_len).is_err());

        let huge_count = Wire::tag(b'T').i32(i32::MAX).u8(0).0;
        assert!(decode(&huge_count).is_err());

        let trailing = Wire::tag(b'Y').u32(1).cstr("a").cstr("b").u8(0).0;
        assert!(
            decode(&trailing)
                .unwrap_err()
                .to_string()
                .contains("trailing")
        );
    }
}
