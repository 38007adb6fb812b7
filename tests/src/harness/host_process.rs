//! The host binary as a child process with a generated config file.

use super::http;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

/// What to run: the generated file gets `[connector]`, `[danube]`, `[sink]` and `[metrics]`;
/// `extra` adds the rest (`[runtime]`, `[capabilities.*]`, `[config]`).
#[derive(Debug, Clone)]
pub struct HostSpec {
    pub name: String,
    pub component: PathBuf,
    pub topics: Vec<String>,
    pub subscription: String,
    pub extra: String,
    pub env: Vec<(String, String)>,
}

impl HostSpec {
    pub fn sink(name: &str, component: PathBuf, topic: &str, extra: &str) -> Self {
        Self {
            name: name.into(),
            component,
            topics: vec![topic.into()],
            subscription: format!("{name}-sub"),
            extra: extra.into(),
            env: Vec::new(),
        }
    }
}

pub struct HostProcess {
    child: Child,
    dir: tempfile::TempDir,
    pub metrics_addr: String,
    spec: HostSpec,
    danube_url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Compiled components are cached across tests in the target dir.
fn cache_dir() -> PathBuf {
    super::paths::target_dir().join("test-component-cache")
}

impl HostProcess {
    pub fn start(spec: HostSpec, danube_url: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(spec, danube_url, dir)
    }

    fn start_in(spec: HostSpec, danube_url: &str, dir: tempfile::TempDir) -> Self {
        let port = free_port();
        let topics: Vec<String> = spec.topics.iter().map(|t| format!("\"{t}\"")).collect();
        let config = format!(
            "[connector]\nname = \"{name}\"\n\n[danube]\nservice_url = \"{url}\"\ncall_timeout_ms = 5000\n\
             reconnect_backoff_ms = 100\nreconnect_max_backoff_ms = 1000\n\n[sink]\ntopics = [{topics}]\n\
             subscription = \"{sub}\"\n\n[metrics]\nbind = \"127.0.0.1:{port}\"\n\n{extra}\n",
            name = spec.name,
            url = danube_url,
            topics = topics.join(", "),
            sub = spec.subscription,
            extra = spec.extra,
        );
        let config_path = dir.path().join("connector.toml");
        std::fs::write(&config_path, config).expect("write config");
        let stderr = std::fs::File::create(dir.path().join("host.log")).expect("log file");
        let child = Command::new(super::paths::host_bin())
            .arg("--component")
            .arg(&spec.component)
            .arg("--config")
            .arg(&config_path)
            .arg("--cache-dir")
            .arg(cache_dir())
            // The generated file names the broker; an inherited override must not redirect it.
            .env_remove("DANUBE_SERVICE_URL")
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("LOG_LEVEL", "info,danube_client=warn")
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn host");
        Self {
            child,
            dir,
            metrics_addr: format!("127.0.0.1:{port}"),
            spec,
            danube_url: danube_url.into(),
        }
    }

    /// Start the same connector again (same config folder, so the same state file).
    pub fn restart(self) -> Self {
        let HostProcess {
            mut child,
            dir,
            spec,
            danube_url,
            ..
        } = self;
        let _ = child.start_kill();
        Self::start_in(spec, &danube_url, dir)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// True once `/readyz` answers 200 (subscribed and the connector open).
    pub async fn wait_ready(&mut self, timeout: Duration) -> bool {
        let url = format!("http://{}/readyz", self.metrics_addr);
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
        http::get(&format!("http://{}/metrics", self.metrics_addr))
            .await
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    pub async fn readyz(&self) -> Option<u16> {
        http::get(&format!("http://{}/readyz", self.metrics_addr))
            .await
            .map(|(s, _)| s)
    }

    /// `kill -9`: no chance to ack, close or flush anything.
    pub async fn kill9(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    pub fn sigterm(&self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: sending a signal to our own child process.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
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

    /// Everything the host logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host.log")).unwrap_or_default()
    }
}
