//! A real PostgreSQL server for a test (Debian's `postgresql` package): its own cluster made
//! by `initdb` in a temp dir, `wal_level=logical`, a free loopback port, SCRAM passwords on
//! TCP; killed on drop. Postgres refuses to run as root, so as root it runs as the package's
//! `postgres` user.

use super::certificates;
use super::server_process::ServerProcess;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const SUPERUSER: &str = "postgres";
pub const PASSWORD: &str = "cdc-secret";

#[derive(Debug, Clone)]
pub struct PostgresOptions {
    pub wal_level: &'static str,
    /// TLS on, with a server certificate for 127.0.0.1 signed by [`Postgres::ca`].
    pub tls: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            wal_level: "logical",
            tls: false,
        }
    }
}

pub struct Postgres {
    server: Option<ServerProcess>,
    dir: tempfile::TempDir,
    port: u16,
    owner: Option<(u32, u32)>,
    opts: PostgresOptions,
}

impl Postgres {
    pub fn start() -> Self {
        Self::start_with(PostgresOptions::default())
    }

    pub fn start_with(opts: PostgresOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let owner = server_owner();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown temp dir");
        }
        std::fs::write(dir.path().join("pwfile"), PASSWORD).expect("pwfile");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path().join("pwfile"), Some(uid), Some(gid))
                .expect("chown pwfile");
        }
        let status = command(&bin("initdb"), owner)
            .arg("-D")
            .arg(dir.path().join("data"))
            .args([
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", dir.path().join("pwfile").display()))
            .args(["--no-sync", "-E", "UTF8", "--locale=C"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("initdb (Debian package postgresql)");
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        if opts.tls {
            let certs = dir.path().join("certs");
            std::fs::create_dir(&certs).expect("certs dir");
            certificates::make(&certs);
            use std::os::unix::fs::PermissionsExt;
            // The server insists on a key only its own user can read.
            for name in ["server.pem", "server.key"] {
                let path = certs.join(name);
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid)).expect("chown");
                }
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
            }
            std::fs::set_permissions(&certs, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        let mut pg = Self {
            server: None,
            dir,
            port: 0,
            owner,
            opts,
        };
        pg.launch(None);
        pg
    }

    fn launch(&mut self, port: Option<u16>) {
        let data = self.dir.path().join("data");
        let log_path = self.log_path();
        let owner = self.owner;
        let socket_dir = self.dir.path().to_path_buf();
        let wal_level = format!("wal_level={}", self.opts.wal_level);
        let certs = self.dir.path().join("certs");
        let tls = self.opts.tls;
        let spawn = |port: u16| {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("log file");
            let mut c = command(&bin("postgres"), owner);
            if tls {
                c.args(["-c", "ssl=on"])
                    .arg("-c")
                    .arg(format!(
                        "ssl_cert_file={}",
                        certs.join("server.pem").display()
                    ))
                    .arg("-c")
                    .arg(format!(
                        "ssl_key_file={}",
                        certs.join("server.key").display()
                    ));
            }
            c.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", socket_dir.display()))
                .args(["-c", &wal_level])
                .args(["-c", "max_replication_slots=20", "-c", "max_wal_senders=20"])
                // No fsync (tests never crash the server), but commits flush at once: a
                // walsender sends only flushed WAL, and asynchronous commit would add up to
                // wal_writer_delay (200 ms) to every change's way out.
                .args(["-c", "fsync=off"])
                // Short, so a test proves the host answers keepalives while the connector is stuck.
                .args(["-c", "wal_sender_timeout=5s"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start postgres (Debian package postgresql)")
        };
        let ready = |port: u16| {
            Command::new(bin("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        };
        let server = ServerProcess::launch(port, Duration::from_secs(30), spawn, ready)
            .unwrap_or_else(|| panic!("postgres did not start:\n{}", self.log()));
        self.port = server.port();
        self.server = Some(server);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server's certificate, with `tls: true`.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("certs").join("ca.pem")
    }

    /// A session as the superuser.
    pub async fn client(&self) -> tokio_postgres::Client {
        self.client_as(SUPERUSER, PASSWORD).await
    }

    pub async fn client_as(&self, user: &str, password: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .password(password)
            .dbname("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to postgres as {user}: {e}"));
        tokio::spawn(connection);
        client
    }

    /// Kill the server (SIGKILL) and start it again on the same port.
    pub fn restart(&mut self) {
        self.server = None;
        // A killed postmaster leaves its pid file; the new one checks the pid is gone.
        std::thread::sleep(Duration::from_millis(200));
        self.launch(Some(self.port));
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

/// A client program of the newest installed version (`pg_recvlogical`, `psql`, …).
pub fn tool(name: &str) -> PathBuf {
    bin(name)
}

/// The server binaries of the newest installed major version.
fn bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    match versions.last() {
        Some(v) => v.join("bin").join(name),
        None => Path::new(name).to_path_buf(),
    }
}

/// `Some((uid, gid))` of the `postgres` user when running as root.
fn server_owner() -> Option<(u32, u32)> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("postgres").ok()?;
    // SAFETY: `name` is a valid C string; the returned record is read before any other
    // getpw* call could overwrite it.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !pw.is_null(),
        "running as root, but there is no postgres user to run the server as (Debian package postgresql)"
    );
    // SAFETY: checked non-null above.
    Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn command(program: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(program);
    if let Some((uid, gid)) = owner {
        c.uid(uid).gid(gid);
        // The server resolves its own user's home, not root's.
        c.env("HOME", "/var/lib/postgresql");
    }
    c
}
