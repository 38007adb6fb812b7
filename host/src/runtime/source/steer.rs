//! Commands from the supervisor. Pause and resume apply at once (records in flight still
//! finish and commit); restart and swap wait until nothing is in flight, because the
//! positions of those records can only be committed by the instance that produced them.

use super::SourceRuntime;
use crate::component::SourceInstance;
use crate::component::source_instance::{Source, SourceFactory};
use crate::runtime::control::{Action, Command, Control};
use crate::runtime::lifecycle;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl SourceRuntime {
    /// Apply one command and answer it; a restart or swap waits for the records in flight.
    /// Returns whether the instance was replaced.
    pub(super) async fn apply_command(&mut self, control: Control<Source>) -> bool {
        let replaces = matches!(
            control.command,
            Command::Act(Action::Restart) | Command::Swap(_)
        );
        if replaces && !self.inflight.is_empty() {
            if self.deferred.is_some() {
                let _ = control
                    .reply
                    .send(Err("another restart or reload is waiting already".into()));
            } else {
                self.deferred = Some(control);
            }
            return false;
        }
        lifecycle::apply_command(self, control).await
    }

    /// The running instance holds the upstream session (an MQTT client id, a replication
    /// slot), which two instances cannot share: it closes first, then the new one opens. If
    /// that fails, a fresh instance of the previous component takes over again.
    pub(super) async fn swap_in(
        &mut self,
        factory: Arc<SourceFactory>,
    ) -> Result<Duration, String> {
        let started = Instant::now();
        self.life.close(&mut self.instance).await;
        let mut next = SourceInstance::new(factory);
        if let Err(e) = next.ensure_open().await {
            let _ = next.close().await;
            let reopened = match self.life.ensure_open(&mut self.instance).await {
                Ok(()) => "the previous component was opened again".to_string(),
                Err(again) => format!("reopening the previous component failed too: {again}"),
            };
            return Err(format!("the new component failed to open: {e}; {reopened}"));
        }
        let old = std::mem::replace(&mut self.instance, next);
        let pause = started.elapsed();
        self.life.swapped(&old, &self.instance, pause);
        Ok(pause)
    }
}
