//! Postgres CDC source: the rows of chosen tables (an initial snapshot), then their committed
//! changes, streamed over logical replication (`pgoutput`) through the host's `postgres`
//! capability into Danube, in commit order. The slot's position is confirmed only once Danube
//! persisted a transaction's records, so a crash at any point loses nothing. See `README.md`
//! for every option and the event format.

mod config;
mod event;
mod lsn;
pub mod pgoutput;
mod setup;
mod snapshot;
mod stream;
mod tables;
mod topic;
mod typed;
pub mod values;

use config::{RawConfig, Settings, SnapshotMode};
use danube_connect_sdk::postgres::{Connection, Replication, StreamOptions};
use danube_connect_sdk::{Config, Error, Position, Record, Source, export_source, log, metrics};
use event::EventBuilder;
use snapshot::{Progress, Snapshot};
use std::time::{Duration, Instant};
use stream::Changes;
use typed::TableSchemas;
use values::ValueOptions;

pub struct PostgresSource {
    settings: Settings,
    db: Connection,
    /// `None` after the stream failed: the next poll reconnects.
    stream: Option<Replication>,
    /// Taking the initial snapshot; the stream starts after it.
    snapshot: Option<Snapshot>,
    /// `initial_only` after its snapshot: nothing more to read.
    finished: bool,
    changes: Changes,
    last_heartbeat: Instant,
    /// Listed tables found dropped (reported once each).
    dropped: Vec<String>,
}

impl Source for PostgresSource {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.validate()?;
        let db = Connection::connect(&settings.connect)?;
        setup::check_server(&db)?;
        setup::check_tables(&db, &settings.tables.include)?;
        setup::ensure_publication(&db, &settings)?;
        setup::check_published_tables(&db, &settings)?;
        let builder = EventBuilder {
            database: settings.connect.database.clone(),
            topic: settings.topic.clone(),
            values: ValueOptions {
                numeric_as_number: settings.numeric_as_number,
            },
            schemas: settings
                .schemas
                .clone()
                .map(|(subject, mode)| TableSchemas::new(subject, mode)),
        };
        let changes = Changes::new(builder, settings.tables.clone());
        let mut source = PostgresSource {
            settings,
            db,
            stream: None,
            snapshot: None,
            finished: false,
            changes,
            last_heartbeat: Instant::now(),
            dropped: Vec::new(),
        };
        source.prepare()?;
        Ok(source)
    }

    fn poll(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<Record>, Error> {
        if let Some(snapshot) = &mut self.snapshot {
            let step = snapshot.next(
                &self.db,
                &self.changes.builder,
                max_records.min(self.settings.snapshot_fetch),
            )?;
            if step.done {
                self.snapshot = None;
                log::info("snapshot read; streaming changes");
                if self.settings.snapshot == SnapshotMode::InitialOnly {
                    self.finished = true;
                } else {
                    self.start_stream()?;
                }
            }
            return Ok(step.records);
        }
        if self.finished {
            std::thread::sleep(Duration::from_millis(timeout_ms.into()));
            return Ok(Vec::new());
        }
        self.heartbeat();
        let stream = match self.stream.take() {
            Some(s) => s,
            None => {
                self.reconnect()?;
                self.stream
                    .take()
                    .ok_or_else(|| Error::retryable("no replication stream"))?
            }
        };
        // Events that make no record yet (a Begin, a change still held for its Commit, a
        // keepalive) do not end the wait: the host sleeps out the rest of an empty poll.
        let deadline = Instant::now() + Duration::from_millis(timeout_ms.into());
        let mut records = Vec::new();
        loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u32;
            let room = max_records.saturating_sub(records.len() as u32).max(1);
            let events = match stream.receive(room, left) {
                Ok(events) => events,
                Err(e) => {
                    // The session is gone; the next poll opens a new one at the slot's position.
                    log::warn(&format!("replication stream failed: {}", e.describe()));
                    self.changes.reset_session();
                    return Err(Error::from(e));
                }
            };
            let got = !events.is_empty();
            for event in events {
                self.changes.handle(event, &self.db, &stream, &mut records);
            }
            if !records.is_empty() || left == 0 || (!got && Instant::now() >= deadline) {
                break;
            }
        }
        self.stream = Some(stream);
        Ok(records)
    }

    fn commit(&mut self, positions: Vec<Position>) -> Result<(), Error> {
        if positions.iter().any(|p| p.stream_id == snapshot::STREAM) {
            snapshot::mark_done(&self.settings.slot)?;
            log::info("snapshot persisted in Danube");
            if self.settings.snapshot == SnapshotMode::InitialOnly {
                // Nothing will stream from the slot: do not let it retain WAL.
                self.stream = None;
                setup::drop_slot(&self.db, &self.settings.slot)?;
                log::info(&format!(
                    "initial_only: dropped slot {}",
                    self.settings.slot
                ));
            }
        }
        if let Some(stream) = &self.stream {
            self.changes.commit(&positions, stream);
        }
        Ok(())
    }
}

