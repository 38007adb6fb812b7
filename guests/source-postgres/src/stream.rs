//! From replication events to records, and from Danube's acknowledgements back to the slot.
//!
//! A transaction's records go out in commit order; the last one carries the transaction's
//! end LSN as its position, so it is held back until the Commit arrives. The host commits
//! positions in poll order once Danube persisted everything polled before them, so a
//! committed position means the whole transaction, and everything before it, is safe: only
//! then is the LSN confirmed to the server. Stretches with nothing of ours (other tables,
//! keepalives, heartbeats) are confirmed as soon as nothing handed out is still pending, so
//! an idle or unrelated workload never pins WAL.

use crate::event::{Change, EventBuilder, Op, Table, TxInfo};
use crate::lsn;
use crate::pgoutput::{self, OldTuple, PgOutput, Relation};
use crate::setup;
use crate::tables::TableFilter;
use danube_connect_sdk::postgres::{Connection, Replication, WalEvent};
use danube_connect_sdk::{Position, Record, log, metrics};
use std::collections::{HashMap, VecDeque};

/// Position stream of commit LSNs.
pub const STREAM: &str = "pg";

pub struct Changes {
    pub builder: EventBuilder,
    pub filter: TableFilter,
    tables: HashMap<u32, Table>,
    tx: Option<TxInfo>,
    /// The newest record of the open transaction, waiting for its Commit.
    held: Option<Record>,
    /// End LSNs handed out as positions and not yet committed, oldest first.
    pending: VecDeque<u64>,
    /// An LSN up to which nothing of ours is unaccounted for, to confirm once `pending`
    /// drains.
    quiet: u64,
    confirmed: u64,
}

impl Changes {
    pub fn new(builder: EventBuilder, filter: TableFilter) -> Self {
        Self {
            builder,
            filter,
            tables: HashMap::new(),
            tx: None,
            held: None,
            pending: VecDeque::new(),
            quiet: 0,
            confirmed: 0,
        }
    }

    /// A new session replays from the slot's confirmed position: drop what the old one
    /// left half done (it is sent again). Pending positions stay: the host still commits
    /// them.
    pub fn reset_session(&mut self) {
        self.tables.clear();
        self.tx = None;
        self.held = None;
    }

    pub fn handle(
        &mut self,
        event: WalEvent,
        db: &Connection,
        stream: &Replication,
        out: &mut Vec<Record>,
    ) {
        match event {
            WalEvent::Begin(b) => {
                self.tx = Some(TxInfo {
                    xid: b.xid,
                    commit_lsn: b.final_lsn,
                    commit_time_us: b.commit_time_us,
                });
            }
            WalEvent::Change((lsn, bytes)) => self.change(lsn, &bytes, db, out),
            WalEvent::Commit(c) => {
                match self.held.take() {
                    Some(r) => {
                        out.push(r.with_position(STREAM, lsn::format(c.end_lsn)));
                        self.pending.push_back(c.end_lsn);
                    }
                    None => self.quiet_until(c.end_lsn, stream),
                }
                self.tx = None;
                let lag_ms =
                    now_ms().saturating_sub(c.commit_time_us.div_euclid(1000).max(0) as u64);
                metrics::gauge_set("pg_cdc_lag_seconds", lag_ms as f64 / 1000.0, &[]);
            }
            WalEvent::Message(m) if !m.transactional => self.quiet_until(m.lsn, stream),
            WalEvent::Message(_) => {}
            WalEvent::Keepalive((wal_end, _)) => {
                if self.tx.is_none() && self.held.is_none() {
                    self.quiet_until(wal_end, stream);
                }
            }
        }
    }

    /// Danube persisted the records up to these positions.
    pub fn commit(&mut self, positions: &[Position], stream: &Replication) {
        let Some(done) = positions
            .iter()
            .filter(|p| p.stream_id == STREAM)
            .filter_map(|p| lsn::parse(&p.value))
            .max()
        else {
            return;
        };
        while self.pending.front().is_some_and(|&p| p <= done) {
            self.pending.pop_front();
        }
        self.confirm(done, stream);
        if self.pending.is_empty() && self.quiet > done {
            self.confirm(self.quiet, stream);
        }
    }

    /// Whether anything handed out still waits for Danube.
    pub fn idle(&self) -> bool {
        self.pending.is_empty() && self.tx.is_none()
    }

