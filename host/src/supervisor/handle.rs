//! The supervisor's grip on one running connector: send it commands, reload its component.

use crate::component::instance::RoleExports;
use crate::component::sink_instance::{InstanceSettings, Sink};
use crate::component::source_instance::Source;
use crate::component::{LoadError, LoadedComponent, loader};
use crate::config::ConnectorConfig;
use crate::host::Host;
use crate::observe::ConnectorMetrics;
use crate::runtime::control::{Action, Applied, Command, ControlError, ControlTx};
use crate::runtime::status::Status;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub struct ConnectorHandle {
    pub name: String,
    config: ConnectorConfig,
    settings: InstanceSettings,
    host: Arc<Host>,
    steering: Steering,
    pub status: Status,
    metrics: ConnectorMetrics,
    /// One reload at a time: a second one waits instead of racing the first.
    reloading: tokio::sync::Mutex<()>,
}

/// The connector's command channel, typed by its role: a swap can only carry a component
/// of the role the runtime runs.
pub enum Steering {
    Sink(ControlTx<Sink>),
    Source(ControlTx<Source>),
}

/// What a successful reload did.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    /// False when the file holds the component already running: nothing was swapped.
    pub changed: bool,
    pub sha256: String,
    pub previous_sha256: String,
    pub compile_ms: f64,
    pub pause_ms: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}; the running component keeps running")]
    Load(#[from] LoadError),
    #[error(
        "{path} is a {found} component but connector `{connector}` runs the {running} world; refused, the running component keeps running"
    )]
    WrongWorld {
        path: PathBuf,
        connector: String,
        found: &'static str,
        running: &'static str,
    },
    #[error("{0}; the running component keeps running")]
    Incompatible(String),
    #[error("{0}; the running component keeps running")]
    Refused(String),
    #[error("{0}")]
    Unavailable(ControlError),
}

impl ConnectorHandle {
    pub(super) fn new(
        config: ConnectorConfig,
        settings: InstanceSettings,
        host: Arc<Host>,
        steering: Steering,
        status: Status,
        metrics: ConnectorMetrics,
    ) -> Self {
        Self {
            name: config.connector.name.clone(),
            config,
            settings,
            host,
            steering,
            status,
            metrics,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// How long a command may wait for the next batch boundary: a guest call can take up to
    /// its deadline, and its outer bound is twice that.
    fn command_wait(&self) -> Duration {
        Duration::from_millis(self.config.runtime.call_deadline_ms).saturating_mul(2)
            + Duration::from_secs(10)
    }

    /// Pause, resume or restart the connector, waiting for the runtime to apply it.
    pub async fn act(&self, action: Action) -> Result<Applied, ControlError> {
        let wait = self.command_wait();
        let result = match &self.steering {
            Steering::Sink(tx) => tx.send(Command::Act(action), wait).await,
            Steering::Source(tx) => tx.send(Command::Act(action), wait).await,
        };
        if let Err(e) = &result {
            tracing::warn!(connector = self.name, "{} not applied: {e}", action.name());
        }
        result
    }

    /// Compile the component at `path` (default: the running one's path) off the hot path,
    /// check it fits, and have the runtime swap it in at the next batch boundary. `trigger`
    /// (admin API, SIGHUP, watch) goes into the log line.
    pub async fn reload(
        &self,
        path: Option<PathBuf>,
        trigger: &str,
    ) -> Result<ReloadReport, ReloadError> {
        let _one_at_a_time = self.reloading.lock().await;
        let result = self.try_reload(path).await;
        match &result {
            Ok(report) if !report.changed => {
                tracing::info!(
                    connector = self.name,
                    "{trigger}: component unchanged, nothing to swap"
                )
            }
            // The runtime logs the swap itself.
            Ok(_) => self.metrics.reload(true),
            Err(ReloadError::Unavailable(e)) => {
                tracing::warn!(connector = self.name, "{trigger}: reload not applied: {e}")
            }
            Err(e) => {
                self.metrics.reload(false);
                self.status.record_error(format!("reload failed: {e}"));
                tracing::warn!(connector = self.name, "{trigger}: reload failed: {e}");
            }
        }
        result
    }

    async fn try_reload(&self, path: Option<PathBuf>) -> Result<ReloadReport, ReloadError> {
        let running = self.status.component();
        let path = path.unwrap_or_else(|| running.path.clone());
        let read_path = path.clone();
        let file = tokio::task::spawn_blocking(move || loader::read(&read_path))
            .await
            .map_err(|e| {
                ReloadError::Incompatible(format!("reading the component failed: {e}"))
            })??;
        // Same bytes as the running component: nothing to compile or swap.
        if file.digest == running.sha256 {
            return Ok(ReloadReport {
                changed: false,
                sha256: file.digest,
                previous_sha256: running.sha256,
                compile_ms: 0.0,
                pause_ms: 0.0,
            });
        }
        let host = self.host.clone();
        let loaded = tokio::task::spawn_blocking(move || host.compile(file))
            .await
            .map_err(|e| {
                ReloadError::Incompatible(format!("compiling the component failed: {e}"))
            })??;
        let compile_ms = loaded.load_time.as_secs_f64() * 1e3;
        if !loaded.roles.serves(running.role) {
            return Err(ReloadError::WrongWorld {
                path,
                connector: self.name.clone(),
                found: loaded.roles.world(),
                running: running.role.world(),
            });
        }
        let applied = match &self.steering {
            Steering::Sink(tx) => self.swap_in(tx, &loaded).await?,
            Steering::Source(tx) => self.swap_in(tx, &loaded).await?,
        };
        let pause_ms = match applied {
            Applied::Swapped { pause } => pause.as_secs_f64() * 1e3,
            Applied::Done => 0.0,
        };
        Ok(ReloadReport {
            changed: true,
            sha256: loaded.digest,
            previous_sha256: running.sha256,
            compile_ms,
            pause_ms,
        })
    }

    /// Link `loaded` for the running role and have the runtime swap it in at the next batch
    /// boundary.
    async fn swap_in<R: RoleExports>(
        &self,
        control: &ControlTx<R>,
        loaded: &LoadedComponent,
    ) -> Result<Applied, ReloadError> {
        let factory = self
            .host
            .factory::<R>(&self.config, loaded, &self.settings)
            .map_err(|e| ReloadError::Incompatible(format!("{e:#}")))?;
        // Straight to the runtime: `reload` logs its own outcome.
        control
            .send(Command::Swap(factory), self.command_wait())
            .await
            .map_err(|e| match e {
                ControlError::Refused(why) => ReloadError::Refused(why),
                other => ReloadError::Unavailable(other),
            })
    }
}
