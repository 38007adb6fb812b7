//! Commands from the supervisor, applied where no message is in hand: between batches, in
//! backoff waits, and while the connector is paused or failed.

use super::SinkRuntime;
use crate::component::SinkInstance;
use crate::component::sink_instance::SinkFactory;
use crate::runtime::control::{Applied, Command, Control, Replacement};
use crate::runtime::lifecycle;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl SinkRuntime {
    /// Apply one command and answer it. Returns whether the instance was replaced.
    pub(super) async fn apply_command(&mut self, control: Control) -> bool {
        let Control { command, reply } = control;
        let (result, replaced) = match command {
            Command::Pause => {
                self.life.paused = true;
                self.life.publish_state();
                tracing::info!(connector = self.life.name, "paused");
                (Ok(Applied::Done), false)
            }
            Command::Resume => {
                self.life.paused = false;
                self.life.publish_state();
                tracing::info!(connector = self.life.name, "resumed");
                (Ok(Applied::Done), false)
            }
            Command::Restart => {
                tracing::info!(connector = self.life.name, "restart requested");
                let r = lifecycle::restart_instance(self).await;
                let ok = r.is_ok();
                (r.map(|()| Applied::Done), ok)
            }
            Command::Swap(Replacement::Sink(factory)) => {
                let r = self.swap(factory).await;
                let ok = r.is_ok();
                (r.map(|pause| Applied::Swapped { pause }), ok)
            }
            Command::Swap(Replacement::Source(_)) => (
                Err("a source component cannot replace a sink".to_string()),
                false,
            ),
        };
        // The supervisor logs refusals, with what triggered the command.
        let _ = reply.send(result);
        replaced
    }

    /// Open the new component's instance while the old one still stands, so a failure leaves
    /// the old one running untouched; only then close the old one.
    async fn swap(&mut self, factory: Arc<SinkFactory>) -> Result<Duration, String> {
        let started = Instant::now();
        let mut next = SinkInstance::new(factory);
        if let Err(e) = next.ensure_open().await {
            let _ = next.close().await;
            return Err(format!("the new component failed to open: {e}"));
        }
        let mut old = std::mem::replace(&mut self.instance, next);
        if let Err(e) = old.close().await {
            tracing::warn!(
                connector = self.life.name,
                "the replaced instance failed to close: {e}"
            );
        }
        let pause = started.elapsed();
        self.life.swapped(&old, &self.instance, pause);
        Ok(pause)
    }
}
