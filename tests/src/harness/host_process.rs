//! The host binary as a child process with generated config files.

use super::host_file;
use super::http;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

/// What to run: the generated file gets `[connector]`, `[danube]`, `[sink]` and (when the
/// connector runs alone) `[metrics]`; `extra` adds the rest (`[runtime]`, `[capabilities.*]`,
/// `[config]`).
#[derive(Debug, Clone)]
pub struct HostSpec {
    pub name: String,
    pub component: PathBuf,
    pub topics: Vec<String>,
    pub subscription: String,
    pub extra: String,
    /// Lines added to `[metrics]` after `bind` (e.g. `admin_token = "…"`); single mode only.
    pub metrics_extra: String,
    pub env: Vec<(String, String)>,
    /// `Some(keys)`: a source publishing to `topics[0]`, with these extra lines in `[source]`.
    pub source_keys: Option<String>,
    /// Extra lines in a sink's `[sink]` table.
    pub sink_keys: String,
    /// Extra lines in the `[danube]` table (TLS, token).
    pub danube_keys: String,
}

impl HostSpec {
    pub fn sink(name: &str, component: PathBuf, topic: &str, extra: &str) -> Self {
        Self {
            name: name.into(),
            component,
            topics: vec![topic.into()],
            subscription: format!("{name}-sub"),
            extra: extra.into(),
            metrics_extra: String::new(),
            env: Vec::new(),
            source_keys: None,
            sink_keys: String::new(),
            danube_keys: String::new(),
        }
    }

    /// A source publishing to `topic` by default; `source_keys` go into `[source]`
    /// (`producers_per_topic = 2`), `extra` as for a sink.
    pub fn source(
        name: &str,
        component: PathBuf,
        topic: &str,
        source_keys: &str,
        extra: &str,
    ) -> Self {
        Self {
            source_keys: Some(source_keys.into()),
            ..Self::sink(name, component, topic, extra)
        }
    }

    /// The HTTP sink on a fresh topic, posting JSON arrays to `url` (loopback granted);
    /// `tables` (`[runtime]`, `[sink.buffer]`, …) come first in the generated file.
    pub fn http_sink(name: &str, url: &str, tables: &str) -> Self {
        let extra = format!(
            "{tables}\n[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
             [config]\nurl = \"{url}\"\nbody = \"json_array\"\n"
        );
        Self::sink(
            name,
            super::paths::component("sink_http"),
            &super::unique_topic(name),
            &extra,
        )
    }

    pub fn with_metrics_extra(mut self, lines: &str) -> Self {
        self.metrics_extra = lines.into();
        self
    }
}

/// How the process was started, so [`HostProcess::restart`] can do it again.
#[derive(Debug, Clone)]
pub(super) enum Launch {
    /// `--component X --config connector.toml`.
    Single { spec: HostSpec, args: Vec<String> },
    /// `run host.toml`.
    File {
        specs: Vec<HostSpec>,
        host_extra: String,
        args: Vec<String>,
    },
}

pub struct HostProcess {
    child: Child,
    dir: tempfile::TempDir,
    pub metrics_addr: String,
    /// Sent as `Authorization: Bearer` by the admin helpers (see `admin.rs`).
    pub admin_token: Option<String>,
    launch: Launch,
    danube_url: String,
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Compiled components are cached across tests in the target dir.
pub(super) fn cache_dir() -> PathBuf {
    super::paths::target_dir().join("test-component-cache")
}

impl HostProcess {
    pub fn start(spec: HostSpec, danube_url: &str) -> Self {
        Self::start_with_args(spec, danube_url, &[])
    }

    /// Start and wait until ready (30 s at most); the host's log is the failure message.
    pub async fn started(spec: HostSpec, danube_url: &str) -> Self {
        let mut host = Self::start(spec, danube_url);
        assert!(
            host.wait_ready(Duration::from_secs(30)).await,
            "{}",
            host.log()
        );
        host
    }

    /// Like [`start`](Self::start), with more command-line arguments (e.g. `--watch`).
    pub fn start_with_args(spec: HostSpec, danube_url: &str, extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = extra_args.iter().map(|a| a.to_string()).collect();
        Self::launch_in(Launch::Single { spec, args }, danube_url, dir)
    }

    pub(super) fn launch_in(launch: Launch, danube_url: &str, dir: tempfile::TempDir) -> Self {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let (mut args, env, extra_args) = match &launch {
            Launch::Single { spec, args } => {
                let metrics = format!("bind = \"{bind}\"\n{}", spec.metrics_extra);
                let text = host_file::connector_toml(spec, danube_url, Some(&metrics));
                let config_path = dir.path().join("connector.toml");
                std::fs::write(&config_path, text).expect("write config");
                let command = vec![
                    "--component".to_string(),
                    spec.component.to_string_lossy().into_owned(),
                    "--config".to_string(),
                    config_path.to_string_lossy().into_owned(),
                ];
                (command, spec.env.clone(), args)
            }
            Launch::File {
                specs,
                host_extra,
                args,
            } => {
                let host_toml =
                    host_file::write_host_file(dir.path(), specs, danube_url, &bind, host_extra);
                let command = vec!["run".to_string(), host_toml.to_string_lossy().into_owned()];
                let env = specs.iter().flat_map(|s| s.env.clone()).collect();
                (command, env, args)
            }
        };
        args.extend(extra_args.iter().cloned());
        args.push("--cache-dir".into());
        args.push(cache_dir().to_string_lossy().into_owned());
        let stderr = std::fs::File::create(dir.path().join("host.log")).expect("log file");
        let child = Command::new(super::paths::host_bin())
            .args(&args)
            // The generated files name the broker; an inherited override must not redirect it.
            .env_remove("DANUBE_SERVICE_URL")
            .env_remove("DANUBE_METRICS_URL")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(
                "LOG_LEVEL",
                std::env::var("DANUBE_CONNECT_TEST_LOG")
                    .unwrap_or_else(|_| "info,danube_client=warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn host");
        Self {
            child,
            dir,
            metrics_addr: bind,
            admin_token: None,
            launch,
            danube_url: danube_url.into(),
        }
    }

    /// Start the same connectors again (same config folder, so the same state files).
    pub fn restart(self) -> Self {
        let HostProcess {
            mut child,
            dir,
            launch,
            danube_url,
            admin_token,
            ..
        } = self;
        let _ = child.start_kill();
        let mut host = Self::launch_in(launch, &danube_url, dir);
        host.admin_token = admin_token;
        host
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `http://<metrics listener><path>`, e.g. `admin_url("/connectors")`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.metrics_addr)
    }

    /// True once `/readyz` answers 200 (subscribed and every connector open).
    pub async fn wait_ready(&mut self, timeout: Duration) -> bool {
        let url = self.admin_url("/readyz");
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("host exited early ({status}):\n{}", self.log());
            }
            if let Some((200, _)) = http::get(&url).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub async fn metrics(&self) -> String {
        http::get(&self.admin_url("/metrics"))
            .await
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    pub async fn readyz(&self) -> Option<u16> {
        http::get(&self.admin_url("/readyz")).await.map(|(s, _)| s)
    }

    /// `kill -9`: no chance to ack, close or flush anything.
    pub async fn kill9(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Asks the host to reload every connector's component from its path.
    pub fn sighup(&self) {
        self.signal(libc::SIGHUP);
    }

    fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.child.id() {
            // SAFETY: sending a signal to our own child process.
            unsafe {
                libc::kill(pid as i32, signal);
            }
        }
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident memory of the host process (`VmRSS` in `/proc/<pid>/status`).
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// Everything the host logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host.log")).unwrap_or_default()
    }
}
