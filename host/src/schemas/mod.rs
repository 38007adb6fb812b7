//! Typed records through Danube's schema registry: a source's records are published with a
//! subject's schema reference and checked against that schema first, so a record that does
//! not match goes to the dead-letter topic instead of to consumers.

pub mod calls;
mod config_check;
mod definition;
mod error;
mod resolve;
mod validator;

pub use config_check::check as check_config;
pub use definition::raw_definition;
pub use error::SchemaError;
pub use resolve::{Resolved, resolve};
pub use validator::Validator;
