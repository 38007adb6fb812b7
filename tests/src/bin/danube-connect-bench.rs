//! Benchmark driver (see BENCHMARKS.md):
//!
//! * `receiver --addr 127.0.0.1:PORT`: a fast webhook receiver answering 200, for
//!   `danube-connect-host bench` against the HTTP sink.
//! * `e2e`: producer → broker → consumer, first a bare danube-client consumer acking every
//!   message, then `danube-connect-host` running a component, in the same run; prints both
//!   rates, their ratio and the host's memory. `--sink clickhouse` writes into a ClickHouse
//!   server started for the run instead of an HTTP receiver; `--buffer` gives the host the
//!   durable local buffer (`[sink.buffer] kind = "disk"`, in the run's temp dir).
//! * `table --figures FILE [--json OUT]`: the figures the benchmarks recorded in FILE (JSON
//!   lines, see `bench_figures`) as one aligned table; OUT gets them as one JSON document with
//!   the machine they ran on.

use danube_client::{DanubeClient, SubType};
use danube_connect_tests::bench_args::{BoxError, arg, num};
use danube_connect_tests::bench_figures::{self, record};
use danube_connect_tests::broker::{BrokerOptions, TestBroker};
use danube_connect_tests::harness::clickhouse::ClickHouse;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{HostProcess, HostSpec, Receiver, unique_topic};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match std::env::args().nth(1).as_deref() {
        Some("receiver") => receiver().await,
        Some("e2e") => e2e().await,
        Some("table") => table(),
        _ => Err("usage: danube-connect-bench receiver --addr ADDR | table --figures FILE [--json OUT] | e2e [--messages N] [--producers K] [--payload-bytes B] [--component WASM] [--sink http|clickhouse] [--batch-size N] [--batch-timeout-ms MS] [--linger-ms MS] [--max-unacked N] [--max-ahead N] [--window N --admin-url URL] [--buffer] [--danube-url URL]".into()),
    }
}

