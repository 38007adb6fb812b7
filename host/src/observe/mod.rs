//! What the host measures: Prometheus metrics per connector and the totals read back from them.

pub mod counts;
pub mod metrics;

pub use metrics::{ConnectorMetrics, HostMetrics};
