//! A real Mosquitto broker for a test: its own config, port and temp dir; killed on drop.

use super::certificates;
use super::host_process::free_port;
use super::server_process::ServerProcess;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

#[derive(Debug, Clone)]
pub struct MosquittoOptions {
    /// `Some((user, password))`: anonymous clients are refused.
    pub credentials: Option<(String, String)>,
    /// Unacknowledged QoS 1/2 messages Mosquitto sends one client at once (its default: 20).
    pub max_inflight: u32,
    /// A second listener speaking TLS that requires a client certificate, with a CA, server
    /// and client certificates made by `openssl` (see [`Mosquitto::tls`]).
    pub tls: bool,
}

/// The TLS listener's port and the PEM files a client needs.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub port: u16,
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Default for MosquittoOptions {
    fn default() -> Self {
        Self {
            credentials: None,
            max_inflight: 100,
            tls: false,
        }
    }
}

pub struct Mosquitto {
    server: Option<ServerProcess>,
    dir: tempfile::TempDir,
    port: u16,
    tls: Option<TlsFiles>,
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
        let tls = opts.tls.then(|| {
            let files = make_certificates(dir.path());
            conf.push_str(&format!(
                "listener {} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
                files.port,
                files.ca.display(),
                dir.path().join("server.pem").display(),
                dir.path().join("server.key").display(),
            ));
            files
        });
        std::fs::write(dir.path().join("base.conf"), conf).expect("write config");
        let mut broker = Self {
            server: None,
            dir,
            port: 0,
            tls,
        };
        broker.launch(None);
        broker
    }

    /// Start on `port` (a free one when `None`).
    fn launch(&mut self, port: Option<u16>) {
        let base = std::fs::read_to_string(self.dir.path().join("base.conf")).expect("config");
        let conf = self.dir.path().join("mosquitto.conf");
        let log_path = self.log_path();
        let spawn = |port: u16| {
            std::fs::write(&conf, format!("{base}listener {port} 127.0.0.1\n")).expect("config");
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("log file");
            Command::new(MOSQUITTO)
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start mosquitto (Debian package mosquitto)")
        };
        let listening = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        let server = ServerProcess::launch(port, Duration::from_secs(10), spawn, listening)
            .unwrap_or_else(|| panic!("mosquitto did not start:\n{}", self.log()));
        self.port = server.port();
        self.server = Some(server);
    }

    /// The TLS listener, when started with `tls: true`.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Stop (SIGKILL): every connection drops; nothing is kept (no persistence).
    pub fn stop(&mut self) {
        self.server = None;
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

/// Certificates for the TLS listener, readable by Mosquitto's own user.
fn make_certificates(dir: &std::path::Path) -> TlsFiles {
    let made = certificates::make(dir);
    // Mosquitto started as root reads them after dropping to its own user.
    use std::os::unix::fs::PermissionsExt;
    let readable = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    readable(dir, 0o755);
    for name in ["ca.pem", "server.pem", "server.key"] {
        readable(&dir.join(name), 0o644);
    }
    TlsFiles {
        port: free_port(),
        ca: made.ca,
        client_cert: made.client_cert,
        client_key: made.client_key,
    }
}