    fn quiet_until(&mut self, lsn: u64, stream: &Replication) {
        if self.pending.is_empty() {
            self.confirm(lsn, stream);
        } else {
            self.quiet = self.quiet.max(lsn);
        }
    }

    fn confirm(&mut self, lsn: u64, stream: &Replication) {
        if lsn > self.confirmed {
            self.confirmed = lsn;
            stream.confirm(lsn);
        }
    }

    fn change(&mut self, lsn: u64, bytes: &[u8], db: &Connection, out: &mut Vec<Record>) {
        let message = match pgoutput::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                let reason = format!("undecodable pgoutput message at {}: {e}", lsn::format(lsn));
                self.emit(Record::new(bytes.to_vec()).dead_letter(reason), out);
                return;
            }
        };
        let tx = self.tx.unwrap_or_default();
        let now = now_ms();
        match message {
            PgOutput::Relation(r) => self.learn(r, db),
            PgOutput::Insert { relation_id, new } => {
                let rows = Rows {
                    before: None,
                    after: Some(&new),
                };
                self.row(relation_id, Op::Create, rows, lsn, &tx, now, out)
            }
            PgOutput::Update {
                relation_id,
                old,
                new,
            } => {
                let rows = Rows {
                    before: old.as_ref(),
                    after: Some(&new),
                };
                self.row(relation_id, Op::Update, rows, lsn, &tx, now, out)
            }
            PgOutput::Delete { relation_id, old } => {
                let rows = Rows {
                    before: Some(&old),
                    after: None,
                };
                self.row(relation_id, Op::Delete, rows, lsn, &tx, now, out)
            }
            PgOutput::Truncate { relation_ids, .. } => {
                for id in relation_ids {
                    let rows = Rows {
                        before: None,
                        after: None,
                    };
                    self.row(id, Op::Truncate, rows, lsn, &tx, now, out);
                }
            }
            PgOutput::Type(_)
            | PgOutput::Origin { .. }
            | PgOutput::Begin { .. }
            | PgOutput::Commit { .. }
            | PgOutput::Message { .. } => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        relation_id: u32,
        op: Op,
        rows: Rows,
        lsn: u64,
        tx: &TxInfo,
        now: u64,
        out: &mut Vec<Record>,
    ) {
        let Some(table) = self.tables.get(&relation_id) else {
            let reason = format!(
                "change at {} names relation {relation_id}, which the stream never described",
                lsn::format(lsn)
            );
            self.emit(Record::new(Vec::new()).dead_letter(reason), out);
            return;
        };
        if !self.filter.includes(table.schema(), &table.relation.name) {
            return;
        }
        let change = Change {
            op,
            table,
            before: rows.before.map(old_row),
            after: rows.after,
            before_key_only: matches!(rows.before, Some(OldTuple::Key(_))),
            lsn,
        };
        let record = self.builder.record(&change, tx, now);
        self.emit(record, out);
    }

    /// Hand out the previously held record and hold this one until the next change or the
    /// Commit.
    fn emit(&mut self, record: Record, out: &mut Vec<Record>) {
        if let Some(previous) = self.held.replace(record) {
            out.push(previous);
        }
    }

    /// A table's description: its primary key from the catalog, else the replica identity
    /// columns the stream marks.
    fn learn(&mut self, relation: Relation, db: &Connection) {
        let schema = relation.schema().to_string();
        let names = setup::primary_key(db, &schema, &relation.name).unwrap_or_else(|e| {
            log::warn(&format!(
                "cannot read the primary key of {schema}.{}: {}; keying by its replica identity",
                relation.name,
                e.message()
            ));
            Vec::new()
        });
        let mut key_columns: Vec<usize> = names
            .iter()
            .filter_map(|n| relation.columns.iter().position(|c| &c.name == n))
            .collect();
        if key_columns.is_empty() {
            key_columns = (0..relation.columns.len())
                .filter(|&i| relation.columns[i].key)
                .collect();
        }
        self.tables.insert(
            relation.id,
            Table {
                relation,
                key_columns,
            },
        );
    }
}

/// A change's images as the stream sent them.
struct Rows<'a> {
    before: Option<&'a OldTuple>,
    after: Option<&'a pgoutput::TupleData>,
}

fn old_row(old: &OldTuple) -> &pgoutput::TupleData {
    match old {
        OldTuple::Key(t) | OldTuple::Full(t) => t,
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
