//! What connectors may import, and the host side of each capability.
//!
//! Deny by default: [`grants::check`] refuses a component that imports a capability its
//! config does not grant, naming the capability and the config key that grants it.

pub mod allowed_hosts;
pub mod grants;
pub mod http;
pub mod log;
pub mod metrics;
pub mod mqtt;
pub mod state;
pub mod topics;