impl PostgresSource {
    /// Decide between a snapshot and streaming, from the slot and the snapshot's marker.
    fn prepare(&mut self) -> Result<(), Error> {
        let mode = self.settings.snapshot;
        let slot = self.settings.slot.clone();
        let progress = match mode {
            SnapshotMode::Never => Progress::Never,
            _ => snapshot::progress(&slot)?,
        };
        if mode == SnapshotMode::InitialOnly && progress == Progress::Done {
            log::info("initial_only: the snapshot was taken already; nothing to stream");
            self.finished = true;
            return Ok(());
        }
        let exists = setup::slot_exists(&self.db, &self.settings)?;
        let stream = self.connect_stream()?;
        let snapshot = match (mode, exists, progress) {
            (SnapshotMode::Never, false, _) => {
                setup::create_slot(&stream, &slot)?;
                false
            }
            (SnapshotMode::Never, true, _) => false,
            (_, false, Progress::Done) => {
                // Whatever changed while the slot was gone cannot be replayed: read it all.
                log::warn(&format!(
                    "replication slot {slot} is gone: taking the snapshot again so no row is missed"
                ));
                true
            }
            (_, false, _) => true,
            (_, true, Progress::Started) => {
                log::warn("the last snapshot did not finish: taking it again on a new slot");
                setup::drop_slot(&self.db, &slot)?;
                true
            }
            (SnapshotMode::InitialOnly, true, Progress::Never) => {
                return Err(Error::config(format!(
                    "snapshot: initial_only reads through a slot of its own, and slot {slot} \
                     exists already; name another slot"
                )));
            }
            (_, true, Progress::Never) => {
                log::info("the slot exists already: streaming from it without a snapshot");
                snapshot::mark_done(&slot)?;
                false
            }
            (_, true, Progress::Done) => false,
        };
        self.stream = Some(stream);
        if snapshot {
            let stream = self
                .stream
                .as_ref()
                .ok_or_else(|| Error::retryable("no replication session"))?;
            self.snapshot = Some(Snapshot::begin(&self.db, stream, &self.settings)?);
            return Ok(());
        }
        self.start_stream()
    }

    fn connect_stream(&self) -> Result<Replication, Error> {
        let options = StreamOptions {
            slot: self.settings.slot.clone(),
            publications: vec![self.settings.publication.clone()],
            start_lsn: 0,
            messages: true,
            status_interval_ms: self.settings.status_interval_ms,
        };
        Ok(Replication::connect(&self.settings.connect, &options)?)
    }

    fn start_stream(&mut self) -> Result<(), Error> {
        let stream = self
            .stream
            .as_ref()
            .ok_or_else(|| Error::retryable("no replication session"))?;
        stream.start()?;
        self.changes.reset_session();
        Ok(())
    }

    /// A new session after the old one failed: the slot exists; stream from its position.
    fn reconnect(&mut self) -> Result<(), Error> {
        setup::slot_exists(&self.db, &self.settings)?;
        self.stream = Some(self.connect_stream()?);
        self.start_stream()
    }

    /// A listed table dropped while streaming leaves the publication: its changes stop while
    /// the other tables go on. Say so, once per table.
    fn report_dropped_tables(&mut self) {
        let watched = self.settings.tables.include.iter().filter(|t| {
            let name = t.to_string();
            !self.dropped.contains(&name)
        });
        let Ok(gone) = setup::missing_tables(&self.db, watched) else {
            return;
        };
        for quoted in gone {
            let Some(t) = self
                .settings
                .tables
                .include
                .iter()
                .find(|t| t.quoted() == quoted)
            else {
                continue;
            };
            let name = t.to_string();
            log::error(&format!(
                "tables: {name} was dropped: its changes stop here; the other tables go on"
            ));
            metrics::counter_add("pg_cdc_tables_dropped_total", 1, &[("table", &name)]);
            self.dropped.push(name);
        }
    }

    /// On its interval: report the slot's lag and retained WAL, and (when asked) write a
    /// logical message, so an idle database still moves the slot forward.
    fn heartbeat(&mut self) {
        let every = Duration::from_millis(self.settings.heartbeat_interval_ms.into());
        if self.settings.heartbeat_interval_ms == 0 || self.last_heartbeat.elapsed() < every {
            return;
        }
        self.last_heartbeat = Instant::now();
        self.report_dropped_tables();
        if self.settings.heartbeat_message
            && self.changes.idle()
            && let Err(e) = self
                .db
                .query("SELECT pg_logical_emit_message(false, 'danube-connect.heartbeat', '')")
        {
            log::warn(&format!("heartbeat message failed: {}", e.describe()));
        }
        let sql = format!(
            "SELECT (pg_current_wal_lsn() - restart_lsn)::text, \
                    (pg_current_wal_lsn() - confirmed_flush_lsn)::text \
             FROM pg_replication_slots WHERE slot_name = '{}'",
            self.settings.slot
        );
        if let Ok(rows) = setup::values(&self.db, &sql)
            && let Some(row) = rows.first()
        {
            let number = |i: usize| {
                row.get(i)
                    .cloned()
                    .flatten()
                    .and_then(|v| v.parse::<f64>().ok())
            };
            if let Some(retained) = number(0) {
                metrics::gauge_set("pg_cdc_wal_retained_bytes", retained, &[]);
            }
            if let Some(lag) = number(1) {
                metrics::gauge_set("pg_cdc_lag_bytes", lag, &[]);
            }
        }
    }
}

export_source!(PostgresSource);
