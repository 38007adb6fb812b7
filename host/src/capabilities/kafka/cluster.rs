//! The cluster's metadata, read once when a client starts: every broker it advertises must be
//! granted, and the topics it knows tell a missing topic from a typo early.

use super::context::ClientState;
use super::errors::KafkaError;
use rdkafka::error::KafkaResult;
use rdkafka::metadata::Metadata;
use std::collections::HashSet;
use std::time::Duration;

/// Fetch metadata (librdkafka blocks: off the runtime's threads), check its brokers and
/// return its topic names.
pub async fn topics(
    state: &ClientState,
    fetch: impl FnOnce(Duration) -> KafkaResult<Metadata> + Send + 'static,
    timeout: Duration,
) -> Result<HashSet<String>, KafkaError> {
    let metadata = tokio::task::spawn_blocking(move || fetch(timeout))
        .await
        .map_err(|e| KafkaError::Connection(format!("reading the cluster's metadata: {e}")))?
        .map_err(|e| match KafkaError::from(e) {
            KafkaError::Refused(m) => KafkaError::Refused(m),
            other => KafkaError::Connection(format!(
                "no broker answered within {} ms: {other}{}",
                timeout.as_millis(),
                state
                    .last_error()
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default()
            )),
        })?;
    for broker in metadata.brokers() {
        state.check_advertised(&format!("{}:{}", broker.host(), broker.port()));
    }
    if let Some(why) = state.denied() {
        return Err(KafkaError::Denied(why));
    }
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name().to_string())
        .collect())
}
