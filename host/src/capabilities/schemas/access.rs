//! What the connector's instances share: a client of the connector's broker (made on first
//! use, so a connector that never asks opens nothing) and the versions already fetched.

use crate::client::shared_client::SharedClient;
use crate::client::{Broker, Timeouts};
use crate::config::{Compatibility, ConnectorConfig, SchemaKind};
use crate::schemas::{SchemaError, calls, raw_definition};
use danube_client::SchemaInfo;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// One version of a subject, its definition as registered.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub subject: String,
    pub id: u64,
    pub version: u32,
    pub kind: SchemaKind,
    pub definition: Vec<u8>,
}

impl TryFrom<SchemaInfo> for Fetched {
    type Error = String;

    fn try_from(info: SchemaInfo) -> Result<Self, String> {
        let kind = SchemaKind::from_name(&info.schema_type).ok_or_else(|| {
            format!(
                "schema {} v{} has an unknown type \"{}\"",
                info.subject, info.version, info.schema_type
            )
        })?;
        let definition = match kind {
            SchemaKind::String | SchemaKind::Number | SchemaKind::Bytes => Vec::new(),
            _ => raw_definition(&info.schema_definition),
        };
        Ok(Self {
            subject: info.subject,
            id: info.schema_id,
            version: info.version,
            kind,
            definition,
        })
    }
}

pub struct SchemaAccess {
    client: SharedClient,
    timeouts: Timeouts,
    /// A registered version never changes: kept for the connector's life.
    versions: Mutex<HashMap<(u64, u32), Fetched>>,
}

impl SchemaAccess {
    pub fn new(config: &ConnectorConfig) -> Self {
        let timeouts = Timeouts {
            call: Duration::from_millis(config.danube.call_timeout_ms),
        };
        Self {
            client: SharedClient::new(Broker::from_config(config), timeouts),
            timeouts,
            versions: Mutex::default(),
        }
    }

    pub async fn get(&self, id: u64, version: u32) -> Result<Fetched, String> {
        if let Some(hit) = self.cached(id, version) {
            return Ok(hit);
        }
        let fetched = self
            .call(|client, t| async move { calls::version(&client, id, Some(version), t).await })
            .await?;
        self.keep(&fetched);
        Ok(fetched)
    }

    pub async fn latest(&self, subject: &str) -> Result<Fetched, String> {
        let fetched = self
            .call(|client, t| async move { calls::latest(&client, subject, t).await })
            .await?;
        self.keep(&fetched);
        Ok(fetched)
    }

    pub async fn register(
        &self,
        subject: &str,
        kind: SchemaKind,
        definition: &[u8],
        mode: Option<Compatibility>,
    ) -> Result<Fetched, String> {
        let fetched = self
            .call(|client, t| async move {
                calls::register(&client, subject, kind, definition, mode, t).await
            })
            .await?;
        self.keep(&fetched);
        Ok(fetched)
    }

    fn cached(&self, id: u64, version: u32) -> Option<Fetched> {
        self.versions.lock().ok()?.get(&(id, version)).cloned()
    }

    fn keep(&self, f: &Fetched) {
        if let Ok(mut versions) = self.versions.lock() {
            versions.insert((f.id, f.version), f.clone());
        }
    }

    /// One registry call on the shared client; a client that could not reach the registry
    /// is dropped so the next call connects afresh.
    async fn call<'a, F, Fut>(&'a self, f: F) -> Result<Fetched, String>
    where
        F: FnOnce(danube_client::DanubeClient, Timeouts) -> Fut,
        Fut: Future<Output = Result<SchemaInfo, SchemaError>> + 'a,
    {
        let lease = self.client.get().await.map_err(|e| e.to_string())?;
        match f(lease.client, self.timeouts).await {
            Ok(info) => Fetched::try_from(info),
            Err(e) => {
                if e.retryable() {
                    self.client.discard(lease.generation).await;
                }
                Err(e.to_string())
            }
        }
    }
}
