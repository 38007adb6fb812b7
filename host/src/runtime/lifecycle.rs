//! What sink and source runtimes share about being supervised: the state they report, the
//! commands they take where no message is in hand, crash-loop backoff after guest traps, and
//! the wait after a fatal error.

use super::shutdown::Shutdown;
use crate::backoff::Backoff;
use crate::component::GuestFailure;
use crate::component::instance::{Factory, Instance, RoleExports};
use crate::config::{ConnectorConfig, OnFatal};
use crate::danube::DanubeError;
use crate::observe::ConnectorMetrics;
use crate::runtime::control::{Action, Applied, Command, Control, ControlRx};
use crate::runtime::status::{State, Status};
use crate::wit::GuestError;
use std::sync::Arc;
use std::time::Duration;

/// Why the loop ended.
#[derive(Debug)]
pub enum Exit {
    Shutdown,
    Fatal(String),
    /// The connector's `open` refused its `[config]`: fixing the file is the only cure.
    Misconfigured(String),
}

/// Why work in progress could not be finished.
pub(crate) enum Stop {
    Reconnect(DanubeError),
    Fatal(String),
    /// `open` answered `config`: fatal, and the process exits with EX_CONFIG.
    Misconfigured(String),
    Shutdown,
}

/// How a runtime is hosted: what it steers by and reports to.
pub struct Hosting<R: RoleExports> {
    pub control: ControlRx<R>,
    pub status: Status,
    pub metrics: ConnectorMetrics,
    /// The only connector of its process: a fatal error with `on_fatal = "stop"` ends
    /// `run`, so the process can exit non-zero. Hosted among others, it waits in `failed`.
    pub standalone: bool,
}

pub(crate) struct Lifecycle<R: RoleExports> {
    pub name: String,
    pub control: ControlRx<R>,
    pub status: Status,
    pub metrics: ConnectorMetrics,
    pub on_fatal: OnFatal,
    pub standalone: bool,
    pub restart: Backoff,
    /// Whether an instance was ever opened: every later open is a restart.
    pub opened_before: bool,
    /// Guest traps since the last successful call: drives the crash-loop backoff.
    pub consecutive_traps: u32,
    pub paused: bool,
    /// What the loop is doing; reported as `paused` while paused, unless failed or stopped.
    activity: State,
}

impl<R: RoleExports> Lifecycle<R> {
    pub fn new(config: &ConnectorConfig, hosting: Hosting<R>) -> Self {
        let r = &config.runtime;
        Self {
            name: config.connector.name.clone(),
            control: hosting.control,
            status: hosting.status,
            metrics: hosting.metrics,
            on_fatal: r.on_fatal,
            standalone: hosting.standalone,
            restart: Backoff {
                base: Duration::from_millis(r.restart_backoff_ms),
                max: Duration::from_millis(r.restart_max_backoff_ms),
            },
            opened_before: false,
            consecutive_traps: 0,
            paused: false,
            activity: State::Starting,
        }
    }

    /// Called once per batch: the shared status is only written when the state changes.
    pub fn set_state(&mut self, state: State) {
        if self.activity != state {
            self.activity = state;
            self.publish_state();
        }
    }

    pub fn publish_state(&self) {
        let shown = match self.activity {
            State::Failed | State::Stopped => self.activity,
            _ if self.paused => State::Paused,
            other => other,
        };
        self.status.set_state(shown);
    }

    /// Whether a fatal error ends the runtime instead of waiting in `failed`.
    pub fn exits_on_fatal(&self) -> bool {
        self.standalone && self.on_fatal == OnFatal::Stop
    }

    /// Report a fatal error: logged, kept as the last error, state `failed`.
    pub fn failed(&mut self, reason: &str) {
        tracing::error!(connector = self.name, "connector failed: {reason}");
        self.status.record_error(reason);
        self.set_state(State::Failed);
    }

    pub async fn ensure_open(&mut self, instance: &mut Instance<R>) -> Result<(), GuestFailure> {
        if instance.is_open() {
            return Ok(());
        }
        let r = instance.ensure_open().await;
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
                    sha256 = &instance.info().sha256[..12],
                    "connector instance started"
                );
            }
        }
        self.status.set_open(r.is_ok());
        r
    }

    pub async fn close(&mut self, instance: &mut Instance<R>) {
        self.status.set_open(false);
        if let Err(e) = instance.close().await {
            tracing::warn!(connector = self.name, "close failed: {e}");
        }
    }

    /// A freshly opened instance took over from `from` by a swap.
    pub fn swapped(&mut self, from: &Instance<R>, to: &Instance<R>, pause: Duration) {
        self.opened_before = true;
        self.consecutive_traps = 0;
        self.status.set_open(true);
        self.status.set_component(to.info().clone());
        self.metrics.swap_pause.observe(pause.as_secs_f64());
        tracing::info!(
            connector = self.name,
            from = &from.info().sha256[..12],
            to = &to.info().sha256[..12],
            component = %to.info().path.display(),
            pause_ms = pause.as_secs_f64() * 1e3,
            "component swapped"
        );
    }
}

