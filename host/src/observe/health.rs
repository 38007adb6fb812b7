//! `/readyz` is ready while the connector is connected to Danube and its instance is open.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<Flags>,
}

#[derive(Default)]
struct Flags {
    danube_connected: AtomicBool,
    connector_open: AtomicBool,
}

impl Health {
    pub fn set_connected(&self, v: bool) {
        self.inner.danube_connected.store(v, Ordering::Relaxed);
    }

    pub fn set_open(&self, v: bool) {
        self.inner.connector_open.store(v, Ordering::Relaxed);
    }

    /// `Ok` when ready, else what is missing.
    pub fn readiness(&self) -> Result<(), String> {
        let mut missing = Vec::new();
        if !self.inner.danube_connected.load(Ordering::Relaxed) {
            missing.push("not connected to Danube");
        }
        if !self.inner.connector_open.load(Ordering::Relaxed) {
            missing.push("connector not open");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join(", "))
        }
    }
}
