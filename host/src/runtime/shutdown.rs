//! SIGTERM / SIGINT become one shared signal the loops check at safe points.

use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl Shutdown {
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown was requested.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }
}

/// Trigger on the first SIGTERM or SIGINT.
pub fn on_signals(trigger: ShutdownTrigger) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("cannot listen for SIGTERM: {e}");
                        let _ = ctrl_c.await;
                        trigger.trigger();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested: finishing the current batch");
        trigger.trigger();
    });
}
