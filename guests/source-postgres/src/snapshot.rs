//! The initial snapshot: the rows present when the slot was created, read inside the
//! snapshot the slot exported, so the stream that follows starts exactly where the snapshot
//! ends: no change is lost between them, none is doubled.
//!
//! Rows are read through a cursor per table, `fetch` at a time, and published as `r` events.
//! The last one carries the position that marks the snapshot done (in `state`); a connector
//! stopped before that finds the marker still `started` and takes the snapshot again on a new
//! slot.

use crate::config::Settings;
use crate::event::{Change, EventBuilder, Op, Table, TxInfo};
use crate::lsn;
use crate::pgoutput::{Cell, Column, Relation, TupleData};
use crate::setup;
use crate::stream::now_ms;
use crate::tables::{TableFilter, TableName};
use danube_connect_sdk::postgres::{Connection, Replication};
use danube_connect_sdk::{Error, Record, log, state};

/// Position stream of the snapshot's end.
pub const STREAM: &str = "snapshot";
const CURSOR: &str = "danube_snapshot";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// No snapshot was ever started for this slot.
    Never,
    Started,
    Done,
}

fn marker(slot: &str) -> String {
    format!("snapshot/{slot}")
}

pub fn progress(slot: &str) -> Result<Progress, Error> {
    let value = state::get(&marker(slot)).map_err(|e| {
        Error::config(format!(
            "snapshot: the connector remembers whether its snapshot finished in durable state: \
             grant [capabilities.state] ({e:?})"
        ))
    })?;
    Ok(match value.as_deref() {
        None => Progress::Never,
        Some(b"done") => Progress::Done,
        Some(_) => Progress::Started,
    })
}

pub fn mark_done(slot: &str) -> Result<(), Error> {
    state::set(&marker(slot), b"done")
        .map_err(|e| Error::retryable(format!("cannot record the snapshot as done: {e:?}")))
}

pub struct Snapshot {
    slot: String,
    /// Tables still to read, next last.
    queue: Vec<TableName>,
    current: Option<Table>,
    /// The slot's consistent point: where the stream starts.
    point: u64,
    /// The newest record, waiting to learn whether it is the snapshot's last.
    held: Option<Record>,
}

impl Snapshot {
    /// Create the slot exporting its snapshot and open a read-only transaction in it on `db`.
    pub fn begin(
        db: &Connection,
        stream: &Replication,
        settings: &Settings,
    ) -> Result<Self, Error> {
        let slot = &settings.slot;
        state::set(&marker(slot), b"started")
            .map_err(|e| Error::config(format!("snapshot: grant [capabilities.state] ({e:?})")))?;
        let rows = stream.command(&format!(
            "CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput EXPORT_SNAPSHOT"
        ))?;
        let row = rows
            .first()
            .ok_or_else(|| Error::fatal("CREATE_REPLICATION_SLOT answered nothing"))?;
        let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let point = lsn::parse(&field(1))
            .ok_or_else(|| Error::fatal(format!("bad consistent point {:?}", field(1))))?;
        let name = field(2);
        db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        db.query(&format!(
            "SET TRANSACTION SNAPSHOT '{}'",
            name.replace('\'', "")
        ))?;
        let mut queue = tables(db, settings)?;
        queue.reverse();
        log::info(&format!(
            "created replication slot {slot} at {}; snapshot of {} tables",
            lsn::format(point),
            queue.len()
        ));
        Ok(Self {
            slot: slot.clone(),
            queue,
            current: None,
            point,
            held: None,
        })
    }

    /// Up to `max` more rows as records. `done` once every table was read: the transaction
    /// is closed and the last record carries the snapshot's end position.
    pub fn next(
        &mut self,
        db: &Connection,
        builder: &EventBuilder,
        max: u32,
    ) -> Result<Step, Error> {
        let mut out = Vec::new();
        loop {
            let table = match self.current.take() {
                Some(t) => t,
                None => match self.queue.pop() {
                    Some(name) => open_table(db, &name)?,
                    None => {
                        db.query("COMMIT")?;
                        match self.held.take() {
                            Some(last) => out.push(last.with_position(STREAM, self.slot.as_str())),
                            None => mark_done(&self.slot)?,
                        }
                        return Ok(Step {
                            records: out,
                            done: true,
                        });
                    }
                },
            };
            let rows = setup::values(db, &format!("FETCH {} FROM {CURSOR}", max.max(1)))?;
            if rows.is_empty() {
                db.query(&format!("CLOSE {CURSOR}"))?;
                continue;
            }
            let tx = TxInfo {
                xid: 0,
                commit_lsn: self.point,
                commit_time_us: now_ms() as i64 * 1000,
            };
            let now = now_ms();
            for values in rows {
                let tuple = TupleData(
                    values
                        .into_iter()
                        .map(|v| v.map_or(Cell::Null, Cell::Text))
                        .collect(),
                );
                let change = Change {
                    op: Op::Read,
                    table: &table,
                    before: None,
                    after: Some(&tuple),
                    before_key_only: false,
                    lsn: self.point,
                };
                let record = builder.record(&change, &tx, now);
                if let Some(previous) = self.held.replace(record) {
                    out.push(previous);
                }
            }
            self.current = Some(table);
            return Ok(Step {
                records: out,
                done: false,
            });
        }
    }
}

pub struct Step {
    pub records: Vec<Record>,
    pub done: bool,
}

/// The tables to read: the include list, or what the publication publishes; less excludes.
fn tables(db: &Connection, settings: &Settings) -> Result<Vec<TableName>, Error> {
    let filter: &TableFilter = &settings.tables;
    if !filter.include.is_empty() {
        return Ok(filter
            .include
            .iter()
            .filter(|t| filter.includes(&t.schema, &t.table))
            .cloned()
            .collect());
    }
    let sql = format!(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = '{}' \
         ORDER BY 1, 2",
        settings.publication
    );
    let rows = setup::values(db, &sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let schema = r.first().cloned().flatten()?;
            let table = r.get(1).cloned().flatten()?;
            filter
                .includes(&schema, &table)
                .then_some(TableName { schema, table })
        })
        .collect())
}

/// Describe a table as the stream would (columns, types, primary key) and open its cursor.
fn open_table(db: &Connection, name: &TableName) -> Result<Table, Error> {
    let sql = format!(
        "SELECT a.attname, a.atttypid::int8::text, a.atttypmod::text FROM pg_attribute a \
         WHERE a.attrelid = '{}'::regclass AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
        name.quoted()
    );
    let rows = setup::values(db, &sql)?;
    let columns: Vec<Column> = rows
        .into_iter()
        .filter_map(|r| {
            Some(Column {
                key: false,
                name: r.first().cloned().flatten()?,
                type_oid: r.get(1).cloned().flatten()?.parse().ok()?,
                type_modifier: r.get(2).cloned().flatten()?.parse().unwrap_or(-1),
            })
        })
        .collect();
    let list: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
    let key = setup::primary_key(db, &name.schema, &name.table)?;
    let key_columns = key
        .iter()
        .filter_map(|k| columns.iter().position(|c| &c.name == k))
        .collect();
    db.query(&format!(
        "DECLARE {CURSOR} NO SCROLL CURSOR FOR SELECT {} FROM {}",
        list.join(", "),
        name.quoted()
    ))?;
    Ok(Table {
        relation: Relation {
            id: 0,
            namespace: name.schema.clone(),
            name: name.table.clone(),
            replica_identity: b'd',
            columns,
        },
        key_columns,
    })
}
