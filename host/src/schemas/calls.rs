//! The registry calls the host makes, each bounded by the call timeout and sorted into
//! "refused" (the registry answered no) and "unavailable" (worth another try).

use super::{SchemaError, raw_definition};
use crate::client::{DanubeError, Timeouts};
use crate::config::{Compatibility, SchemaKind};
use danube_client::{CompatibilityMode, DanubeClient, SchemaInfo, SchemaType};

/// The newest version of `subject`.
pub async fn latest(
    client: &DanubeClient,
    subject: &str,
    timeouts: Timeouts,
) -> Result<SchemaInfo, SchemaError> {
    let what = format!("looking up subject {subject}");
    let r = timeouts
        .run(|| what.clone(), client.schema().get_latest_schema(subject))
        .await;
    classify(&what, r)
}

/// Version `version` of subject `id` (its newest with `None`).
pub async fn version(
    client: &DanubeClient,
    id: u64,
    version: Option<u32>,
    timeouts: Timeouts,
) -> Result<SchemaInfo, SchemaError> {
    let what = format!("looking up schema {id} version {version:?}");
    let r = timeouts
        .run(
            || what.clone(),
            client.schema().get_schema_version(id, version),
        )
        .await;
    classify(&what, r)
}

/// Register `definition` under `subject` and return the version that holds it: an identical
/// definition keeps its version, which need not be the newest (a file gone back to v1). With
/// `mode`, the subject's compatibility mode is set first, so this registration is checked
/// with it (a new subject takes it right after its first version: a mode needs a subject).
pub async fn register(
    client: &DanubeClient,
    subject: &str,
    kind: SchemaKind,
    definition: &[u8],
    mode: Option<Compatibility>,
    timeouts: Timeouts,
) -> Result<SchemaInfo, SchemaError> {
    let existed = match mode {
        Some(mode) => {
            let existed = latest(client, subject, timeouts).await.is_ok();
            if existed {
                set_mode(client, subject, mode, timeouts).await?;
            }
            existed
        }
        None => true,
    };
    let info = register_definition(client, subject, kind, definition, timeouts).await?;
    if !existed && let Some(mode) = mode {
        set_mode(client, subject, mode, timeouts).await?;
    }
    Ok(info)
}

async fn register_definition(
    client: &DanubeClient,
    subject: &str,
    kind: SchemaKind,
    definition: &[u8],
    timeouts: Timeouts,
) -> Result<SchemaInfo, SchemaError> {
    let what = format!("registering a schema under {subject}");
    let registry = client.schema();
    let registering = registry
        .register_schema(subject)
        .with_type(schema_type(kind))
        .with_schema_data(definition.to_vec())
        .with_created_by("danube-connect");
    let id = classify(
        &what,
        timeouts.run(|| what.clone(), registering.execute()).await,
    )?;
    let newest = version(client, id, None, timeouts).await?;
    if raw_definition(&newest.schema_definition) == definition {
        return Ok(newest);
    }
    for v in (1..newest.version).rev() {
        let info = version(client, id, Some(v), timeouts).await?;
        if raw_definition(&info.schema_definition) == definition {
            return Ok(info);
        }
    }
    // The registry normalised the definition: the newest is the one just registered.
    Ok(newest)
}

async fn set_mode(
    client: &DanubeClient,
    subject: &str,
    mode: Compatibility,
    timeouts: Timeouts,
) -> Result<(), SchemaError> {
    let mode = match mode {
        Compatibility::None => CompatibilityMode::None,
        Compatibility::Backward => CompatibilityMode::Backward,
        Compatibility::Forward => CompatibilityMode::Forward,
        Compatibility::Full => CompatibilityMode::Full,
    };
    let what = format!("setting the compatibility mode of {subject}");
    let r = timeouts
        .run(
            || what.clone(),
            client.schema().set_compatibility_mode(subject, mode),
        )
        .await;
    classify(&what, r).map(|_| ())
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
        let (refused, message) = match &e {
            DanubeError::Client {
                source: Client::FromStatus(status),
                ..
            } => (
                !matches!(
                    status.code(),
                    Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled
                ),
                status.message().to_string(),
            ),
            DanubeError::Client {
                source: Client::SchemaError(m),
                ..
            } => (true, m.clone()),
            other => (false, other.to_string()),
        };
        let what = what.to_string();
        if refused {
            SchemaError::Refused { what, message }
        } else {
            SchemaError::Unavailable { what, message }
        }
    })
}
