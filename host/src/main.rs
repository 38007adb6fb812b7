use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use danube_connect_host::bench::{self, BenchSpec};
use danube_connect_host::capabilities::{self, grants::GrantError};
use danube_connect_host::component::cache::{ComponentCache, Origin};
use danube_connect_host::component::inspect;
use danube_connect_host::component::instance::GuestFailure;
use danube_connect_host::component::instance::{Instance, RoleExports};
use danube_connect_host::component::sink_instance::Sink;
use danube_connect_host::component::source_instance::Source;
use danube_connect_host::component::{SinkInstance, SourceInstance};
use danube_connect_host::config::{self, ConnectorConfig, LogFormat, MetricsSection, Pipeline};
use danube_connect_host::endpoints::admin::Admin;
use danube_connect_host::endpoints::server;
use danube_connect_host::host::{Host, component_path};
use danube_connect_host::runtime::shutdown;
use danube_connect_host::runtime::sink::Exit;
use danube_connect_host::supervisor::{Connectors, Launch, launch, signals, watch};
use danube_connect_host::wit::GuestError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Runs a sandboxed WebAssembly connector between Danube and an external system.
#[derive(Parser)]
#[command(
    name = "danube-connect-host",
    version,
    args_conflicts_with_subcommands = true,
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct RunArgs {
    /// The connector component (.wasm); overrides `connector.component` in the config.
    #[arg(long)]
    component: Option<PathBuf>,
    /// The connector config file.
    #[arg(long, env = "CONNECTOR_CONFIG_PATH")]
    config: Option<PathBuf>,
    /// Hot-swap the component when its file changes.
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

#[derive(Args)]
struct ValidateArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Check every connector of this host file instead of one `--config`.
    #[arg(long, conflicts_with = "config")]
    host_file: Option<PathBuf>,
    /// Do not call the connector's `open` (which may reach its external system): the files,
    /// the component, its world and its grants are still checked.
    #[arg(long)]
    offline: bool,
}

