//! The sink loop: receive → batch → `process` → ack, with retries, dead-lettering,
//! instance restarts, reconnection, and commands (pause, restart, hot swap) taken at batch
//! boundaries. Nothing is acknowledged before the connector reported it delivered or it
//! reached the dead-letter topic.

mod pump;
mod steer;

use super::backoff::Backoff;
use super::batcher::BatchPolicy;
use super::shutdown::Shutdown;
use crate::component::{GuestFailure, SinkInstance};
use crate::config::{ConnectorConfig, OnFatal, SinkSection};
use crate::danube::{DanubeError, Timeouts};
use crate::observe::ConnectorMetrics;
use crate::supervisor::control::ControlRx;
use crate::supervisor::status::{State, Status};
use std::time::Duration;

/// Why the loop ended.
#[derive(Debug)]
pub enum Exit {
    Shutdown,
    Fatal(String),
}

/// Why a batch could not be finished.
enum Stop {
    Reconnect(DanubeError),
    Fatal(String),
    Shutdown,
}

/// How this runtime is hosted: what it steers by and reports to.
pub struct Hosting {
    pub control: ControlRx,
    pub status: Status,
    pub metrics: ConnectorMetrics,
    /// The only connector of its process: a fatal error with `on_fatal = "stop"` ends
    /// `run`, so the process can exit non-zero. Hosted among others, it waits in `failed`.
    pub standalone: bool,
}

pub struct SinkRuntime {
    name: String,
    url: String,
    sink: SinkSection,
    dead_letter_topic: Option<String>,
    timeouts: Timeouts,
    policy: BatchPolicy,
    max_retries: u32,
    max_guest_traps: u32,
    on_fatal: OnFatal,
    standalone: bool,
    retry: Backoff,
    reconnect: Backoff,
    restart: Backoff,
    instance: SinkInstance,
    /// Whether an instance was ever opened: every later open is a restart.
    opened_before: bool,
    /// Guest traps since the last successful call: drives the crash-loop backoff.
    consecutive_traps: u32,
    paused: bool,
    /// What the loop is doing; reported as `paused` while paused, unless failed or stopped.
    activity: State,
    control: ControlRx,
    metrics: ConnectorMetrics,
    status: Status,
}

impl SinkRuntime {
    pub fn new(
        config: &ConnectorConfig,
        sink: SinkSection,
        instance: SinkInstance,
        hosting: Hosting,
    ) -> Self {
        let r = &config.runtime;
        let d = &config.danube;
        Self {
            name: config.connector.name.clone(),
            url: d.service_url.clone(),
            sink,
            dead_letter_topic: r.dead_letter_topic.clone(),
            timeouts: Timeouts {
                call: Duration::from_millis(d.call_timeout_ms),
            },
            policy: BatchPolicy {
                max_size: r.batch_size,
                max_wait: Duration::from_millis(r.batch_timeout_ms),
                linger: Duration::from_millis(r.linger_ms),
            },
            max_retries: r.max_retries,
            max_guest_traps: r.max_guest_traps,
            on_fatal: r.on_fatal,
            standalone: hosting.standalone,
            retry: Backoff {
                base: Duration::from_millis(r.retry_backoff_ms),
                max: Duration::from_millis(r.max_backoff_ms),
            },
            reconnect: Backoff {
                base: Duration::from_millis(d.reconnect_backoff_ms),
                max: Duration::from_millis(d.reconnect_max_backoff_ms),
            },
            restart: Backoff {
                base: Duration::from_millis(r.restart_backoff_ms),
                max: Duration::from_millis(r.restart_max_backoff_ms),
            },
            instance,
            opened_before: false,
            consecutive_traps: 0,
            paused: false,
            activity: State::Starting,
            control: hosting.control,
            metrics: hosting.metrics,
            status: hosting.status,
        }
    }

    pub async fn run(mut self, mut shutdown: Shutdown) -> Exit {
        let mut fatal_streak = 0u32;
        let exit = loop {
            let stop = match self.open_instance(&mut shutdown).await {
                Err(stop) => stop,
                Ok(()) => self.consume(&mut shutdown).await,
            };
            self.status.set_connected(false);
            let reason = match stop {
                Stop::Shutdown | Stop::Reconnect(_) => break Exit::Shutdown,
                Stop::Fatal(reason) => reason,
            };
            tracing::error!(connector = self.name, "connector failed: {reason}");
            self.status.record_error(&reason);
            self.set_state(State::Failed);
            self.close_instance().await;
            if self.standalone && self.on_fatal == OnFatal::Stop {
                break Exit::Fatal(reason);
            }
            match self.while_failed(fatal_streak, &mut shutdown).await {
                Ok(()) => fatal_streak += 1,
                Err(_) => break Exit::Shutdown,
            }
        };
        self.close_instance().await;
        self.set_state(State::Stopped);
        exit
    }

    /// Called once per batch: the shared status is only written when the state changes.
    fn set_state(&mut self, state: State) {
        if self.activity != state {
            self.activity = state;
            self.publish_state();
        }
    }

    fn publish_state(&self) {
        let shown = match self.activity {
            State::Failed | State::Stopped => self.activity,
            _ if self.paused => State::Paused,
            other => other,
        };
        self.status.set_state(shown);
    }

    async fn close_instance(&mut self) {
        self.status.set_open(false);
        if let Err(e) = self.instance.close().await {
            tracing::warn!(connector = self.name, "close failed: {e}");
        }
    }

    /// Open before consuming, so a connector with a bad config fails before taking messages.
    async fn open_instance(&mut self, shutdown: &mut Shutdown) -> Result<(), Stop> {
        loop {
            match self.ensure_open().await {
                Ok(()) => return Ok(()),
                Err(GuestFailure::Open(e)) => {
                    return Err(Stop::Fatal(format!("connector refused to open: {e:?}")));
                }
                Err(trap) => {
                    self.back_off_after_trap(&trap.to_string(), shutdown)
                        .await?
                }
            }
        }
    }

    async fn ensure_open(&mut self) -> Result<(), GuestFailure> {
        if self.instance.is_open() {
            return Ok(());
        }
        let r = self.instance.ensure_open().await;
        match &r {
            Err(GuestFailure::Trap { kind, .. }) => self.metrics.trap(kind.label()),
            Err(GuestFailure::Open(_)) => {}
            Ok(()) => {
                if self.opened_before {
                    self.metrics.restarts.inc();
                }
                self.opened_before = true;
                if self.activity == State::Restarting {
                    self.set_state(State::Running);
                }
                tracing::info!(
                    connector = self.name,
                    sha256 = &self.instance.info().sha256[..12],
                    "connector instance started"
                );
            }
        }
        self.status.set_open(r.is_ok());
        r
    }

    /// Crash-loop backoff: each consecutive trap doubles the wait before the next instance,
    /// up to `restart_max_backoff_ms`, so a guest that traps on everything cannot spin.
    async fn back_off_after_trap(
        &mut self,
        what: &str,
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        let delay = self.restart.delay(self.consecutive_traps, None);
        self.consecutive_traps += 1;
        self.set_state(State::Restarting);
        self.status.record_error(what);
        if self.consecutive_traps > 1 {
            tracing::warn!(
                connector = self.name,
                consecutive_traps = self.consecutive_traps,
                "crash loop: {what}; next instance in {delay:?}"
            );
        } else {
            tracing::warn!(connector = self.name, "{what}; restarting in {delay:?}");
        }
        self.pause_for(delay, shutdown).await
    }
}
