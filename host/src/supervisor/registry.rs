//! The connectors of one host process, by name.

use super::handle::ConnectorHandle;
use std::sync::Arc;

pub struct Connectors {
    list: Vec<Arc<ConnectorHandle>>,
}

impl Connectors {
    pub fn new(list: Vec<Arc<ConnectorHandle>>) -> Self {
        Self { list }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<ConnectorHandle>> {
        self.list.iter().find(|h| h.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<ConnectorHandle>> {
        self.list.iter()
    }

    /// Ready when every connector is; otherwise which ones are not and why.
    pub fn readiness(&self) -> Result<(), String> {
        let missing: Vec<String> = self
            .list
            .iter()
            .filter_map(|h| {
                h.status
                    .readiness()
                    .err()
                    .map(|why| format!("{}: {why}", h.name))
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join("; "))
        }
    }

    /// Reload every connector from its current component path (SIGHUP); unchanged files
    /// are skipped.
    pub async fn reload_all(&self, trigger: &str) {
        for handle in &self.list {
            match handle.reload(None).await {
                Ok(r) if !r.changed => {
                    tracing::info!(connector = handle.name, "{trigger}: component unchanged")
                }
                Ok(r) => tracing::info!(
                    connector = handle.name,
                    sha256 = &r.sha256[..12],
                    pause_ms = r.pause_ms,
                    "{trigger}: component reloaded"
                ),
                // Failures are logged and recorded by `reload` itself.
                Err(_) => {}
            }
        }
    }
}
