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
    /// are skipped. Each outcome is logged by the reload itself.
    pub async fn reload_all(&self, trigger: &str) {
        for handle in &self.list {
            let _ = handle.reload(None, trigger).await;
        }
    }
}
