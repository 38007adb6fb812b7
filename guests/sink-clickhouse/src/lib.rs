//! ClickHouse sink: Danube messages become rows of a ClickHouse table, one
//! `INSERT … FORMAT JSONEachRow` per batch over ClickHouse's HTTP interface. Rows ClickHouse
//! refuses are isolated and dead-lettered with its error; the rest are inserted.
//! See `README.md` for every option.

mod classify;
mod client;
mod config;
mod isolate;
mod rows;
mod token;

use std::time::Instant;

use danube_connect_sdk::{BatchError, Config, Error, Message, Sink, export_sink, log, metrics};

use crate::classify::Failure;
use crate::client::Client;
use crate::config::{Deduplicate, RawConfig, Settings};
use crate::rows::Rows;

pub struct ClickHouseSink {
    settings: Settings,
    client: Client,
    /// Whether inserts carry `insert_deduplication_token`.
    deduplicate: bool,
}

/// An error at `open`: a server that is not up yet is retried, anything else is reported
/// as configuration.
fn open_error(f: Failure) -> Error {
    match f {
        Failure::Transient { .. } => f.to_error(),
        Failure::Data(r) | Failure::Fatal(r) => Error::config(r),
    }
}

impl ClickHouseSink {
    fn table_exists(&self) -> Result<bool, Error> {
        let sql = format!("EXISTS TABLE {}", self.settings.qualified_table());
        let answer = self.client.statement(&sql).map_err(open_error)?;
        Ok(answer.trim() == "1")
    }

    fn ensure_table(&self) -> Result<(), Error> {
        if self.table_exists()? {
            return Ok(());
        }
        let table = self.settings.qualified_table();
        let Some(ddl) = &self.settings.create_table else {
            return Err(Error::config(format!(
                "table {table} does not exist: create it, or give its DDL in `create_table`"
            )));
        };
        log::info_with("creating the table", &[("table", &table)]);
        self.client.statement(ddl).map_err(open_error)?;
        if !self.table_exists()? {
            return Err(Error::config(format!(
                "`create_table` ran but table {table} still does not exist: does the DDL create `{}`.`{}`?",
                self.settings.database, self.settings.table
            )));
        }
        Ok(())
    }

    fn server_deduplicates(&self) -> Result<bool, Error> {
        match self.settings.deduplicate {
            Deduplicate::Always => Ok(true),
            Deduplicate::Never => Ok(false),
            Deduplicate::Auto => {
                let sql =
                    "SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token'";
                let answer = self.client.statement(sql).map_err(open_error)?;
                Ok(answer.trim() == "1")
            }
        }
    }

    /// One insert request for a run of rows, timed and counted.
    fn insert(&self, rows: &Rows, run: std::ops::Range<usize>) -> Result<(), Failure> {
        let token = self
            .deduplicate
            .then(|| token::token(rows.sources(run.clone())));
        let started = Instant::now();
        let result = self
            .client
            .insert(rows.body(run.clone()), run.len(), token.as_deref());
        let outcome = match &result {
            Ok(()) => "ok",
            Err(Failure::Data(_)) => "rejected",
            Err(_) => "failed",
        };
        metrics::counter_add("clickhouse_insert_requests", 1, &[("outcome", outcome)]);
        if result.is_ok() {
            metrics::counter_add("clickhouse_rows_inserted", run.len() as u64, &[]);
            metrics::histogram_observe(
                "clickhouse_insert_seconds",
                started.elapsed().as_secs_f64(),
                &[],
            );
        }
        result
    }
}

impl Sink for ClickHouseSink {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.validate()?;
        let client = Client::new(&settings);
        let mut sink = ClickHouseSink {
            settings,
            client,
            deduplicate: false,
        };
        sink.ensure_table()?;
        sink.deduplicate = sink.server_deduplicates()?;
        log::info_with(
            "ready to insert",
            &[
                ("table", &sink.settings.qualified_table()),
                ("deduplication_token", &sink.deduplicate),
            ],
        );
        Ok(sink)
    }

    fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
        let size = batch.len();
        let (rows, mut failed) = rows::encode(&self.settings, batch);
        if rows.is_empty() {
            return BatchError::from_failures(failed);
        }
        let outcome =
            isolate::insert_isolating(rows.len(), self.settings.max_isolation_requests, |run| {
                self.insert(&rows, run)
            });
        if outcome.requests > 1 && !outcome.bad.is_empty() {
            log::warn_with(
                "ClickHouse refused rows; inserted the others",
                &[
                    ("refused", &outcome.bad.len()),
                    ("rows", &rows.len()),
                    ("requests", &outcome.requests),
                ],
            );
        }
        failed.extend(
            outcome
                .bad
                .into_iter()
                .map(|(row, reason)| (rows.origin(row), Error::invalid_data(reason))),
        );
        if !failed.is_empty() {
            metrics::counter_add("clickhouse_rows_refused", failed.len() as u64, &[]);
        }
        if let Some((runs, failure)) = outcome.pending {
            log::debug_with("insert failed", &[("reason", &failure.reason())]);
            let error = failure.to_error();
            let pending: Vec<u32> = runs.into_iter().flatten().map(|r| rows.origin(r)).collect();
            // Nothing went in: one error for the whole batch.
            if failed.is_empty() && pending.len() == size {
                return Err(BatchError::all(error));
            }
            failed.extend(pending.into_iter().map(|i| (i, error.clone())));
        }
        failed.sort_by_key(|(i, _)| *i);
        BatchError::from_failures(failed)
    }
}

export_sink!(ClickHouseSink);
