//! Webhook source benchmark (see BENCHMARKS.md), in one run:
//!
//! 1. throughput: a bare danube-client publisher with K producers sends N records; then C
//!    clients POST N Standard-Webhooks-signed requests of one record each to the host's
//!    listener, `source_webhook.wasm` turns each into a record and the host publishes it
//!    through K producers; a request counts once its client got the 200, i.e. after Danube
//!    persisted it. Rates are requests (records) per second;
//! 2. latency: requests at a fixed rate from one client, timed from send to the 200 (which
//!    includes Danube persisting the record), p50 / p99.
//!
//! `--danube-url URL` uses that broker; otherwise the in-memory test broker runs in this
//! process.

use danube_client::DanubeClient;
use danube_connect_tests::bench_args::{BoxError, danube_under_test, num};
use danube_connect_tests::bench_figures::{broker, record};
use danube_connect_tests::bench_source::{bare_publisher, stamped};
use danube_connect_tests::harness::host_process::free_port;
use danube_connect_tests::harness::webhook_client::{WebhookClient, now_secs};
use danube_connect_tests::harness::{HostProcess, HostSpec, paths, unique_topic};
use std::time::{Duration, Instant};

const KEY: &[u8] = b"the benchmark's webhook key, 32B";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n = num("--requests", 50_000);
    let producers = num("--producers", 4) as usize;
    let payload = num("--payload-bytes", 256) as usize;
    let clients = num("--clients", 16);
    let rate = num("--latency-rate", 500);
    let latency_n = num("--latency-requests", 3000);
    let (test_broker, url, which) = danube_under_test().await?;
    let on = broker(test_broker.is_none());
    let figure = |what: &str| format!("webhook source: {what}, {on}");
    let client = DanubeClient::builder().service_url(&url).build().await?;
    println!(
        "HTTP -> Danube, {n} requests of {payload} B (one record each), {clients} clients, {producers} producers, broker {which}"
    );
    let bare = bare_publisher(&client, n, producers, payload).await?;
    let port = free_port();
    let mut host = HostProcess::start(spec(port, producers), &url);
    if !host.wait_ready(Duration::from_secs(60)).await {
        return Err(format!("host not ready:\n{}", host.log()).into());
    }
    let hooks = WebhookClient::new(port);
    // The listener starts with the connector's first poll.
    while hooks.post("/warm-up", &[], Vec::new()).await.status == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let mut senders = Vec::new();
    for c in 0..clients {
        let hooks = hooks.clone();
        let share = n / clients + u64::from(c < n % clients);
        senders.push(tokio::spawn(async move {
            for i in 0..share {
                let id = format!("c{c}-{i}");
                let answer = hooks
                    .post_signed("/bench", KEY, &id, now_secs(), stamped(payload))
                    .await;
                if !answer.ok() {
                    return Err(format!("{id}: {answer:?}"));
                }
            }
            Ok(())
        }));
    }
    for s in senders {
        s.await?.map_err(|e| -> BoxError { e.into() })?;
    }
    let through = n as f64 / started.elapsed().as_secs_f64();
    let rss = host.rss_bytes().unwrap_or(0);
    println!("bare publisher ({producers} producers): {bare:.0} msgs/s");
    println!(
        "source_webhook ({clients} clients, {producers} producers): {through:.0} requests/s, host RSS {:.1} MiB",
        rss as f64 / (1 << 20) as f64
    );
    println!("ratio: {:.2}", through / bare);
    record(&figure("bare publisher"), bare, "msgs/s");
    record(&figure("host"), through, "requests/s");
    record(&figure("host / bare publisher"), through / bare, "ratio");
    record(&figure("host RSS"), rss as f64 / (1 << 20) as f64, "MiB");

    let mut took = Vec::with_capacity(latency_n as usize);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    for i in 0..latency_n {
        tick.tick().await;
        let sent = Instant::now();
        let answer = hooks
            .post_signed(
                "/bench",
                KEY,
                &format!("lat-{i}"),
                now_secs(),
                stamped(payload),
            )
            .await;
        if !answer.ok() {
            return Err(format!("lat-{i}: {answer:?}").into());
        }
        took.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
    println!(
        "request to 200 (persisted) at {rate} requests/s, one client: p50 {:.2} ms p99 {:.2} ms",
        at(0.5),
        at(0.99)
    );
    record(&figure("request to 200 p50"), at(0.5), "ms");
    record(&figure("request to 200 p99"), at(0.99), "ms");
    host.sigterm();
    host.wait_exit(Duration::from_secs(20)).await;
    Ok(())
}

fn spec(port: u16, producers: usize) -> HostSpec {
    let config = format!(
        "[runtime]\nbatch_size = 1000\n\n\
         [capabilities.inbound_http]\nbind = \"127.0.0.1:{port}\"\nmax_pending = 4096\n\n\
         [config]\n[[config.routes]]\npath = \"/bench\"\ntopic = \"{topic}\"\n\
         auth = \"standard_webhooks\"\nsecret = \"whsec_{key}\"\nformat = \"json\"\n",
        topic = unique_topic("bench-webhook"),
        key = base64_of(KEY),
    );
    HostSpec::source(
        "bench-webhook",
        paths::component("source_webhook"),
        &unique_topic("bench-webhook-default"),
        &format!("producers_per_topic = {producers}\nmax_in_flight = 5000"),
        &config,
    )
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