#[derive(Args)]
struct HostArgs {
    /// The host file listing the connectors to run.
    host_file: PathBuf,
    /// Hot-swap each component when its file changes.
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

#[derive(Args, Clone)]
struct CacheArgs {
    /// Where compiled components are cached (default: $DANUBE_CONNECT_CACHE_DIR, else ~/.cache/danube-connect).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Compile the component on every start.
    #[arg(long)]
    no_cache: bool,
}

impl CacheArgs {
    fn dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(ComponentCache::default_dir)
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run every connector a host file lists, in one process.
    Run(HostArgs),
    /// Show a component's world, exports and imported capabilities.
    Inspect {
        component: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Load the config and component, check grants, call `open` and `close`; touches no Danube topic.
    Validate(ValidateArgs),
    /// Measure a sink component's own ceiling with synthetic batches, without Danube.
    Bench(BenchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// About the config files themselves.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the JSON Schema of a connector file (every section, key, type and default), for
    /// editors (taplo, VS Code's Even Better TOML) and CI checks.
    Schema {
        /// The schema of a host file (`run host.toml`) instead.
        #[arg(long)]
        host: bool,
    },
}

#[derive(Args)]
struct BenchArgs {
    #[arg(long)]
    component: Option<PathBuf>,
    /// Config for the component (grants and `[config]`); optional for self-contained sinks.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long, default_value_t = 200_000)]
    messages: usize,
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    #[arg(long, default_value_t = 256)]
    payload_bytes: usize,
    #[arg(long, default_value_t = 0)]
    attributes: usize,
    #[arg(long)]
    with_key: bool,
    /// Also run a native pass-through over the same batches and print the ratio.
    #[arg(long)]
    native_baseline: bool,
    /// Also append the results to FILE, one JSON line each (`{"name", "value", "unit"}`), as
    /// `make bench` gathers them.
    #[arg(long, value_name = "FILE")]
    figures: Option<PathBuf>,
    #[command(flatten)]
    cache: CacheArgs,
}

const AFTER_HELP: &str = "\
Environment (each overrides the config file's key):
  CONNECTOR_CONFIG_PATH  --config
  DANUBE_SERVICE_URL     danube.service_url
  DANUBE_METRICS_URL     danube.metrics_url (the broker's Prometheus exporter)
  CONNECTOR_NAME         connector.name
  DANUBE_TOPIC           sink.topics (comma-separated) or source.topic
  SUBSCRIPTION_NAME      sink.subscription
  SUBSCRIPTION_TYPE      sink.subscription_type (exclusive, shared, failover, key_shared)
  DISPATCH_STRATEGY      source.dispatch_strategy
  POLL_INTERVAL_MS       source.poll_interval_ms
  SENDS_IN_FLIGHT        source.sends_in_flight
  MAX_RETRIES, RETRY_BACKOFF_MS, BATCH_SIZE, BATCH_TIMEOUT_MS   runtime.*
  METRICS_ADDR           metrics.bind (address:port); METRICS_PORT replaces only the port
  LOG_LEVEL, LOG_FORMAT  log.level, log.format (text or json); RUST_LOG, when set, wins
  DANUBE_CONNECT_CACHE_DIR  where compiled components are cached
  ${VAR} in any string value of the file reads VAR (secrets).

Exit codes:
  0   stopped cleanly (SIGTERM, SIGINT)
  1   a connector failed with on_fatal = \"stop\", or another error
  69  validate: the connector could not reach its external system (its config is fine)
  78  the configuration is invalid (the file, the key and why are printed), including a
      connector refusing its [config] when it opens

Schema of the files: danube-connect-host config schema [--host]";

/// Exit code for an invalid configuration (sysexits' EX_CONFIG).
const EXIT_CONFIG: u8 = 78;
/// Exit code for an external system that cannot be reached (sysexits' EX_UNAVAILABLE).
const EXIT_UNAVAILABLE: u8 = 69;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Multi-threaded on purpose: a current-thread runtime measured faster, but against a real
    // broker (v0.15.1) some messages stopped arriving; keep this until that is understood.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None => run(cli.run).await,
            Some(Command::Run(args)) => run_host(args).await,
            Some(Command::Inspect { component, cache }) => inspect_cmd(&component, &cache),
            Some(Command::Validate(args)) => validate(args).await,
            Some(Command::Bench(args)) => bench_cmd(args).await,
            Some(Command::Config(ConfigCommand::Schema { host })) => {
                let schema = if host {
                    config::schema::host_file()
                } else {
                    capabilities::schema::connector_file()
                };
                println!("{}", serde_json::to_string_pretty(&schema)?);
                Ok(ExitCode::SUCCESS)
            }
            Some(Command::Completions { shell }) => {
                let mut command = <Cli as clap::CommandFactory>::command();
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut command, "danube-connect-host", &mut script);
                // A reader that stops early (`| head`) is no error of ours.
                let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_config_error(&e) {
                ExitCode::from(EXIT_CONFIG)
            } else if is_unavailable(&e) {
                ExitCode::from(EXIT_UNAVAILABLE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A bad file, key, grant or connector setting: the user must change the configuration,
/// retrying cannot help.
fn is_config_error(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<config::ConfigError>().is_some()
            || cause.downcast_ref::<GrantError>().is_some()
            || matches!(
                cause.downcast_ref::<GuestFailure>(),
                Some(GuestFailure::Open(GuestError::Config(_)))
            )
    })
}

/// The connector's `open` answered `retryable`: its external system is not there (yet).
fn is_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<GuestFailure>(),
            Some(GuestFailure::Open(GuestError::Retryable(_)))
        )
    })
}

