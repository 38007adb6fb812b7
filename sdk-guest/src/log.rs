//! Structured logging into the host's tracing output.
//!
//! ```
//! use danube_connect_sdk::log;
//! let url = "https://example.com/hook";
//! log::info("connected");
//! log::warn_with("retrying", &[("status", &503), ("url", &url)]);
//! ```
//!
//! Outside WebAssembly (unit tests) records go to stderr.

use std::fmt::Display;

pub use crate::bindings::sink::danube::connect::log::Level;

/// Logs `message` at `level` with key/value `fields`.
pub fn log(level: Level, message: &str, fields: &[(&str, &dyn Display)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.to_string()))
        .collect();
    emit(level, message, &fields);
}

#[cfg(target_arch = "wasm32")]
fn emit(level: Level, message: &str, fields: &[(String, String)]) {
    crate::bindings::sink::danube::connect::log::log(level, message, fields);
}

#[cfg(not(target_arch = "wasm32"))]
fn emit(level: Level, message: &str, fields: &[(String, String)]) {
    eprintln!("{level:?} {message} {fields:?}");
}

macro_rules! level_fns {
    ($($level:ident: $plain:ident, $with:ident;)*) => {$(
        #[doc = concat!("Logs at `", stringify!($plain), "` level.")]
        pub fn $plain(message: &str) {
            log(Level::$level, message, &[]);
        }

        #[doc = concat!("Logs at `", stringify!($plain), "` level with key/value fields.")]
        pub fn $with(message: &str, fields: &[(&str, &dyn Display)]) {
            log(Level::$level, message, fields);
        }
    )*};
}

level_fns! {
    Trace: trace, trace_with;
    Debug: debug, debug_with;
    Info: info, info_with;
    Warn: warn, warn_with;
    Error: error, error_with;
}
