//! Prometheus metrics, health and readiness over HTTP.

pub mod health;
pub mod metrics;
pub mod server;

pub use health::Health;
pub use metrics::{ConnectorMetrics, HostMetrics};
