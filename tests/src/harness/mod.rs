//! What end-to-end tests need around the product: a Danube broker (the in-memory test broker,
//! or a real one when `DANUBE_SERVICE_URL` is set), a real HTTP receiver, and the host as a
//! child process that can be stopped, signalled or killed, alone or several connectors in one
//! process, and driven through its admin API; real ClickHouse, Mosquitto, PostgreSQL and
//! Kafka-API (tansu) servers for the connectors that talk to them.

pub mod admin;
pub mod certificates;
pub mod clickhouse;
pub mod danube;
mod host_file;
pub mod host_process;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod mosquitto;
pub mod mqtt_client;
pub mod paths;
pub mod pipeline;
pub mod postgres;
pub mod receiver;
mod server_process;
pub mod tinyproxy;
#[cfg(feature = "typed")]
pub mod typed;
pub mod webhook_client;

pub use admin::{AdminReply, View};
pub use danube::{Danube, unique_topic};
pub use host_process::{HostProcess, HostSpec};
pub use pipeline::Pipeline;
pub use receiver::{Receiver, Reply};

/// Poll `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T>(
    timeout: std::time::Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
