//! Connector configuration: one TOML file, environment overrides, `${VAR}` secrets.
//!
//! Every error names the file and the key, so a user can fix it without reading code.

mod env;
mod error;
mod load;
mod secrets;
mod types;
mod validate;

pub use error::ConfigError;
pub use load::{load, load_str};
pub use types::*;
