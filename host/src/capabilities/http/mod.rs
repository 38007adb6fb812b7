//! Outgoing HTTP for connectors (`wasi:http/outgoing-handler`), limited to granted hosts and
//! sent through one pooled client per connector with real timeouts.

mod client;
mod hooks;

pub use super::allowed_hosts::{AllowList, HostPattern};
pub use client::PooledClient;
pub use hooks::HttpCapability;
