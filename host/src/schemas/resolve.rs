//! Which schema a source publishes under: the definition file registered under the subject
//! (an identical definition keeps its version; a new one must pass the subject's
//! compatibility mode), or the subject's latest or pinned version.

use super::{SchemaError, Validator, raw_definition};
use crate::config::{SchemaKind, SchemaSpec};
use crate::danube::{DanubeError, Timeouts};
use danube_client::{CompatibilityMode, DanubeClient, SchemaInfo, SchemaType};

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

/// `definition` is the content of `spec.file`, read when the config was loaded.
pub async fn resolve(
    client: &DanubeClient,
    spec: &SchemaSpec,
    definition: Option<&[u8]>,
    timeouts: Timeouts,
) -> Result<Resolved, SchemaError> {
    let registry = client.schema();
    let subject = spec.subject.as_str();
    let latest = |what: &'static str| {
        let registry = registry.clone();
        async move {
            let r = timeouts
                .run(|| what.to_string(), registry.get_latest_schema(subject))
                .await;
            classify(what, r)
        }
    };
    let (info, raw) = match definition {
        Some(definition) => {
            let kind = spec.kind.unwrap_or(SchemaKind::JsonSchema);
            let existed = latest("looking up the subject").await.is_ok();
            if existed {
                set_mode(client, spec, timeouts).await?;
            }
            let registering = registry
                .register_schema(subject)
                .with_type(schema_type(kind))
                .with_schema_data(definition.to_vec())
                .with_created_by("danube-connect");
            let id = classify(
                "registering the schema",
                timeouts
                    .run(|| "registering the schema".into(), registering.execute())
                    .await,
            )?;
            if !existed {
                set_mode(client, spec, timeouts).await?;
            }
            let info = version_holding(client, id, definition, timeouts).await?;
            (info, definition.to_vec())
        }
        None => {
            let newest = latest("looking up the subject's latest version").await?;
            let info = match spec.version {
                Some(v) if v != newest.version => {
                    let what = "looking up the pinned version";
                    let r = timeouts
                        .run(
                            || what.into(),
                            registry.get_schema_version(newest.schema_id, Some(v)),
                        )
                        .await;
                    classify(what, r)?
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

/// The version of subject `id` whose definition is `definition`: registering an identical
/// definition returns an older version when the file went back to it.
async fn version_holding(
    client: &DanubeClient,
    id: u64,
    definition: &[u8],
    timeouts: Timeouts,
) -> Result<SchemaInfo, SchemaError> {
    let registry = client.schema();
    let what = "reading the registered version";
    let newest = classify(
        what,
        timeouts
            .run(|| what.into(), registry.get_schema_version(id, None))
            .await,
    )?;
    if raw_definition(&newest.schema_definition) == definition {
        return Ok(newest);
    }
    for v in (1..newest.version).rev() {
        let info = classify(
            what,
            timeouts
                .run(|| what.into(), registry.get_schema_version(id, Some(v)))
                .await,
        )?;
        if raw_definition(&info.schema_definition) == definition {
            return Ok(info);
        }
    }
    // The registry normalised the definition: the latest is the one just registered.
    Ok(newest)
}

async fn set_mode(
    client: &DanubeClient,
    spec: &SchemaSpec,
    timeouts: Timeouts,
) -> Result<(), SchemaError> {
    let Some(mode) = spec.compatibility else {
        return Ok(());
    };
    let mode = match mode {
        crate::config::Compatibility::None => CompatibilityMode::None,
        crate::config::Compatibility::Backward => CompatibilityMode::Backward,
        crate::config::Compatibility::Forward => CompatibilityMode::Forward,
        crate::config::Compatibility::Full => CompatibilityMode::Full,
    };
    let what = "setting the compatibility mode";
    let r = timeouts
        .run(
            || what.into(),
            client.schema().set_compatibility_mode(&spec.subject, mode),
        )
        .await;
    classify(what, r).map(|_| ())
}

fn schema_type(kind: SchemaKind) -> SchemaType {
    match kind {
        SchemaKind::JsonSchema => SchemaType::JsonSchema,
        SchemaKind::Avro => SchemaType::Avro,
        SchemaKind::Protobuf => SchemaType::Protobuf,
        SchemaKind::String => SchemaType::String,
        SchemaKind::Number => SchemaType::Number,
        SchemaKind::Bytes => SchemaType::Bytes,
    }
}

/// A registry that answered "no" is not asked again; one that did not answer is.
fn classify<T>(what: &str, r: Result<T, DanubeError>) -> Result<T, SchemaError> {
    use danube_client::errors::DanubeError as Client;
    use tonic::Code;
    r.map_err(|e| {
        let refused = match &e {
            DanubeError::Client {
                source: Client::FromStatus(status),
                ..
            } => !matches!(
                status.code(),
                Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled
            ),
            DanubeError::Client {
                source: Client::SchemaError(_),
                ..
            } => true,
            _ => false,
        };
        let message = match &e {
            DanubeError::Client {
                source: Client::FromStatus(status),
                ..
            } => status.message().to_string(),
            other => other.to_string(),
        };
        if refused {
            SchemaError::Refused {
                what: what.to_string(),
                message,
            }
        } else {
            SchemaError::Unavailable {
                what: what.to_string(),
                message,
            }
        }
    })
}
