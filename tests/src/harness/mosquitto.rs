//! A real Mosquitto broker for a test: its own config, port and temp dir; killed on drop.

use super::host_process::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

#[derive(Debug, Clone)]
pub struct MosquittoOptions {
    /// `Some((user, password))`: anonymous clients are refused.
    pub credentials: Option<(String, String)>,
    /// Unacknowledged QoS 1/2 messages Mosquitto sends one client at once (its default: 20).
    pub max_inflight: u32,
}

impl Default for MosquittoOptions {
    fn default() -> Self {
        Self {
            credentials: None,
            max_inflight: 100,
        }
    }
}

pub struct Mosquitto {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Mosquitto {
    pub fn start() -> Self {
        Self::start_with(MosquittoOptions::default())
    }

    pub fn start_with(opts: MosquittoOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conf = String::from(
            "persistence false\nmax_queued_messages 0\nmax_queued_bytes 0\nlog_dest stderr\n",
        );
        conf.push_str(&format!("max_inflight_messages {}\n", opts.max_inflight));
        match &opts.credentials {
            Some((user, password)) => {
                let file = dir.path().join("passwords");
                let status = Command::new("mosquitto_passwd")
                    .args(["-b", "-c"])
                    .arg(&file)
                    .args([user, password])
                    .status()
                    .expect("mosquitto_passwd (Debian package mosquitto)");
                assert!(status.success(), "mosquitto_passwd failed");
                conf.push_str(&format!(
                    "allow_anonymous false\npassword_file {}\n",
                    file.display()
                ));
            }
            None => conf.push_str("allow_anonymous true\n"),
        }
        std::fs::write(dir.path().join("base.conf"), conf).expect("write config");
        let mut broker = Self {
            child: None,
            dir,
            port: 0,
        };
        broker.launch(None);
        broker
    }

    /// Start on `port` (a free one when `None`); retries with a new port if it was taken.
    fn launch(&mut self, port: Option<u16>) {
        for _ in 0..10 {
            let port = port.unwrap_or_else(free_port);
            let base = std::fs::read_to_string(self.dir.path().join("base.conf")).expect("config");
            let conf = self.dir.path().join("mosquitto.conf");
            std::fs::write(&conf, format!("{base}listener {port} 127.0.0.1\n")).expect("config");
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
                .expect("log file");
            let mut child = Command::new(MOSQUITTO)
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start mosquitto (Debian package mosquitto)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    self.child = Some(child);
                    self.port = port;
                    return;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("mosquitto did not start:\n{}", self.log());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Stop (SIGKILL): every connection drops; nothing is kept (no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(Some(self.port));
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}
