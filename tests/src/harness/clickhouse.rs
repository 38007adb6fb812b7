//! A real ClickHouse server for a test (Debian package `clickhouse-server`): its own config,
//! HTTP port and data dir; stoppable and restartable on the same port and data; killed on drop.

use super::http;
use super::server_process::ServerProcess;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const CLICKHOUSE: &str = "/usr/sbin/clickhouse-server";

/// A user with a password, for tests of credentials.
pub const WRITER: (&str, &str) = ("writer", "writer-secret");

pub struct ClickHouse {
    server: Option<ServerProcess>,
    dir: tempfile::TempDir,
    port: u16,
}

impl ClickHouse {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = Self {
            server: None,
            dir,
            port: 0,
        };
        server.write_users();
        server.launch(None);
        server
    }

    fn write_users(&self) {
        // Every query is logged, so tests can count inserts in `system.query_log`.
        let users = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><log_queries>1</log_queries></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <{u}><password>{p}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></{u}>
  </users>
  <quotas><default></default></quotas>
</yandex>
"#,
            u = WRITER.0,
            p = WRITER.1
        );
        std::fs::write(self.dir.path().join("users.xml"), users).expect("write users.xml");
    }

    fn write_config(&self, port: u16) -> PathBuf {
        let d = self.dir.path().display();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>information</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{port}</http_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>500</flush_interval_milliseconds></query_log>
</yandex>
"#
        );
        let path = self.dir.path().join("config.xml");
        std::fs::write(&path, config).expect("write config.xml");
        path
    }

    /// Start on `port` (a free one when `None`).
    fn launch(&mut self, port: Option<u16>) {
        let spawn = |port: u16| {
            let config = self.write_config(port);
            Command::new(CLICKHOUSE)
                .arg(format!("--config-file={}", config.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start clickhouse-server (Debian package clickhouse-server)")
        };
        let server = ServerProcess::launch(port, Duration::from_secs(30), spawn, ping)
            .unwrap_or_else(|| panic!("clickhouse-server did not start:\n{}", self.log()));
        self.port = server.port();
        self.server = Some(server);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stop with SIGKILL: connections drop mid-request, nothing is flushed on the way out.
    pub fn stop(&mut self) {
        self.server = None;
    }

    /// Start again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(Some(self.port));
    }

    /// Runs a statement; its text output, or the server's error.
    pub async fn query(&self, sql: &str) -> Result<String, String> {
        match http::post(&format!("{}/", self.url()), Some(sql), None).await {
            Some((200, body)) => Ok(body),
            Some((status, body)) => Err(format!("{sql}: {status} {body}")),
            None => Err(format!("{sql}: no answer from ClickHouse")),
        }
    }

    /// Runs a statement that must succeed.
    pub async fn exec(&self, sql: &str) -> String {
        self.query(sql).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// A single number from a query such as `SELECT count() FROM t`.
    pub async fn number(&self, sql: &str) -> u64 {
        let text = self.exec(sql).await;
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql}: not a number: {text:?}"))
    }

    /// `name Type` of every column of `table`, in table order (from `DESCRIBE`: Debian's 18.16
    /// has no `system.columns.position`).
    pub async fn columns(&self, table: &str) -> Vec<String> {
        self.exec(&format!("DESCRIBE TABLE {table} FORMAT TSV"))
            .await
            .lines()
            .map(|l| l.split('\t').take(2).collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// Finished `INSERT` statements into `table` (as the connector writes it, `` `db`.`t` ``)
    /// and the rows they wrote, from `system.query_log`.
    pub async fn inserts_into(&self, table: &str) -> (u64, u64) {
        self.exec("SYSTEM FLUSH LOGS").await;
        let text = self
            .exec(&format!(
                "SELECT count(), sum(written_rows) FROM system.query_log \
                 WHERE type = 2 AND query LIKE 'INSERT INTO {} %' FORMAT TSV",
                table.replace('`', "\\`")
            ))
            .await;
        let mut parts = text.split_whitespace().map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }

    pub fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        let err = read("error.log");
        let lines: Vec<&str> = err.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.ends_with("Ok.\n")
}
