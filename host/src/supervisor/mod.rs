//! Running connectors: each in its own task with its own instance, limits and restart policy,
//! steered by commands (pause, resume, restart, hot swap) and described for the admin API.

pub mod handle;
pub mod launch;
pub mod registry;
pub mod signals;
pub mod view;
pub mod watch;

pub use handle::{ConnectorHandle, ReloadError, ReloadReport};
pub use launch::{Launch, launch};
pub use registry::Connectors;
