//! Connector configuration: one TOML file, environment overrides, `${VAR}` secrets.
//!
//! Every error names the file and the key, so a user can fix it without reading code.

mod env;
mod error;
mod host_file;
mod load;
pub mod schema;
mod secrets;
mod types;
pub mod validate;

pub use error::ConfigError;
pub use host_file::{HostFile, HostedConnector, load_host_file};
pub use load::{load, load_hosted, load_str, parse as parse_substituted};
pub use types::*;
