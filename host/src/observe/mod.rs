//! Prometheus metrics, readiness and the admin API over HTTP.

pub mod admin;
pub mod counts;
pub mod metrics;
pub mod server;

pub use metrics::{ConnectorMetrics, HostMetrics};
