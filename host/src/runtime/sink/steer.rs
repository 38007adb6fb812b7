//! Commands from the supervisor, applied where no message is in hand: between batches, in
//! backoff waits, and while the connector is paused or failed.

use super::{SinkRuntime, Stop};
use crate::component::SinkInstance;
use crate::component::sink_instance::SinkFactory;
use crate::config::OnFatal;
use crate::runtime::shutdown::Shutdown;
use crate::supervisor::control::{Applied, Command, Control};
use crate::supervisor::status::State;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl SinkRuntime {
    /// Apply one command and answer it. Returns whether the instance was replaced.
    pub(super) async fn apply(&mut self, control: Control) -> bool {
        let Control { command, reply } = control;
        let (result, replaced) = match command {
            Command::Pause => {
                self.paused = true;
                self.publish_state();
                tracing::info!(connector = self.name, "paused");
                (Ok(Applied::Done), false)
            }
            Command::Resume => {
                self.paused = false;
                self.publish_state();
                tracing::info!(connector = self.name, "resumed");
                (Ok(Applied::Done), false)
            }
            Command::Restart => {
                tracing::info!(connector = self.name, "restart requested");
                let r = self.restart_instance().await;
                let ok = r.is_ok();
                (r.map(|()| Applied::Done), ok)
            }
            Command::Swap(factory) => {
                let r = self.swap(factory).await;
                let ok = r.is_ok();
                (r.map(|pause| Applied::Swapped { pause }), ok)
            }
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
                connector = self.name,
                "the replaced instance failed to close: {e}"
            );
        }
        let pause = started.elapsed();
        self.opened_before = true;
        self.consecutive_traps = 0;
        self.status.set_open(true);
        self.status.set_component(self.instance.info().clone());
        self.metrics.swap_pause.observe(pause.as_secs_f64());
        tracing::info!(
            connector = self.name,
            from = &old.info().sha256[..12],
            to = &self.instance.info().sha256[..12],
            component = %self.instance.info().path.display(),
            pause_ms = pause.as_secs_f64() * 1e3,
            "component swapped"
        );
        Ok(pause)
    }

    async fn restart_instance(&mut self) -> Result<(), String> {
        self.close_instance().await;
        self.consecutive_traps = 0;
        self.ensure_open().await.map_err(|e| e.to_string())
    }

    /// Sit still while paused, answering commands, until resumed or shut down.
    pub(super) async fn hold(&mut self, shutdown: &mut Shutdown) -> Result<(), Stop> {
        self.set_state(State::Running);
        while self.paused {
            let control = tokio::select! {
                _ = shutdown.wait() => return Err(Stop::Shutdown),
                c = self.control.recv() => c,
            };
            self.apply(control).await;
        }
        Ok(())
    }

    /// Sleep for `d`, answering commands meanwhile; a restart or swap ends the wait early,
    /// as whatever waited (a retry, a fresh instance) may go on with the new instance now.
    pub(super) async fn pause_for(
        &mut self,
        d: Duration,
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        let until = tokio::time::Instant::now() + d;
        loop {
            let control = tokio::select! {
                _ = tokio::time::sleep_until(until) => return Ok(()),
                _ = shutdown.wait() => return Err(Stop::Shutdown),
                c = self.control.recv() => c,
            };
            if self.apply(control).await {
                return Ok(());
            }
        }
    }

    /// After a fatal error: restart after the crash-loop backoff (`on_fatal = "restart"`),
    /// or wait for a restart, resume or reload command. `Err` on shutdown.
    pub(super) async fn while_failed(
        &mut self,
        streak: u32,
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        let auto = (self.on_fatal == OnFatal::Restart).then(|| self.restart.delay(streak, None));
        if let Some(delay) = auto {
            tracing::warn!(
                connector = self.name,
                "restarting after the fatal error in {delay:?}"
            );
        }
        let until = auto.map(|d| tokio::time::Instant::now() + d);
        loop {
            let control = tokio::select! {
                _ = sleep_until_some(until) => return Ok(()),
                _ = shutdown.wait() => return Err(Stop::Shutdown),
                c = self.control.recv() => c,
            };
            let again = matches!(control.command, Command::Restart | Command::Resume);
            if again {
                self.paused = false;
                self.set_state(State::Starting);
                let _ = control.reply.send(Ok(Applied::Done));
                return Ok(());
            }
            if self.apply(control).await {
                return Ok(());
            }
            // A pause while failed is kept for when the connector runs again.
        }
    }
}

async fn sleep_until_some(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
