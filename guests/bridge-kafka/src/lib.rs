//! Kafka bridge: one component with both roles, run as two connector entries.
//!
//! - As a source ([`import::KafkaImport`]) it reads Kafka topics in a consumer group and
//!   publishes each record to the Danube topic its route names, with its key, its headers as
//!   attributes and `kafka.*` attributes; offsets are committed only after Danube persisted.
//! - As a sink ([`export::KafkaExport`]) it sends Danube messages to Kafka with an idempotent
//!   producer and acks each message only once Kafka acknowledged it.
//!
//! Each direction marks what it writes with a provenance header, and neither sends back what
//! the other brought in, so both can run on the same names without a loop. See `README.md`.

mod attributes;
mod config;
mod encode;
mod export;
mod import;
mod offsets;
mod routes;

pub use export::KafkaExport;
pub use import::KafkaImport;

use danube_connect_sdk::Error;
use danube_connect_sdk::kafka::KafkaError;

/// Why `open` could not start a client: a cluster that is not there (yet) is retried by the
/// host; anything else (a grant, a refusal, a missing topic, bad options) is configuration.
fn cannot_start(client: &str, e: KafkaError) -> Error {
    let text = format!("Kafka {client}: {}", e.describe());
    match e {
        KafkaError::Connection(_) | KafkaError::Failure(_) if refused_trust(&text) => {
            Error::config(text)
        }
        KafkaError::Connection(_) => Error::retryable(text),
        KafkaError::Failure(f) if !f.permanent => Error::retryable(text),
        _ => Error::config(text),
    }
}

/// A broker that answered but whose certificate or credentials did not check out: retrying
/// will not help, the grant or the config must change.
fn refused_trust(text: &str) -> bool {
    let text = text.to_lowercase();
    ["certificate", "ssl handshake", "authentication", "sasl"]
        .iter()
        .any(|w| text.contains(w))
}

danube_connect_sdk::export_sink!(KafkaExport);
danube_connect_sdk::export_source!(KafkaImport);
