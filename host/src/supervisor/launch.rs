//! Start one connector: load and check its component, build its runtime, run it in a task.

use super::handle::{ConnectorHandle, Steering};
use crate::component::instance::RoleExports;
use crate::component::sink_instance::Sink;
use crate::component::source_instance::Source;
use crate::component::{SinkInstance, SourceInstance};
use crate::config::{ConnectorConfig, Pipeline};
use crate::host::{Host, component_path};
use crate::observe::ConnectorMetrics;
use crate::runtime::control;
use crate::runtime::control::ControlRx;
use crate::runtime::lifecycle::{Exit, Hosting};
use crate::runtime::shutdown::Shutdown;
use crate::runtime::sink::{SinkGroup, SinkRuntime};
use crate::runtime::source::SourceRuntime;
use crate::runtime::status::Status;
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
    let status = Status::new(loaded.info(config.pipeline.role()));
    let metrics = host.metrics.connector(&config.connector.name);
    let hosted = Hosted {
        status: status.clone(),
        metrics: metrics.clone(),
        standalone: launch.standalone,
    };
    let (task, steering) = match &config.pipeline {
        Pipeline::Sink(sink) => {
            let factory = host.factory::<Sink>(&config, &loaded, &settings)?;
            let (tx, rx) = control::channel();
            let task = if sink.concurrency > 1 {
                let group = SinkGroup::new(&config, sink.clone(), factory, hosted.with(rx))?;
                tokio::spawn(group.run(shutdown))
            } else {
                let instance = SinkInstance::new(factory);
                let runtime = SinkRuntime::new(&config, sink.clone(), instance, hosted.with(rx))?;
                tokio::spawn(runtime.run(shutdown))
            };
            (task, Steering::Sink(tx))
        }
        Pipeline::Source(source) => {
            let factory = host.factory::<Source>(&config, &loaded, &settings)?;
            let (tx, rx) = control::channel();
            let runtime = SourceRuntime::new(
                &config,
                source.clone(),
                SourceInstance::new(factory),
                settings.capabilities.topics.clone(),
                settings.capabilities.schemas.clone(),
                hosted.with(rx),
            );
            (tokio::spawn(runtime.run(shutdown)), Steering::Source(tx))
        }
    };
    let handle = ConnectorHandle::new(config, settings, host.clone(), steering, status, metrics);
    Ok((Arc::new(handle), task))
}

/// What a runtime reports to, for either role; [`Hosted::with`] adds its command channel.
struct Hosted {
    status: Status,
    metrics: ConnectorMetrics,
    standalone: bool,
}

impl Hosted {
    fn with<R: RoleExports>(self, control: ControlRx<R>) -> Hosting<R> {
        Hosting {
            control,
            status: self.status,
            metrics: self.metrics,
            standalone: self.standalone,
        }
    }
}
