//! A real HTTP proxy (Debian's tinyproxy) on a free loopback port, with its log, so a test
//! can tell which connections went through it.

use super::server_process::ServerProcess;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Tinyproxy {
    dir: tempfile::TempDir,
    server: ServerProcess,
}

impl Tinyproxy {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("tinyproxy.log");
        let server = ServerProcess::launch(
            None,
            Duration::from_secs(10),
            |port| {
                let conf = dir.path().join("tinyproxy.conf");
                // No ConnectPort line: CONNECT is allowed to any port, as tunnels to local
                // test servers need.
                std::fs::write(
                    &conf,
                    format!(
                        "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\n\
                         Allow 127.0.0.1\nLogLevel Connect\nLogFile \"{}\"\n",
                        log.display()
                    ),
                )
                .expect("write tinyproxy.conf");
                Command::new("tinyproxy")
                    .args(["-d", "-c"])
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("tinyproxy (Debian package tinyproxy)")
            },
            |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        )
        .expect("tinyproxy did not start");
        Self { dir, server }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// What it logged: one line per connection it made, naming the destination.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }
}