/// A runtime that takes commands: the generic waits below answer them while they wait.
pub(crate) trait Steer: Send {
    type Role: RoleExports;

    fn life(&mut self) -> &mut Lifecycle<Self::Role>;

    /// Both halves at once, for calls that report on the instance they act on.
    fn parts(&mut self) -> (&mut Lifecycle<Self::Role>, &mut Instance<Self::Role>);

    /// Apply one command and answer it (see [`apply_command`]). Returns whether the
    /// instance was replaced.
    fn apply(&mut self, control: Control<Self::Role>) -> impl Future<Output = bool> + Send;

    /// Replace the instance by one of `factory`'s; the pause it took, or why it was refused
    /// (the running instance then keeps running).
    fn swap(
        &mut self,
        factory: Arc<Factory<Self::Role>>,
    ) -> impl Future<Output = Result<Duration, String>> + Send;

    /// Move data with an open instance until something stops it.
    fn work<'a>(&'a mut self, shutdown: &'a mut Shutdown)
    -> impl Future<Output = Stop> + Send + 'a;
}

/// The life of a connector: open, work, and after a fatal error either end (a lone connector
/// with `on_fatal = "stop"`) or wait in `failed` for a restart.
pub(crate) async fn run<S: Steer>(mut s: S, mut shutdown: Shutdown) -> Exit {
    let mut fatal_streak = 0u32;
    let exit = loop {
        let stop = match open_instance(&mut s, &mut shutdown).await {
            Err(stop) => stop,
            Ok(()) => s.work(&mut shutdown).await,
        };
        let (life, instance) = s.parts();
        life.status.set_connected(false);
        let (reason, misconfigured) = match stop {
            Stop::Shutdown | Stop::Reconnect(_) => break Exit::Shutdown,
            Stop::Fatal(reason) => (reason, false),
            Stop::Misconfigured(reason) => (reason, true),
        };
        life.failed(&reason);
        life.close(instance).await;
        if life.exits_on_fatal() {
            break if misconfigured {
                Exit::Misconfigured(reason)
            } else {
                Exit::Fatal(reason)
            };
        }
        match while_failed(&mut s, fatal_streak, &mut shutdown).await {
            Ok(()) => fatal_streak += 1,
            Err(_) => break Exit::Shutdown,
        }
    };
    let (life, instance) = s.parts();
    life.close(instance).await;
    life.set_state(State::Stopped);
    exit
}

/// Sleep for `d`, answering commands meanwhile; a restart or swap ends the wait early, as
/// whatever waited (a retry, a fresh instance) may go on with the new instance now.
pub(crate) async fn pause_for<S: Steer>(
    s: &mut S,
    d: Duration,
    shutdown: &mut Shutdown,
) -> Result<(), Stop> {
    let until = tokio::time::Instant::now() + d;
    loop {
        let control = tokio::select! {
            _ = tokio::time::sleep_until(until) => return Ok(()),
            _ = shutdown.wait() => return Err(Stop::Shutdown),
            c = s.life().control.recv() => c,
        };
        if s.apply(control).await {
            return Ok(());
        }
    }
}

/// Sit still while paused, answering commands, until resumed or shut down.
pub(crate) async fn hold<S: Steer>(s: &mut S, shutdown: &mut Shutdown) -> Result<(), Stop> {
    s.life().set_state(State::Running);
    while s.life().paused {
        let control = tokio::select! {
            _ = shutdown.wait() => return Err(Stop::Shutdown),
            c = s.life().control.recv() => c,
        };
        s.apply(control).await;
    }
    Ok(())
}

