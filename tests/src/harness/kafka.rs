//! A real Kafka-API broker for a test: `tansu` (built from crates.io with its `dynostore`
//! feature, in-memory storage) on its own port, killed on drop, and rdkafka clients to write,
//! read and create topics with (tansu creates none by itself).

use super::certificates::{self, Certificates};
use super::host_process::free_port;
use super::paths;
use super::server_process::ServerProcess;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// `TANSU_BIN`, else `target/tools/bin/tansu` (`make tools` installs it there).
pub fn tansu_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(p);
    }
    let p = paths::target_dir().join("tools").join("bin").join("tansu");
    assert!(
        p.exists(),
        "{} is missing: run `make tools` (cargo install tansu --features dynostore)",
        p.display()
    );
    p
}

pub struct Tansu {
    server: Option<ServerProcess>,
    port: u16,
    dir: tempfile::TempDir,
    /// Listening with TLS: the certificates `openssl` made for it.
    tls: Option<Certificates>,
    /// stunnel, terminating TLS in front of tansu (whose own TLS flags cannot be combined in
    /// 0.6); tansu advertises the tunnel's port, so every connection goes through it.
    tunnel: Option<ServerProcess>,
}

/// One record as a test reads it back.
#[derive(Debug, Clone)]
pub struct Read {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub payload: Option<Vec<u8>>,
}

impl Read {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

impl Tansu {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// With `tls`, clients reach it over TLS (stunnel, Debian package stunnel4) with a server
    /// certificate for 127.0.0.1 signed by a CA of the test's own
    /// ([`certificates`](Self::certificates)).
    pub fn start_with(tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = tls.then(|| certificates::make(dir.path()));
        let mut broker = Self {
            server: None,
            port: 0,
            dir,
            tls,
            tunnel: None,
        };
        broker.launch(None);
        broker
    }

    pub fn certificates(&self) -> Option<&Certificates> {
        self.tls.as_ref()
    }

    fn launch(&mut self, port: Option<u16>) {
        let bin = tansu_bin();
        let log_path = self.dir.path().join("tansu.log");
        // With TLS, clients use the tunnel's port; tansu listens on a port of its own.
        let front = self.tls.as_ref().map(|_| port.unwrap_or_else(free_port));
        let spawn = |port: u16| {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("log file");
            let url = format!("tcp://127.0.0.1:{port}");
            let advertised = format!("tcp://127.0.0.1:{}", front.unwrap_or(port));
            Command::new(&bin)
                .arg("broker")
                .args([
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &advertised,
                ])
                .args(["--storage-engine", "memory://tansu/"])
                .env(
                    "RUST_LOG",
                    std::env::var("TANSU_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("start tansu")
        };
        let listening = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        let own = if front.is_some() { None } else { port };
        let server = ServerProcess::launch(own, Duration::from_secs(20), spawn, listening)
            .unwrap_or_else(|| panic!("tansu did not start:\n{}", self.log()));
        self.port = front.unwrap_or(server.port());
        if let (Some(front), None) = (front, &self.tunnel) {
            self.tunnel = Some(self.tunnel_to(front, server.port()));
        }
        self.server = Some(server);
    }

    fn tunnel_to(&self, front: u16, back: u16) -> ServerProcess {
        let Some(certs) = &self.tls else {
            panic!("a tunnel without certificates");
        };
        let conf = self.dir.path().join("stunnel.conf");
        let log = self.dir.path().join("stunnel.log");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\noutput = {}\n[kafka]\naccept = 127.0.0.1:{front}\n\
                 connect = 127.0.0.1:{back}\ncert = {}\nkey = {}\n",
                log.display(),
                certs.server_cert.display(),
                certs.server_key.display(),
            ),
        )
        .expect("stunnel config");
        let spawn = |_: u16| {
            Command::new("stunnel4")
                .arg(&conf)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start stunnel4 (Debian package stunnel4)")
        };
        let listening = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        ServerProcess::launch(Some(front), Duration::from_secs(10), spawn, listening)
            .unwrap_or_else(|| {
                panic!(
                    "stunnel did not start:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`: what clients bootstrap from.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL: connections drop, and the in-memory storage with them.
    pub fn stop(&mut self) {
        self.server = None;
    }

    /// Freeze the broker (SIGSTOP): connections stay open and nothing answers, as with a
    /// broker behind a broken network; [`resume`](Self::resume) carries on with its state.
    pub fn pause(&self) {
        if let Some(s) = &self.server {
            s.signal(libc::SIGSTOP);
        }
    }

    pub fn resume(&self) {
        if let Some(s) = &self.server {
            s.signal(libc::SIGCONT);
        }
    }

    /// Start again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(Some(self.port));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
    }

    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap());
        if let Some(tls) = &self.tls {
            c.set("security.protocol", "ssl");
            c.set("ssl.ca.location", tls.ca.display().to_string());
        }
        c
    }

    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> =
            self.config().create().expect("admin client");
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let results = admin
            .create_topics([&topic], &AdminOptions::new())
            .await
            .expect("create topics");
        for r in results {
            if let Err((name, code)) = r {
                panic!("creating topic {name}: {code:?}\n{}", self.log());
            }
        }
    }

    /// An idempotent producer, as a Kafka application would use, writing one record per
    /// batch: tansu 0.6 answers a fetch with the batches that *start* at or after the asked
    /// offset, so a group resuming inside a batch would never see that batch's rest. With one
    /// record per batch every committed offset starts one.
    pub fn producer(&self) -> FutureProducer {
        let mut c = self.config();
        c.set("enable.idempotence", "true");
        c.set("linger.ms", "5");
        c.set("batch.num.messages", "1");
        c.create().expect("producer")
    }

    /// Produce one record and wait for its acknowledgement.
    pub async fn send(
        producer: &FutureProducer,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        headers: &[(&str, &[u8])],
        payload: &[u8],
    ) {
        let mut h = rdkafka::message::OwnedHeaders::new();
        for (k, v) in headers {
            h = h.insert(rdkafka::message::Header {
                key: k,
                value: Some(*v),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(topic).payload(payload).headers(h);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| e)
            .expect("produce");
    }

    /// A consumer in its own group reading `topic` from the start.
    pub fn consumer(&self, topic: &str, group: &str) -> StreamConsumer {
        let mut c = self.config();
        c.set("group.id", group);
        c.set("auto.offset.reset", "earliest");
        c.set("enable.auto.commit", "false");
        let consumer: StreamConsumer = c.create().expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        consumer
    }

    /// Read until `n` records arrived or `timeout` passed.
    pub async fn read(consumer: &StreamConsumer, n: usize, timeout: Duration) -> Vec<Read> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while out.len() < n {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(Ok(m)) => out.push(Read {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default(),
                    payload: m.payload().map(<[u8]>::to_vec),
                }),
                Ok(Err(e)) => eprintln!("test consumer: {e}"),
                Err(_) => break,
            }
        }
        out
    }

    /// The group's committed offset per partition of `topic` (`-1`: none).
    pub async fn committed(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let mut c = self.config();
        c.set("group.id", group);
        let consumer: rdkafka::consumer::BaseConsumer = c.create().expect("consumer");
        let mut list = rdkafka::TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition(topic, p);
        }
        tokio::task::spawn_blocking(move || {
            let got = consumer
                .committed_offsets(list, Duration::from_secs(10))
                .expect("committed offsets");
            got.elements()
                .iter()
                .map(|e| match e.offset() {
                    rdkafka::Offset::Offset(o) => o,
                    _ => -1,
                })
                .collect()
        })
        .await
        .expect("join")
    }
}
