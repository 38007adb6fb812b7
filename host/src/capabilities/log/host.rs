//! `danube:connect/log`: guest log lines become host tracing events tagged with the connector.

/// Host bindings of the `log` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world log { import danube:connect/log@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/log",
    });
}

use bindings::danube::connect::log::{Host, Level};
use std::sync::Arc;

pub struct LogCapability {
    pub connector: Arc<str>,
}

impl Host for LogCapability {
    fn log(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let connector = &*self.connector;
        let fields = FieldList(&fields);
        match level {
            Level::Trace => tracing::trace!(target: "guest", connector, %fields, "{message}"),
            Level::Debug => tracing::debug!(target: "guest", connector, %fields, "{message}"),
            Level::Info => tracing::info!(target: "guest", connector, %fields, "{message}"),
            Level::Warn => tracing::warn!(target: "guest", connector, %fields, "{message}"),
            Level::Error => tracing::error!(target: "guest", connector, %fields, "{message}"),
        }
    }
}

struct FieldList<'a>(&'a [(String, String)]);

impl std::fmt::Display for FieldList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}