/// `RUST_LOG`, when set and valid, wins over the configured level.
fn init_logging(level: &str, format: LogFormat) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .or_else(|| tracing_subscriber::EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn load_config(path: Option<&Path>) -> Result<ConnectorConfig> {
    let Some(path) = path else {
        bail!("no config given: pass --config connector.toml or set CONNECTOR_CONFIG_PATH");
    };
    Ok(config::load(path)?)
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    init_logging(&config.log.level, config.log.format);
    let host = Arc::new(Host::new(args.cache.dir(), 1)?);
    let metrics = config.metrics.clone();
    let file = config.path.clone();
    let (trigger, shutdown) = shutdown::channel();
    let spec = Launch {
        config,
        component: args.component,
        standalone: true,
    };
    let (handle, task) = launch(&host, spec, shutdown)?;
    let connectors = Arc::new(Connectors::new(vec![handle]));
    start_services(&host, &connectors, &metrics, &file, args.watch).await?;
    shutdown::on_signals(trigger);
    Ok(wait_for(vec![task]).await)
}

async fn run_host(args: HostArgs) -> Result<ExitCode> {
    let file = config::load_host_file(&args.host_file)?;
    init_logging(&file.log.level, file.log.format);
    for note in &file.notes {
        tracing::warn!("{note}");
    }
    let host = Arc::new(Host::new(args.cache.dir(), file.connectors.len())?);
    let (trigger, shutdown) = shutdown::channel();
    let mut handles = Vec::new();
    let mut tasks = Vec::new();
    for hosted in file.connectors {
        let name = hosted.config.connector.name.clone();
        let from = hosted.config.path.clone();
        let spec = Launch {
            config: hosted.config,
            component: hosted.component,
            standalone: false,
        };
        let (handle, task) = launch(&host, spec, shutdown.clone())
            .with_context(|| format!("starting connector `{name}` ({})", from.display()))?;
        handles.push(handle);
        tasks.push(task);
    }
    tracing::info!(connectors = handles.len(), host_file = %file.path.display(), "connectors started");
    let connectors = Arc::new(Connectors::new(handles));
    start_services(&host, &connectors, &file.metrics, &file.path, args.watch).await?;
    shutdown::on_signals(trigger);
    Ok(wait_for(tasks).await)
}

/// Metrics and admin listener, SIGHUP reloads, and the file watcher.
async fn start_services(
    host: &Arc<Host>,
    connectors: &Arc<Connectors>,
    metrics: &MetricsSection,
    file: &Path,
    watch_files: bool,
) -> Result<()> {
    if metrics.enabled {
        let loopback = metrics.bind.ip().is_loopback();
        let admin = Admin {
            connectors: connectors.clone(),
            registry: host.metrics.registry.clone(),
            token: metrics.admin_token.as_deref().map(Arc::from),
            changes_allowed: loopback,
        };
        let addr = server::serve(metrics.bind, admin).await.with_context(|| {
            format!(
                "binding metrics.bind = {} (from {})",
                metrics.bind,
                file.display()
            )
        })?;
        if !loopback && metrics.admin_token.is_none() {
            tracing::warn!(
                "the admin API on {addr} is read-only: set metrics.admin_token to pause, restart or reload from a non-loopback address"
            );
        }
        tracing::info!("metrics and admin API on http://{addr}");
    }
    signals::reload_on_sighup(connectors.clone());
    if watch_files {
        watch::watch(connectors.clone(), Duration::from_millis(500));
    }
    Ok(())
}

/// Wait for every connector to stop; fail when one stopped on a fatal error or crashed.
async fn wait_for(tasks: Vec<JoinHandle<Exit>>) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for task in tasks {
        match task.await {
            Ok(Exit::Shutdown) => {}
            Ok(Exit::Fatal(reason)) => {
                tracing::error!("connector stopped: {reason}");
                code = ExitCode::FAILURE;
            }
            Ok(Exit::Misconfigured(reason)) => {
                tracing::error!("connector stopped: {reason}");
                code = ExitCode::from(EXIT_CONFIG);
            }
            Err(e) => {
                tracing::error!("connector task ended abnormally: {e}");
                code = ExitCode::FAILURE;
            }
        }
    }
    if code == ExitCode::SUCCESS {
        tracing::info!("stopped");
    }
    code
}

fn inspect_cmd(component: &Path, cache: &CacheArgs) -> Result<ExitCode> {
    let host = Host::new(cache.dir(), 1)?;
    let loaded = host.load(component)?;
    print!("{}", inspect::describe(&loaded));
    Ok(ExitCode::SUCCESS)
}

async fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let run = args.run;
    let (connectors, level, format) = match &args.host_file {
        Some(path) => {
            let file = config::load_host_file(path)?;
            let connectors: Vec<(ConnectorConfig, Option<PathBuf>)> = file
                .connectors
                .into_iter()
                .map(|c| (c.config, c.component))
                .collect();
            (connectors, file.log.level, file.log.format)
        }
        None => {
            let config = load_config(run.config.as_deref())?;
            let (level, format) = (config.log.level.clone(), config.log.format);
            (vec![(config, run.component.clone())], level, format)
        }
    };
    init_logging(&level, format);
    let host = Host::new(run.cache.dir(), connectors.len())?;
    for (config, component) in &connectors {
        validate_one(&host, config, component.as_deref(), args.offline)
            .await
            .with_context(|| {
                format!(
                    "connector `{}` ({})",
                    config.connector.name,
                    config.path.display()
                )
            })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Load, link and check one connector; unless `offline`, also call its `open` and `close`.
async fn validate_one(
    host: &Host,
    config: &ConnectorConfig,
    component: Option<&Path>,
    offline: bool,
) -> Result<()> {
    let path = component_path(component, config)?;
    let loaded = host.load(&path)?;
    let settings = host.instance_settings(config)?;
    let started = std::time::Instant::now();
    match &config.pipeline {
        Pipeline::Source(_) => {
            let factory = host.factory::<Source>(config, &loaded, &settings)?;
            if !offline {
                open_and_close(SourceInstance::new(factory)).await?;
            }
        }
        Pipeline::Sink(_) => {
            let factory = host.factory::<Sink>(config, &loaded, &settings)?;
            if !offline {
                open_and_close(SinkInstance::new(factory)).await?;
            }
        }
    }
    let open_time = started.elapsed();
    let verb = if offline { "links" } else { "opens" };
    println!(
        "ok: {} ({}) {verb} with {}",
        path.display(),
        loaded.roles.world(),
        config.path.display()
    );
    let origin = match loaded.origin {
        Origin::Cache => "loaded from the compiled-component cache",
        Origin::Compiled => "compiled",
    };
    let what = if offline {
        "linked"
    } else {
        "instantiated and opened"
    };
    println!(
        "component {origin} in {:.1} ms; {what} in {:.1} ms",
        loaded.load_time.as_secs_f64() * 1e3,
        open_time.as_secs_f64() * 1e3
    );
    Ok(())
}

async fn open_and_close<R: RoleExports>(mut instance: Instance<R>) -> Result<()> {
    instance
        .ensure_open()
        .await
        .context("calling the connector's open")?;
    instance
        .close()
        .await
        .context("calling the connector's close")
}

async fn bench_cmd(args: BenchArgs) -> Result<ExitCode> {
    init_logging("warn", LogFormat::Text);
    let config = match &args.config {
        Some(p) => config::load(p)?,
        None => config::load_str(
            "[connector]\nname = \"bench\"\n[sink]\ntopics = [\"/default/bench\"]\nsubscription = \"bench\"\n",
            Path::new("<bench defaults>"),
            &|_| None,
        )?,
    };
    let host = Host::new(args.cache.dir(), 1)?;
    let path = component_path(args.component.as_deref(), &config)?;
    let loaded = host.load(&path)?;
    let settings = host.instance_settings(&config)?;
    let factory = host.factory::<Sink>(&config, &loaded, &settings)?;
    let spec = BenchSpec {
        messages: args.messages,
        batch_size: args.batch_size,
        payload_bytes: args.payload_bytes,
        attributes: args.attributes,
        with_key: args.with_key,
    };
    let result = bench::run_component(factory, &spec).await?;
    println!(
        "component {}: {} messages in batches of {} ({} B payload, {} attributes, key: {}): {:.0} msgs/s, {:.0} ns/msg, {} failed batches",
        path.display(),
        result.messages,
        spec.batch_size,
        spec.payload_bytes,
        spec.attributes,
        spec.with_key,
        result.per_second(),
        result.ns_per_message(),
        result.failed_batches
    );
    // e.g. "ceiling sink_http (http.toml), batches of 500 × 256 B, key + 3 attributes".
    let label = format!(
        "ceiling {}{}, {}",
        path.file_stem().unwrap_or_default().to_string_lossy(),
        args.config
            .as_deref()
            .and_then(Path::file_name)
            .map(|f| format!(" ({})", f.to_string_lossy()))
            .unwrap_or_default(),
        spec.label()
    );
    let mut figures = vec![
        (label.clone(), result.per_second(), "msgs/s"),
        (
            format!("{label}: per message"),
            result.ns_per_message(),
            "ns/msg",
        ),
    ];
    if args.native_baseline {
        let native = bench::run_native_passthrough(&spec);
        let boundary = result.ns_per_message() - native.ns_per_message();
        println!(
            "native pass-through: {:.0} msgs/s, {:.0} ns/msg; Wasm boundary adds {boundary:.0} ns/msg",
            native.per_second(),
            native.ns_per_message(),
        );
        figures.push((
            format!("{label}: Wasm boundary per message"),
            boundary,
            "ns/msg",
        ));
    }
    if let Some(file) = &args.figures {
        for (name, value, unit) in figures {
            bench::append_figure(file, &name, value, unit)
                .with_context(|| format!("appending to {}", file.display()))?;
        }
    }
    Ok(if result.failed_batches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
