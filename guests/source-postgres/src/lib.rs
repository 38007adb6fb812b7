//! Postgres CDC source: the committed row changes of chosen tables, streamed over logical
//! replication (`pgoutput`) through the host's `postgres` capability into Danube, in commit
//! order. The slot's position is confirmed only once Danube persisted a transaction's
//! records, so a crash at any point loses nothing. See `README.md` for every option and the
//! event format.

mod config;
mod event;
mod lsn;
pub mod pgoutput;
mod setup;
mod stream;
mod tables;
mod topic;
pub mod values;

use config::{RawConfig, Settings};
use danube_connect_sdk::postgres::{Connection, Replication, StreamOptions};
use danube_connect_sdk::{Config, Error, Position, Record, Source, export_source, log, metrics};
use event::EventBuilder;
use std::time::{Duration, Instant};
use stream::Changes;
use values::ValueOptions;

pub struct PostgresSource {
    settings: Settings,
    db: Connection,
    /// `None` after the stream failed: the next poll reconnects.
    stream: Option<Replication>,
    changes: Changes,
    last_heartbeat: Instant,
}

impl Source for PostgresSource {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.validate()?;
        let db = Connection::connect(&settings.connect)?;
        setup::check_server(&db)?;
        setup::check_tables(&db, &settings.tables.include)?;
        setup::ensure_publication(&db, &settings)?;
        let builder = EventBuilder {
            database: settings.connect.database.clone(),
            topic: settings.topic.clone(),
            values: ValueOptions {
                numeric_as_number: settings.numeric_as_number,
            },
        };
        let changes = Changes::new(builder, settings.tables.clone());
        let mut source = PostgresSource {
            settings,
            db,
            stream: None,
            changes,
            last_heartbeat: Instant::now(),
        };
        source.connect_stream()?;
        Ok(source)
    }

    fn poll(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<Record>, Error> {
        self.heartbeat();
        let stream = match self.stream.take() {
            Some(s) => s,
            None => {
                self.connect_stream()?;
                self.stream
                    .take()
                    .ok_or_else(|| Error::retryable("no replication stream"))?
            }
        };
        let events = match stream.receive(max_records, timeout_ms) {
            Ok(events) => events,
            Err(e) => {
                // The session is gone; the next poll opens a new one at the slot's position.
                log::warn(&format!("replication stream failed: {}", e.describe()));
                self.changes.reset_session();
                return Err(Error::from(e));
            }
        };
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            self.changes.handle(event, &self.db, &stream, &mut records);
        }
        self.stream = Some(stream);
        Ok(records)
    }

    fn commit(&mut self, positions: Vec<Position>) -> Result<(), Error> {
        if let Some(stream) = &self.stream {
            self.changes.commit(&positions, stream);
        }
        Ok(())
    }
}

impl PostgresSource {
    fn connect_stream(&mut self) -> Result<(), Error> {
        let options = StreamOptions {
            slot: self.settings.slot.clone(),
            publications: vec![self.settings.publication.clone()],
            start_lsn: 0,
            messages: true,
            status_interval_ms: self.settings.status_interval_ms,
        };
        let stream = Replication::connect(&self.settings.connect, &options)?;
        setup::ensure_slot(&self.db, &stream, &self.settings)?;
        stream.start()?;
        self.changes.reset_session();
        self.stream = Some(stream);
        Ok(())
    }

    /// On its interval: report the slot's lag and retained WAL, and (when asked) write a
    /// logical message, so an idle database still moves the slot forward.
    fn heartbeat(&mut self) {
        let every = Duration::from_millis(self.settings.heartbeat_interval_ms.into());
        if self.settings.heartbeat_interval_ms == 0 || self.last_heartbeat.elapsed() < every {
            return;
        }
        self.last_heartbeat = Instant::now();
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
        if let Ok(results) = self.db.query(&sql)
            && let Some(row) = results.first().and_then(|r| r.values.first())
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