async fn receiver() -> Result<(), BoxError> {
    use axum::Router;
    let addr = arg("--addr").unwrap_or_else(|| "127.0.0.1:18080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // Read every body: a server that answers without reading it must close the connection,
    // which would make the benchmark measure reconnects.
    let app = Router::new().fallback(|_body: axum::body::Bytes| async { "" });
    println!("receiver on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// Most messages published but not yet consumed (`--max-ahead`, default 200): a real broker
/// stops delivering to a subscription that falls ~256 messages behind, so publishers wait for
/// the consumer.
fn max_ahead() -> u64 {
    num("--max-ahead", 200)
}

async fn publish(
    client: &DanubeClient,
    topic: &str,
    n: u64,
    producers: u64,
    payload_bytes: usize,
    consumed: Arc<AtomicU64>,
) -> Result<Duration, BoxError> {
    let sent = Arc::new(AtomicU64::new(0));
    let ahead = max_ahead();
    let mut handles = Vec::new();
    let started = Instant::now();
    for p in 0..producers {
        let mut producer = client
            .new_producer()
            .with_topic(topic)
            .with_name(format!("bench-{p}-{}", std::process::id()))
            .with_reliable_dispatch()
            .build()?;
        producer.create().await?;
        let share = n / producers + u64::from(p < n % producers);
        let (sent, consumed) = (sent.clone(), consumed.clone());
        handles.push(tokio::spawn(async move {
            for i in 0..share {
                while sent.load(Ordering::Relaxed) >= consumed.load(Ordering::Relaxed) + ahead {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                let head = format!("{{\"n\":{i},\"p\":{p},\"pad\":\"");
                let pad = "x".repeat(payload_bytes.saturating_sub(head.len() + 2));
                if let Err(e) = producer
                    .send(format!("{head}{pad}\"}}").into_bytes(), None)
                    .await
                {
                    return Err(e.to_string());
                }
            }
            Ok(())
        }));
    }
    for h in handles {
        h.await?.map_err(|e| -> BoxError { e.into() })?;
    }
    Ok(started.elapsed())
}

/// Creates the topic (producers create topics) so subscribers can attach before the run.
async fn create_topic(client: &DanubeClient, topic: &str) -> Result<(), BoxError> {
    let mut p = client
        .new_producer()
        .with_topic(topic)
        .with_name(format!("bench-create-{}", std::process::id()))
        .with_reliable_dispatch()
        .build()?;
    p.create().await?;
    Ok(())
}

struct Run {
    rate: f64,
    publish_rate: f64,
}

async fn bare_consumer(
    client: &DanubeClient,
    n: u64,
    producers: u64,
    payload: usize,
) -> Result<Run, BoxError> {
    let topic = unique_topic("bench-bare");
    create_topic(client, &topic).await?;
    let mut consumer = client
        .new_consumer()
        .with_topic(&topic)
        .with_consumer_name("bare")
        .with_subscription("bare")
        .with_subscription_type(SubType::Exclusive)
        .build()?;
    consumer.subscribe().await?;
    widen_window(&topic, "bare").await?;
    let mut rx = consumer.receive().await?;
    let consumed = Arc::new(AtomicU64::new(0));
    let progress = consumed.clone();
    let counter = tokio::spawn(async move {
        let mut first = None;
        let mut got = 0u64;
        while got < n {
            let Some(m) = rx.recv().await else { break };
            first.get_or_insert_with(Instant::now);
            let _ = consumer.ack(&m).await;
            got += 1;
            progress.store(got, Ordering::Relaxed);
        }
        first.map(|f| (got, f.elapsed()))
    });
    let publish_time = publish(client, &topic, n, producers, payload, consumed).await?;
    let (got, elapsed) = counter.await?.ok_or("bare consumer received nothing")?;
    Ok(Run {
        rate: got as f64 / elapsed.as_secs_f64(),
        publish_rate: n as f64 / publish_time.as_secs_f64(),
    })
}

/// With `--window N --admin-url URL`, sets a real broker's unacknowledged window of this
/// subscription to N through its admin API (the test broker takes `--max-unacked` instead).
async fn widen_window(topic: &str, subscription: &str) -> Result<(), BoxError> {
    use danube_core::admin_proto::topic_admin_client::TopicAdminClient;
    use danube_core::admin_proto::{
        SetSubscriptionDispatchConfigRequest, SubscriptionDispatchConfig,
    };
    let (Some(window), Some(admin)) = (arg("--window"), arg("--admin-url")) else {
        return Ok(());
    };
    let mut client = TopicAdminClient::connect(admin).await?;
    client
        .set_subscription_dispatch_config(SetSubscriptionDispatchConfigRequest {
            topic: topic.to_owned(),
            subscription: subscription.to_owned(),
            dispatch_config: Some(SubscriptionDispatchConfig {
                max_unacked_messages: window.parse()?,
            }),
        })
        .await?;
    Ok(())
}

/// Where the host's sink writes in the end-to-end run.
#[derive(Debug, Clone, Copy)]
enum Sink {
    /// `sink_http.wasm` or `sink_python.wasm` (anything taking `url`) into a local receiver.
    Http,
    /// `sink_clickhouse.wasm` into a ClickHouse server started for the run.
    ClickHouse,
}

/// The running destination, and how many messages reached it.
enum Target {
    Http {
        receiver: Receiver,
        arrived: Arc<AtomicU64>,
    },
    ClickHouse(ClickHouse),
}

/// Whether `name` (a flag without a value) was given.
fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

impl Target {
    async fn start(sink: Sink) -> Self {
        match sink {
            Sink::Http => {
                // Count arrivals at the receiver itself: exact and immediate, unlike /metrics.
                let arrived = Arc::new(AtomicU64::new(0));
                let counting = arrived.clone();
                let receiver = Receiver::scripted(move |_, body| {
                    let n = body.windows(4).filter(|w| w == b"\"n\":").count() as u64;
                    counting.fetch_add(n, Ordering::Relaxed);
                    danube_connect_tests::harness::Reply::ok()
                })
                .await;
                Target::Http { receiver, arrived }
            }
            Sink::ClickHouse => {
                let ch = ClickHouse::start();
                ch.exec("CREATE TABLE default.bench (n UInt64, p UInt64, pad String) ENGINE = MergeTree ORDER BY (p, n)")
                    .await;
                Target::ClickHouse(ch)
            }
        }
    }

    /// The connector's `[config]` lines.
    fn config(&self) -> String {
        match self {
            Target::Http { receiver: r, .. } => {
                // Only `url`: the HTTP sink's default body is a JSON array, and the Python sink
                // takes no `body` option.
                format!("url = \"{}\"\n", r.url("/bench"))
            }
            Target::ClickHouse(ch) => format!("url = \"{}\"\ntable = \"bench\"\n", ch.url()),
        }
    }

    /// How often to look: a receiver's counter costs nothing, a `count()` query costs the
    /// server CPU the benchmark measures, and /metrics costs the host.
    fn poll_interval(&self, at_target: bool) -> u64 {
        match self {
            Target::Http { .. } if at_target => 1,
            Target::ClickHouse(_) if at_target => 50,
            _ => 20,
        }
    }

    /// Requests (HTTP) or `INSERT`s (ClickHouse) that reached the target, and what they carried.
    async fn requests(&self) -> (u64, u64) {
        match self {
            Target::Http { receiver, arrived } => (
                receiver.requests().len() as u64,
                arrived.load(Ordering::Relaxed),
            ),
            Target::ClickHouse(ch) => ch.inserts_into("`default`.`bench`").await,
        }
    }

    async fn arrived(&self) -> u64 {
        match self {
            Target::Http { arrived, .. } => arrived.load(Ordering::Relaxed),
            Target::ClickHouse(ch) => ch
                .query("SELECT count() FROM default.bench")
                .await
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0),
        }
    }
}

/// The host's rate, its memory at the end as printed, and its peak RSS in MiB.
async fn through_host(
    sink: Sink,
    url: &str,
    client: &DanubeClient,
    component: PathBuf,
    n: u64,
    producers: u64,
    payload: usize,
) -> Result<(Run, String, Option<f64>), BoxError> {
    let topic = unique_topic("bench-host");
    create_topic(client, &topic).await?;
    let target = Target::start(sink).await;
    // The pass-through component sends nothing: count what the host acknowledged instead.
    let at_target = !component.to_string_lossy().contains("passthrough");
    let mut extra = format!(
        "[runtime]\nbatch_size = {batch}\nbatch_timeout_ms = {timeout}\nlinger_ms = {linger}\nmemory_limit_mb = 1024\n\n[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\n{}",
        target.config(),
        batch = num("--batch-size", 500),
        linger = num("--linger-ms", 0),
        timeout = num("--batch-timeout-ms", 50),
    );
    if flag("--buffer") {
        // Relative to the connector file, which is in the host's temp dir.
        extra.push_str("\n[sink.buffer]\nkind = \"disk\"\npath = \"bench.buffer.redb\"\n");
    }
    let mut host = HostProcess::start(HostSpec::sink("bench", component, &topic, &extra), url);
    if !host.wait_ready(Duration::from_secs(60)).await {
        return Err(format!("host not ready:\n{}", host.log()).into());
    }
    println!("host pid {}", host_pid(&host));
    widen_window(&topic, "bench-sub").await?;
    let metrics_url = format!("http://{}/metrics", host.metrics_addr);
    let processed = Arc::new(AtomicU64::new(0));
    let watcher = {
        let processed = processed.clone();
        tokio::spawn(async move {
            let mut first = None;
            loop {
                let done = if at_target {
                    target.arrived().await
                } else {
                    let text = danube_connect_tests::harness::http::get(&metrics_url)
                        .await
                        .map(|(_, b)| b)
                        .unwrap_or_default();
                    metric_sum(&text, "danube_connector_messages_processed_total", &[]) as u64
                };
                if done > 0 {
                    first.get_or_insert_with(Instant::now);
                }
                processed.store(done, Ordering::Relaxed);
                if done >= n {
                    return (first.map(|f: Instant| f.elapsed()), target);
                }
                let tick = target.poll_interval(at_target);
                tokio::time::sleep(Duration::from_millis(tick)).await;
            }
        })
    };
    let publish_time = publish(client, &topic, n, producers, payload, processed.clone()).await?;
    let (elapsed, target) = tokio::time::timeout(Duration::from_secs(600), watcher).await??;
    let elapsed = elapsed.ok_or("nothing processed")?;
    if at_target {
        let (requests, carried) = target.requests().await;
        println!(
            "{requests} requests to the target, {:.1} messages each",
            carried as f64 / requests.max(1) as f64
        );
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", host_pid(&host))).unwrap_or_default();
    let memory = status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ");
    let peak_mib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0);
    host.sigterm();
    host.wait_exit(Duration::from_secs(20)).await;
    Ok((
        Run {
            rate: n as f64 / elapsed.as_secs_f64(),
            publish_rate: n as f64 / publish_time.as_secs_f64(),
        },
        memory,
        peak_mib,
    ))
}

fn host_pid(host: &HostProcess) -> u32 {
    host.pid().unwrap_or(0)
}

async fn e2e() -> Result<(), BoxError> {
    let n = num("--messages", 20_000);
    let producers = num("--producers", 4);
    let payload = num("--payload-bytes", 256) as usize;
    let sink = match arg("--sink").as_deref() {
        None | Some("http") => Sink::Http,
        Some("clickhouse") => Sink::ClickHouse,
        Some(other) => return Err(format!("--sink {other}: expected http or clickhouse").into()),
    };
    let default_component = match sink {
        Sink::Http => "target/wasm32-wasip2/guest/sink_http.wasm",
        Sink::ClickHouse => "target/wasm32-wasip2/guest/sink_clickhouse.wasm",
    };
    let component = PathBuf::from(arg("--component").unwrap_or_else(|| default_component.into()));
    let broker;
    let url = match arg("--danube-url") {
        Some(u) => u,
        None => {
            broker = TestBroker::start_with(BrokerOptions {
                max_unacked: num("--max-unacked", 10) as usize,
                ..BrokerOptions::default()
            })
            .await?;
            broker.url()
        }
    };
    let client = DanubeClient::builder().service_url(&url).build().await?;
    // Names the figures: component, buffer and broker, e.g. "e2e sink_http + disk buffer: host,
    // real broker".
    let stem = component.file_stem().unwrap_or_default().to_string_lossy();
    let buffer = if flag("--buffer") {
        " + disk buffer"
    } else {
        ""
    };
    let on = bench_figures::broker(arg("--danube-url").is_some());
    let figure = |what: &str| format!("e2e {stem}{buffer}: {what}, {on}");
    println!("broker {url}; {n} messages of {payload} B from {producers} producers per run");
    let bare = bare_consumer(&client, n, producers, payload).await?;
    println!(
        "bare consumer (ack every message): {:.0} msgs/s (publishers: {:.0} msgs/s)",
        bare.rate, bare.publish_rate
    );
    record(&figure("bare consumer"), bare.rate, "msgs/s");
    let (hosted, memory, peak_mib) = through_host(
        sink,
        &url,
        &client,
        component.clone(),
        n,
        producers,
        payload,
    )
    .await?;
    println!(
        "host + {}{buffer}: {:.0} msgs/s (publishers: {:.0} msgs/s); host memory at end: {memory}",
        component.display(),
        hosted.rate,
        hosted.publish_rate
    );
    println!("ratio host / bare consumer: {:.2}", hosted.rate / bare.rate);
    record(&figure("host"), hosted.rate, "msgs/s");
    record(
        &figure("host / bare consumer"),
        hosted.rate / bare.rate,
        "ratio",
    );
    if let Some(mib) = peak_mib {
        record(&figure("host peak RSS"), mib, "MiB");
    }
    Ok(())
}

/// Prints the recorded figures as one table and, with `--json OUT`, writes them with the
/// machine they ran on.
fn table() -> Result<(), BoxError> {
    let path = arg("--figures")
        .or_else(|| std::env::var(bench_figures::ENV).ok())
        .ok_or("table: --figures FILE (or BENCH_FIGURES) names the recorded figures")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let (figures, errors) = bench_figures::parse(&text);
    for e in &errors {
        eprintln!("{path}: skipped {e}");
    }
    print!("{}", bench_figures::table(&figures));
    if let Some(out) = arg("--json") {
        let when = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let doc = bench_figures::document(&figures, bench_figures::machine(), when);
        std::fs::write(&out, serde_json::to_string_pretty(&doc)? + "\n")
            .map_err(|e| format!("{out}: {e}"))?;
    }
    Ok(())
}
