//! SIGHUP reloads every connector's component from its file.

use super::registry::Connectors;
use std::sync::Arc;

pub fn reload_on_sighup(connectors: Arc<Connectors>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP, reload by signal is off: {e}");
                return;
            }
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading components");
            connectors.reload_all("SIGHUP").await;
        }
    });
    #[cfg(not(unix))]
    let _ = connectors;
}
