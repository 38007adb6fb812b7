//! A sink's hot swap: the new instance opens before the old one closes. Commands are applied
//! where no message is in hand (`lifecycle::apply_command`).

use super::SinkRuntime;
use crate::component::SinkInstance;
use crate::component::sink_instance::SinkFactory;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl SinkRuntime {
    /// Open the new component's instance while the old one still stands, so a failure leaves
    /// the old one running untouched; only then close the old one.
    pub(super) async fn swap_in(&mut self, factory: Arc<SinkFactory>) -> Result<Duration, String> {
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
