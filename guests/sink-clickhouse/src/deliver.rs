//! A batch into the table: encoded rows inserted, refused rows isolated and dead-lettered,
//! the rest reported with the failure that kept them out.

use std::time::Instant;

use danube_connect_sdk::{BatchError, Error, Message, log, metrics};

use crate::ClickHouseSink;
use crate::classify::Failure;
use crate::encode::{self, Rows};
use crate::{dedup_token, isolate};

impl ClickHouseSink {
    /// One insert request for a run of rows, timed and counted.
    fn insert(&self, rows: &Rows, run: std::ops::Range<usize>) -> Result<(), Failure> {
        let token = self
            .deduplicate
            .then(|| dedup_token::token(rows.sources(run.clone())));
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

    pub(crate) fn deliver(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
        let size = batch.len();
        let (rows, mut failed) = encode::encode(&self.settings, batch);
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
