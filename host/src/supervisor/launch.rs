//! Start one connector: load and check its component, build its runtime, run it in a task.

use super::control;
use super::handle::ConnectorHandle;
use super::status::Status;
use crate::component::SinkInstance;
use crate::component::sink_instance::Sink;
use crate::config::ConnectorConfig;
use crate::host::{Host, component_path};
use crate::runtime::shutdown::Shutdown;
use crate::runtime::sink::{Exit, Hosting, SinkRuntime};
use anyhow::bail;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub struct Launch {
    pub config: ConnectorConfig,
    /// Overrides `connector.component` from the config file.
    pub component: Option<PathBuf>,
    /// The only connector of the process (see [`Hosting::standalone`]).
    pub standalone: bool,
}

/// Everything is checked before the task starts, so a bad component or grant fails start-up
/// with a clear error instead of a connector that never runs.
pub fn launch(
    host: &Arc<Host>,
    launch: Launch,
    shutdown: Shutdown,
) -> anyhow::Result<(Arc<ConnectorHandle>, JoinHandle<Exit>)> {
    let config = launch.config;
    let Some(sink) = config.sink.clone() else {
        bail!(
            "{}: source connectors are not supported by this host version yet; configure a [sink]",
            config.path.display()
        );
    };
    let path = component_path(launch.component.as_deref(), &config)?;
    let loaded = host.load(&path)?;
    tracing::info!(
        connector = config.connector.name,
        component = %path.display(),
        sha256 = &loaded.digest[..12],
        origin = ?loaded.origin,
        load_ms = loaded.load_time.as_secs_f64() * 1e3,
        "component ready"
    );
    let settings = host.instance_settings(&config)?;
    let factory = host.factory::<Sink>(&config, &loaded, &settings)?;
    let status = Status::new(loaded.info());
    let metrics = host.metrics.connector(&config.connector.name);
    let (tx, rx) = control::channel();
    let runtime = SinkRuntime::new(
        &config,
        sink,
        SinkInstance::new(factory),
        Hosting {
            control: rx,
            status: status.clone(),
            metrics: metrics.clone(),
            standalone: launch.standalone,
        },
    );
    let task = tokio::spawn(runtime.run(shutdown));
    let handle = ConnectorHandle::new(config, settings, host.clone(), tx, status, metrics);
    Ok((Arc::new(handle), task))
}
