//! The broker a test talks to: a real one when `DANUBE_SERVICE_URL` is set, else the in-memory
//! test broker on an ephemeral port.

use crate::broker::{BrokerOptions, TestBroker};
use danube_client::{Consumer, DanubeClient, Producer, SubType};
use danube_core::message::StreamMessage;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::mpsc;

pub struct Danube {
    pub broker: Option<TestBroker>,
    url: String,
    /// The CA and token the test's own clients present (a broker started with TLS or a token).
    credentials: Option<(std::path::PathBuf, Option<String>)>,
}

/// A topic name no other test (or earlier run against a real broker) uses.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or(0);
    format!(
        "/default/{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Danube {
    pub async fn start() -> Self {
        Self::start_with(BrokerOptions::default()).await
    }

    /// As [`Danube::start`], with these options for the test broker (a real broker keeps
    /// its own settings).
    pub async fn start_with(options: BrokerOptions) -> Self {
        match std::env::var("DANUBE_SERVICE_URL") {
            Ok(url) if !url.is_empty() => Self {
                broker: None,
                url,
                credentials: None,
            },
            _ => {
                let broker = TestBroker::start_with(options)
                    .await
                    .expect("start test broker");
                let url = broker.url();
                Self {
                    broker: Some(broker),
                    url,
                    credentials: None,
                }
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The broker's Prometheus metrics: the test broker's own, or a real broker's
    /// `--prom-exporter` address from `DANUBE_METRICS_URL` (`None` when that is not set).
    pub fn metrics_url(&self) -> Option<String> {
        match &self.broker {
            Some(broker) => Some(broker.metrics_url()),
            None => std::env::var("DANUBE_METRICS_URL")
                .ok()
                .filter(|u| !u.is_empty()),
        }
    }

    /// The in-memory broker, for tests that stop and restart it (a real broker cannot be
    /// restarted by a test).
    pub fn test_broker(&self) -> Option<&TestBroker> {
        self.broker.as_ref()
    }

    /// The test's own clients trust `ca` and send `token`, as a secured broker requires.
    pub fn with_credentials(mut self, ca: &std::path::Path, token: Option<&str>) -> Self {
        self.credentials = Some((ca.to_path_buf(), token.map(str::to_owned)));
        self
    }

    pub async fn client(&self) -> DanubeClient {
        let mut builder = DanubeClient::builder().service_url(&self.url);
        if let Some((ca, token)) = &self.credentials {
            builder = builder.with_tls(ca).expect("the test CA");
            if let Some(token) = token {
                builder = builder.with_token(token);
            }
        }
        builder.build().await.expect("danube client")
    }

    /// A reliable producer; creating it creates the topic, which consumers need first.
    pub async fn producer(&self, topic: &str) -> Producer {
        let client = self.client().await;
        let mut p = client
            .new_producer()
            .with_topic(topic)
            .with_name(format!(
                "test-producer-{}",
                unique_topic("p").replace('/', "_")
            ))
            .with_reliable_dispatch()
            .build()
            .expect("producer config");
        p.create().await.expect("create producer");
        p
    }

    /// Create `topic` and subscribe to it before anything is published, then read and
    /// acknowledge in the background: see [`Reader`].
    pub async fn reader(&self, topic: &str) -> Reader {
        let creator = self.producer(topic).await;
        let (mut consumer, mut incoming) = self.subscribe(topic, "reader").await;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(m) = incoming.recv().await {
                let _ = consumer.ack(&m).await;
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        Reader {
            rx,
            _creator: creator,
        }
    }

    /// Subscribe (starting at the latest message) and open the stream at once.
    pub async fn subscribe(
        &self,
        topic: &str,
        subscription: &str,
    ) -> (Consumer, mpsc::Receiver<StreamMessage>) {
        let client = self.client().await;
        let mut c = client
            .new_consumer()
            .with_topic(topic)
            .with_consumer_name(format!("{subscription}-consumer"))
            .with_subscription(subscription)
            .with_subscription_type(SubType::Exclusive)
            .build()
            .expect("consumer config");
        c.subscribe().await.expect("subscribe");
        let rx = c.receive().await.expect("receive");
        (c, rx)
    }
}

/// A subscriber that reads and acknowledges in the background, however long the test looks
/// away (a real broker skips messages for a subscription that falls far behind).
pub struct Reader {
    rx: mpsc::UnboundedReceiver<StreamMessage>,
    _creator: Producer,
}

impl Reader {
    /// Up to `n` messages, whatever arrived within `wait`.
    pub async fn take(&mut self, n: usize, wait: std::time::Duration) -> Vec<StreamMessage> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while out.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => out.push(m),
                _ => break,
            }
        }
        out
    }
}

/// What a [`Reader`] took so far, gathered in the background so a test can pace its
/// producers against it.
#[derive(Clone, Default)]
pub struct Gathered(std::sync::Arc<std::sync::Mutex<Vec<StreamMessage>>>);

impl Reader {
    pub fn gather(mut self) -> Gathered {
        let gathered = Gathered::default();
        let filling = gathered.clone();
        tokio::spawn(async move {
            loop {
                let got = self.take(500, std::time::Duration::from_millis(100)).await;
                if let Ok(mut all) = filling.0.lock() {
                    all.extend(got);
                }
            }
        });
        gathered
    }
}

impl Gathered {
    pub fn len(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn messages(&self) -> Vec<StreamMessage> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Waits until `n` messages were read, or `wait` passed.
    pub async fn wait_for(&self, n: usize, wait: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while self.len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Publish `{"n":i}` for every i in `range`, in order.
/// Attribute `name` of a message, "" when it has none.
pub fn attribute<'a>(m: &'a StreamMessage, name: &str) -> &'a str {
    m.attributes.get(name).map_or("", String::as_str)
}

pub async fn publish_numbered(producer: &Producer, range: std::ops::Range<u64>) {
    for i in range {
        producer
            .send(format!("{{\"n\":{i}}}").into_bytes(), None)
            .await
            .expect("publish");
    }
}

/// Publish `{"n":i}` for every i in `range`, in order, never more than `window` ahead of
/// `delivered()` (how many numbers arrived so far, counting from 0): a real broker stops
/// delivering to a subscription that falls ~256 messages behind.
pub async fn publish_paced(
    producer: &Producer,
    range: std::ops::Range<u64>,
    window: u64,
    delivered: impl Fn() -> u64,
) {
    const STEP: u64 = 50;
    let mut start = range.start;
    while start < range.end {
        while start >= delivered() + window {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let end = (start + STEP).min(range.end);
        publish_numbered(producer, start..end).await;
        start = end;
    }
}

/// Receive up to `n` messages (acking each) within `timeout`.
pub async fn drain(
    consumer: &mut Consumer,
    rx: &mut mpsc::Receiver<StreamMessage>,
    n: usize,
    timeout: std::time::Duration,
) -> Vec<StreamMessage> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while out.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) => {
                let _ = consumer.ack(&m).await;
                out.push(m);
            }
            _ => break,
        }
    }
    out
}