/// Crash-loop backoff: each consecutive trap doubles the wait before the next instance, up
/// to `restart_max_backoff_ms`, so a guest that traps on everything cannot spin.
pub(crate) async fn back_off_after_trap<S: Steer>(
    s: &mut S,
    what: &str,
    shutdown: &mut Shutdown,
) -> Result<(), Stop> {
    let life = s.life();
    let delay = life.restart.delay(life.consecutive_traps, None);
    life.consecutive_traps += 1;
    life.set_state(State::Restarting);
    life.status.record_error(what);
    if life.consecutive_traps > 1 {
        tracing::warn!(
            connector = life.name,
            consecutive_traps = life.consecutive_traps,
            "crash loop: {what}; next instance in {delay:?}"
        );
    } else {
        tracing::warn!(connector = life.name, "{what}; restarting in {delay:?}");
    }
    pause_for(s, delay, shutdown).await
}

/// Open before taking work, so a connector with a bad config fails before it moves a message.
/// A trap, or `open` answering `retryable` (e.g. its external system is not up yet), is
/// retried after the crash-loop backoff; any other error from `open` is fatal.
pub(crate) async fn open_instance<S: Steer>(
    s: &mut S,
    shutdown: &mut Shutdown,
) -> Result<(), Stop> {
    loop {
        let (life, instance) = s.parts();
        let what = match life.ensure_open(instance).await {
            Ok(()) => return Ok(()),
            Err(GuestFailure::Open(GuestError::Retryable(retry))) => {
                format!("connector cannot open yet: {}", retry.message)
            }
            Err(GuestFailure::Open(GuestError::Config(m))) => {
                return Err(Stop::Misconfigured(format!(
                    "connector refused its [config]: {m}"
                )));
            }
            Err(GuestFailure::Open(e)) => {
                return Err(Stop::Fatal(format!("connector refused to open: {e:?}")));
            }
            Err(trap) => trap.to_string(),
        };
        back_off_after_trap(s, &what, shutdown).await?;
    }
}

/// Apply one command where no message is in hand, and answer it. Returns whether the
/// instance was replaced.
pub(crate) async fn apply_command<S: Steer>(s: &mut S, control: Control<S::Role>) -> bool {
    let Control { command, reply } = control;
    let (result, replaced) = match command {
        Command::Act(Action::Pause) => {
            let life = s.life();
            life.paused = true;
            life.publish_state();
            tracing::info!(connector = life.name, "paused");
            (Ok(Applied::Done), false)
        }
        Command::Act(Action::Resume) => {
            let life = s.life();
            life.paused = false;
            life.publish_state();
            tracing::info!(connector = life.name, "resumed");
            (Ok(Applied::Done), false)
        }
        Command::Act(Action::Restart) => {
            tracing::info!(connector = s.life().name, "restart requested");
            let r = restart_instance(s).await;
            let ok = r.is_ok();
            (r.map(|()| Applied::Done), ok)
        }
        Command::Swap(factory) => {
            let r = s.swap(factory).await;
            let ok = r.is_ok();
            (r.map(|pause| Applied::Swapped { pause }), ok)
        }
    };
    // The supervisor logs refusals, with what triggered the command.
    let _ = reply.send(result);
    replaced
}

/// Close the instance and open a fresh one from the same component.
pub(crate) async fn restart_instance<S: Steer>(s: &mut S) -> Result<(), String> {
    let (life, instance) = s.parts();
    life.close(instance).await;
    life.consecutive_traps = 0;
    life.ensure_open(instance).await.map_err(|e| e.to_string())
}

/// After a fatal error: restart after the crash-loop backoff (`on_fatal = "restart"`), or
/// wait for a restart, resume or reload command. `Err` on shutdown.
pub(crate) async fn while_failed<S: Steer>(
    s: &mut S,
    streak: u32,
    shutdown: &mut Shutdown,
) -> Result<(), Stop> {
    let life = s.life();
    let auto = (life.on_fatal == OnFatal::Restart).then(|| life.restart.delay(streak, None));
    if let Some(delay) = auto {
        tracing::warn!(
            connector = life.name,
            "restarting after the fatal error in {delay:?}"
        );
    }
    let until = auto.map(|d| tokio::time::Instant::now() + d);
    loop {
        let control = tokio::select! {
            _ = sleep_until_some(until) => return Ok(()),
            _ = shutdown.wait() => return Err(Stop::Shutdown),
            c = s.life().control.recv() => c,
        };
        if matches!(
            control.command,
            Command::Act(Action::Restart | Action::Resume)
        ) {
            let life = s.life();
            life.paused = false;
            life.set_state(State::Starting);
            let _ = control.reply.send(Ok(Applied::Done));
            return Ok(());
        }
        if s.apply(control).await {
            return Ok(());
        }
        // A pause while failed is kept for when the connector runs again.
    }
}

async fn sleep_until_some(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
