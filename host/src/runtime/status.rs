//! What a connector is doing right now, shared between its runtime (which writes it) and the
//! admin API and `/readyz` (which read it).

use crate::component::ComponentInfo;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Opening the instance or connecting to Danube for the first time.
    Starting,
    Running,
    Paused,
    /// Lost Danube; rebuilding the connection with backoff.
    Reconnecting,
    /// The instance trapped; a fresh one starts after the crash-loop backoff.
    Restarting,
    /// Running, but the broker has messages for the subscription and dispatches none of
    /// them (see `runtime/sink/stall.rs`).
    Stalled,
    /// A fatal error stopped the connector; restart or reload it.
    Failed,
    Stopped,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub message: String,
    pub at_unix_ms: u64,
}

#[derive(Clone)]
pub struct Status {
    inner: Arc<Inner>,
}

struct Inner {
    connected: AtomicBool,
    open: AtomicBool,
    detail: Mutex<Detail>,
}

struct Detail {
    state: State,
    /// Why the subscription is stalled, while it is.
    stalled: Option<String>,
    component: ComponentInfo,
    last_error: Option<LastError>,
}

/// A consistent copy for one admin response.
pub struct Snapshot {
    pub state: State,
    pub ready: bool,
    pub component: ComponentInfo,
    pub last_error: Option<LastError>,
}

impl Status {
    pub fn new(component: ComponentInfo) -> Self {
        Self {
            inner: Arc::new(Inner {
                connected: AtomicBool::new(false),
                open: AtomicBool::new(false),
                detail: Mutex::new(Detail {
                    state: State::Starting,
                    stalled: None,
                    component,
                    last_error: None,
                }),
            }),
        }
    }

    fn detail(&self) -> MutexGuard<'_, Detail> {
        // A panic while holding this lock leaves plain data behind; keep serving it.
        self.inner
            .detail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set_connected(&self, v: bool) {
        self.inner.connected.store(v, Ordering::Relaxed);
    }

    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Relaxed)
    }

    pub fn set_open(&self, v: bool) {
        self.inner.open.store(v, Ordering::Relaxed);
    }

    pub fn set_state(&self, state: State) {
        self.detail().state = state;
    }

    /// What the runtime is doing; `Stalled` while running on a stalled subscription.
    pub fn state(&self) -> State {
        let d = self.detail();
        match (d.state, &d.stalled) {
            (State::Running, Some(_)) => State::Stalled,
            (state, _) => state,
        }
    }

    /// Mark the subscription stalled (with why) or flowing again (`None`).
    pub fn set_stalled(&self, why: Option<String>) {
        self.detail().stalled = why;
    }

    pub fn set_component(&self, component: ComponentInfo) {
        self.detail().component = component;
    }

    pub fn component(&self) -> ComponentInfo {
        self.detail().component.clone()
    }

    pub fn record_error(&self, message: impl Into<String>) {
        let at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.detail().last_error = Some(LastError {
            message: message.into(),
            at_unix_ms,
        });
    }

    /// `Ok` when connected and open, else what is missing. A paused connector is ready: it
    /// stands still on purpose.
    pub fn readiness(&self) -> Result<(), String> {
        let state = self.state();
        if state == State::Paused {
            return Ok(());
        }
        if state == State::Failed {
            return Err("failed".into());
        }
        if let Some(why) = &self.detail().stalled {
            return Err(format!("stalled: {why}"));
        }
        let mut missing = Vec::new();
        if !self.inner.connected.load(Ordering::Relaxed) {
            missing.push("not connected to Danube");
        }
        if !self.inner.open.load(Ordering::Relaxed) {
            missing.push("connector not open");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join(", "))
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let ready = self.readiness().is_ok();
        let state = self.state();
        let d = self.detail();
        Snapshot {
            state,
            ready,
            component: d.component.clone(),
            last_error: d.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;

    fn status() -> Status {
        Status::new(ComponentInfo {
            path: "x.wasm".into(),
            sha256: "ab".into(),
            role: Role::Sink,
        })
    }

    #[test]
    fn ready_needs_connection_and_instance() {
        let s = status();
        assert!(s.readiness().is_err());
        s.set_connected(true);
        assert_eq!(s.readiness(), Err("connector not open".into()));
        s.set_open(true);
        assert_eq!(s.readiness(), Ok(()));
    }

    #[test]
    fn paused_is_ready_and_failed_is_not() {
        let s = status();
        s.set_state(State::Paused);
        assert!(s.readiness().is_ok());
        s.set_connected(true);
        s.set_open(true);
        s.set_state(State::Failed);
        assert!(s.readiness().is_err());
    }
}
