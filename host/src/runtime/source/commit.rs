//! Handing persisted positions back to the connector, oldest batch first.

use super::SourceRuntime;
use crate::runtime::lifecycle::{self, Stop};
use crate::runtime::shutdown::Shutdown;
use crate::wit::{GuestError, Position};
use std::time::Duration;

impl SourceRuntime {
    /// Commit every batch at the front whose records Danube all persisted.
    pub(super) async fn commit_persisted(&mut self, shutdown: &mut Shutdown) -> Result<(), Stop> {
        while let Some(done) = self.inflight.pop_persisted() {
            if done.positions.is_empty() {
                continue;
            }
            if self.instance.id() != Some(done.instance) {
                // The instance that handed these out is gone (trap, restart): its positions
                // mean nothing to another one, and the external system redelivers them.
                tracing::debug!(
                    connector = self.life.name,
                    positions = done.positions.len(),
                    "positions of a replaced instance dropped"
                );
                continue;
            }
            self.commit(&done.positions, shutdown).await?;
        }
        Ok(())
    }

    /// Retry a retryable refusal up to `max_retries`; giving up only costs duplicates, since
    /// Danube already has the records.
    async fn commit(
        &mut self,
        positions: &[Position],
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        let mut attempt = 0u32;
        let instance = self.instance.id();
        loop {
            if self.instance.id() != instance {
                return Ok(());
            }
            let timer = self.life.metrics.processing.start_timer();
            let result = self.instance.commit(positions).await;
            timer.observe_duration();
            let (reason, after) = match result {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(GuestError::Fatal(m) | GuestError::Config(m))) => {
                    return Err(Stop::Fatal(format!("commit failed: {m}")));
                }
                Ok(Err(GuestError::InvalidData(m))) => {
                    tracing::warn!(
                        connector = self.life.name,
                        "commit refused positions as invalid: {m}"
                    );
                    return Ok(());
                }
                Ok(Err(GuestError::Retryable(r))) => (r.message, r.after_ms),
                Err(failure) => return self.guest_failed(failure, shutdown).await,
            };
            self.life.metrics.retries.inc();
            if attempt >= self.max_retries || shutdown.requested() {
                tracing::warn!(
                    connector = self.life.name,
                    positions = positions.len(),
                    "gave up committing after {} attempts: {reason}; their records may be published again",
                    attempt + 1
                );
                self.life
                    .status
                    .record_error(format!("commit failed: {reason}"));
                return Ok(());
            }
            let delay = self
                .retry
                .delay(attempt, after.map(|ms| Duration::from_millis(ms.into())));
            attempt += 1;
            lifecycle::pause_for(self, delay, shutdown).await?;
        }
    }
}
