use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use danube_connect_host::bench::{self, BenchSpec};
use danube_connect_host::component::SinkInstance;
use danube_connect_host::component::cache::{ComponentCache, Origin};
use danube_connect_host::component::inspect;
use danube_connect_host::config::{self, ConnectorConfig, LogFormat};
use danube_connect_host::host::{Host, component_path};
use danube_connect_host::observe::{self, Health};
use danube_connect_host::runtime::shutdown;
use danube_connect_host::runtime::sink::{Exit, SinkRuntime};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs a sandboxed WebAssembly connector between Danube and an external system.
#[derive(Parser)]
#[command(
    name = "danube-connect-host",
    version,
    args_conflicts_with_subcommands = true
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
    /// Show a component's world, exports and imported capabilities.
    Inspect {
        component: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Load the config and component, check grants, call `open` and `close`; touches no Danube topic.
    Validate(RunArgs),
    /// Measure a sink component's own ceiling with synthetic batches, without Danube.
    Bench(BenchArgs),
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
    #[command(flatten)]
    cache: CacheArgs,
}

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
            Some(Command::Inspect { component, cache }) => inspect_cmd(&component, &cache),
            Some(Command::Validate(args)) => validate(args).await,
            Some(Command::Bench(args)) => bench_cmd(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
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
    let Some(sink) = config.sink.clone() else {
        bail!(
            "{}: source connectors are not supported by this host version yet; configure a [sink]",
            config.path.display()
        );
    };
    let host = Host::new(args.cache.dir())?;
    let path = component_path(args.component.as_deref(), &config)?;
    let loaded = host.load(&path)?;
    tracing::info!(
        connector = config.connector.name,
        component = %path.display(),
        sha256 = &loaded.digest[..12],
        origin = ?loaded.origin,
        load_ms = loaded.load_time.as_secs_f64() * 1e3,
        "component ready"
    );
    let factory = host.sink_factory(&config, &loaded)?;
    let health = Health::default();
    if config.metrics.enabled {
        let addr = observe::server::serve(
            config.metrics.bind,
            host.metrics.registry.clone(),
            health.clone(),
        )
        .await
        .with_context(|| {
            format!(
                "binding metrics.bind = {} (from {})",
                config.metrics.bind,
                config.path.display()
            )
        })?;
        tracing::info!("metrics on http://{addr}/metrics");
    }
    let (trigger, shutdown) = shutdown::channel();
    shutdown::on_signals(trigger);
    let metrics = host.metrics.connector(&config.connector.name);
    let runtime = SinkRuntime::new(&config, sink, SinkInstance::new(factory), metrics, health);
    match runtime.run(shutdown).await {
        Exit::Shutdown => {
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Exit::Fatal(reason) => {
            tracing::error!("connector stopped: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn inspect_cmd(component: &Path, cache: &CacheArgs) -> Result<ExitCode> {
    let host = Host::new(cache.dir())?;
    let loaded = host.load(component)?;
    print!("{}", inspect::describe(&loaded));
    Ok(ExitCode::SUCCESS)
}

async fn validate(args: RunArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    init_logging(&config.log.level, config.log.format);
    let host = Host::new(args.cache.dir())?;
    let path = component_path(args.component.as_deref(), &config)?;
    let loaded = host.load(&path)?;
    let factory = host.sink_factory(&config, &loaded)?;
    let mut instance = SinkInstance::new(factory);
    let started = std::time::Instant::now();
    instance
        .ensure_open()
        .await
        .context("calling the connector's open")?;
    let open_time = started.elapsed();
    instance
        .close()
        .await
        .context("calling the connector's close")?;
    println!(
        "ok: {} ({}) opens with {}",
        path.display(),
        loaded.world.name(),
        config.path.display()
    );
    let origin = match loaded.origin {
        Origin::Cache => "loaded from the compiled-component cache",
        Origin::Compiled => "compiled",
    };
    println!(
        "component {origin} in {:.1} ms; instantiated and opened in {:.1} ms",
        loaded.load_time.as_secs_f64() * 1e3,
        open_time.as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
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
    let host = Host::new(args.cache.dir())?;
    let path = component_path(args.component.as_deref(), &config)?;
    let loaded = host.load(&path)?;
    let factory = host.sink_factory(&config, &loaded)?;
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
    if args.native_baseline {
        let native = bench::run_native_passthrough(&spec);
        println!(
            "native pass-through: {:.0} msgs/s, {:.0} ns/msg; Wasm boundary adds {:.0} ns/msg",
            native.per_second(),
            native.ns_per_message(),
            result.ns_per_message() - native.ns_per_message()
        );
    }
    Ok(if result.failed_batches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
