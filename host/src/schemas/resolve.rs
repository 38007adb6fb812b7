//! Which schema a source publishes under: the definition file registered under the subject
//! (an identical definition keeps its version; a new one must pass the subject's
//! compatibility mode), or the subject's latest or pinned version.

use super::{SchemaError, Validator, calls, raw_definition};
use crate::client::Timeouts;
use crate::config::{SchemaKind, SchemaSpec};
use danube_client::DanubeClient;

/// The schema records are published under, and how to check them.
#[derive(Debug)]
pub struct Resolved {
    pub subject: String,
    pub id: u64,
    pub version: u32,
    pub kind: SchemaKind,
    /// None with `validate = false`.
    pub validator: Option<Validator>,
}

impl Resolved {
    /// Why a payload may not be published under this schema, if it may not.
    pub fn check(&self, payload: &[u8]) -> Result<(), String> {
        match &self.validator {
            Some(v) => v.check(payload).map_err(|why| {
                format!(
                    "does not match schema {} v{} ({}): {why}",
                    self.subject,
                    self.version,
                    self.kind.name()
                )
            }),
            None => Ok(()),
        }
    }
}

/// `definition` is the content of `spec.file`, read when the connector starts.
pub async fn resolve(
    client: &DanubeClient,
    spec: &SchemaSpec,
    definition: Option<&[u8]>,
    timeouts: Timeouts,
) -> Result<Resolved, SchemaError> {
    let subject = spec.subject.as_str();
    let (info, raw) = match definition {
        Some(definition) => {
            let kind = spec.kind.unwrap_or(SchemaKind::JsonSchema);
            let info = calls::register(
                client,
                subject,
                kind,
                definition,
                spec.compatibility,
                timeouts,
            )
            .await?;
            (info, definition.to_vec())
        }
        None => {
            let newest = calls::latest(client, subject, timeouts).await?;
            let info = match spec.version {
                Some(v) if v != newest.version => {
                    calls::version(client, newest.schema_id, Some(v), timeouts).await?
                }
                _ => newest,
            };
            let raw = raw_definition(&info.schema_definition);
            (info, raw)
        }
    };
    let kind = match spec.kind {
        Some(kind) => kind,
        None => {
            SchemaKind::from_name(&info.schema_type).ok_or_else(|| SchemaError::Definition {
                subject: subject.to_string(),
                message: format!("unknown schema type \"{}\"", info.schema_type),
            })?
        }
    };
    let validator = if spec.validate {
        Some(Validator::new(subject, kind, &raw)?)
    } else {
        None
    };
    Ok(Resolved {
        subject: subject.to_string(),
        id: info.schema_id,
        version: info.version,
        kind,
        validator,
    })
}
