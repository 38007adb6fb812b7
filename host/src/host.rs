//! What one host process shares between its connectors (engine, linker, compiled-component
//! cache, metrics), and how a connector's config becomes a ready-to-start instance.

use crate::capabilities::metrics::GuestMetricFamilies;
use crate::capabilities::{self, ConnectorContext, Grants, grants};
use crate::component::cache::ComponentCache;
use crate::component::instance::{Factory, RoleExports};
use crate::component::sink_instance::InstanceSettings;
use crate::component::store::GuestState;
use crate::component::{LoadedComponent, linker, loader};
use crate::config::ConnectorConfig;
use crate::engine::{self, EngineLimits, EpochTicker};
use crate::observe::HostMetrics;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub struct Host {
    pub engine: Engine,
    linker: Linker<GuestState>,
    cache: ComponentCache,
    pub metrics: HostMetrics,
    families: GuestMetricFamilies,
    _ticker: EpochTicker,
}

impl Host {
    /// A host sized for `connectors` connectors (each may briefly hold two instances while
    /// its component is swapped).
    pub fn new(cache_dir: Option<PathBuf>, connectors: usize) -> anyhow::Result<Self> {
        let limits = EngineLimits::for_connectors(connectors);
        let engine = engine::build(&limits)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .context("creating the WebAssembly engine")?;
        let linker = linker::build(&engine)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .context("linking host capabilities")?;
        let metrics = HostMetrics::new().context("registering metrics")?;
        let families = GuestMetricFamilies::new(metrics.registry.clone());
        let ticker = EpochTicker::start(&engine);
        Ok(Self {
            engine,
            linker,
            cache: ComponentCache::new(cache_dir),
            metrics,
            families,
            _ticker: ticker,
        })
    }

    pub fn load(&self, path: &Path) -> Result<LoadedComponent, loader::LoadError> {
        self.compile(loader::read(path)?)
    }

    /// Compile a file already read (see [`loader::read`]), or take it from the cache.
    pub fn compile(
        &self,
        file: loader::ComponentFile,
    ) -> Result<LoadedComponent, loader::LoadError> {
        let loaded = loader::compile(&self.engine, &self.cache, file)?;
        tracing::debug!(component = %loaded.path.display(), origin = ?loaded.origin, took = ?loaded.load_time, "component loaded");
        Ok(loaded)
    }

    /// What every instance of this connector gets: capabilities (opened once here), limits
    /// and its `[config]`.
    /// Its grants and its `[source.schema]` file are read here, so a bad `[capabilities.*]`
    /// section or schema fails start-up naming the file and the key.
    pub fn instance_settings(&self, config: &ConnectorConfig) -> anyhow::Result<InstanceSettings> {
        crate::schemas::check_config(config)?;
        let grants = Grants::from_config(config)?;
        let connector = ConnectorContext {
            name: config.connector.name.as_str().into(),
            config,
            metric_families: &self.families,
        };
        let shared = capabilities::Shared::open(&grants, &connector)?;
        Ok(InstanceSettings {
            grants: Arc::new(grants),
            capabilities: Arc::new(shared),
            memory_limit: (config.runtime.memory_limit_mb as usize) << 20,
            call_deadline: Duration::from_millis(config.runtime.call_deadline_ms),
            config_json: config.guest_config_json(),
        })
    }

    /// Check the component fits the config (role, grants) and pre-link it.
    pub fn factory<R: RoleExports>(
        &self,
        config: &ConnectorConfig,
        loaded: &LoadedComponent,
        settings: &InstanceSettings,
    ) -> anyhow::Result<Arc<Factory<R>>> {
        if !loaded.roles.serves(R::ROLE) {
            bail!(
                "{} is a {} component but {} configures a {} ([{}] section)",
                loaded.path.display(),
                loaded.roles.world(),
                config.path.display(),
                R::ROLE,
                R::ROLE,
            );
        }
        grants::check(
            loaded.imports.iter().map(String::as_str),
            &settings.grants,
            &config.path,
        )?;
        let factory = Factory::new(
            &self.engine,
            &self.linker,
            &loaded.component,
            settings.clone(),
            loaded.info(R::ROLE),
        )
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| format!("linking {}", loaded.path.display()))?;
        Ok(Arc::new(factory))
    }
}

/// The component path: the command line wins, then `connector.component` from the file.
pub fn component_path(cli: Option<&Path>, config: &ConnectorConfig) -> anyhow::Result<PathBuf> {
    match (cli, &config.connector.component) {
        (Some(p), _) => Ok(p.to_path_buf()),
        (None, Some(p)) => Ok(config.resolve(p)),
        (None, None) => bail!(
            "no component given: pass --component PATH.wasm or set `connector.component` in {}",
            config.path.display()
        ),
    }
}
