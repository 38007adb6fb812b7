//! Resolving the source's schema before anything is published: registered (or looked up)
//! once per start, so every producer carries the same reference and every record is checked
//! against the version it is published under.

use super::SourceRuntime;
use crate::capabilities::schemas::SchemaAccess;
use crate::danube::SchemaRef;
use crate::runtime::lifecycle::{self, Stop};
use crate::runtime::shutdown::Shutdown;
use crate::runtime::status::State;
use crate::schemas;
use std::collections::HashMap;
use std::sync::Arc;

impl SourceRuntime {
    pub(super) async fn resolve_schema(&mut self, shutdown: &mut Shutdown) -> Result<(), Stop> {
        let Some(spec) = self.source.schema.clone() else {
            return Ok(());
        };
        let mut failures = 0u32;
        loop {
            let definition = match &self.schema_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    Stop::Misconfigured(format!(
                        "cannot read the schema file {}: {e}",
                        path.display()
                    ))
                })?),
                None => None,
            };
            let attempt = match self.lanes.client.get().await {
                Ok(lease) => {
                    let r = schemas::resolve(
                        &lease.client,
                        &spec,
                        definition.as_deref(),
                        self.timeouts,
                    )
                    .await;
                    if matches!(&r, Err(e) if e.retryable()) {
                        self.lanes.client.discard(lease.generation).await;
                    }
                    r.map_err(|e| (e.retryable(), e.to_string()))
                }
                Err(e) => Err((true, e.to_string())),
            };
            match attempt {
                Ok(resolved) => {
                    tracing::info!(
                        connector = self.life.name,
                        subject = resolved.subject,
                        schema_id = resolved.id,
                        version = resolved.version,
                        validate = resolved.validator.is_some(),
                        "publishing under schema"
                    );
                    self.schema_ref = Some(Arc::new(SchemaRef {
                        subject: resolved.subject.clone(),
                        version: resolved.version,
                    }));
                    self.schema = Some(Arc::new(resolved));
                    return Ok(());
                }
                Err((false, message)) => return Err(Stop::Misconfigured(message)),
                Err((true, message)) => {
                    self.life.set_state(State::Reconnecting);
                    self.life.status.record_error(message.clone());
                    let delay = self.reconnect.delay(failures, None);
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        connector = self.life.name,
                        "{message}; retrying in {delay:?}"
                    );
                    lifecycle::pause_for(self, delay, shutdown).await?;
                }
            }
        }
    }
}

/// The subject and version a record's own schema reference names (registered by the
/// connector through `schemas`, so normally already known); a reference the registry does not
/// know dead-letters the record with the reason.
pub(super) async fn schema_of(
    known: &mut HashMap<(u64, u32), Arc<SchemaRef>>,
    registry: &SchemaAccess,
    r: crate::wit::SchemaRef,
) -> Result<Arc<SchemaRef>, String> {
    if let Some(hit) = known.get(&(r.id, r.version)) {
        return Ok(hit.clone());
    }
    let fetched = registry.get(r.id, r.version).await.map_err(|e| {
        format!(
            "the record names schema {} v{}, which cannot be used: {e}",
            r.id, r.version
        )
    })?;
    let hit = Arc::new(SchemaRef {
        subject: fetched.subject,
        version: fetched.version,
    });
    known.insert((r.id, r.version), hit.clone());
    Ok(hit)
}
