//! Scale-out benchmark (see BENCHMARKS.md): 1, 2 and 3 host processes running `sink_http.wasm`
//! on one shared subscription, posting to an endpoint that takes `--endpoint-ms` (2) per
//! request; beside them, as many bare danube-client consumers on a shared subscription, and one
//! host running N instances of the sink (`[sink] concurrency = N`). Prints msgs/s per N and the
//! scaling efficiency rate(N) / (N × rate(1)).
//!
//! `danube-connect-scale-bench [--messages N] [--hosts 3] [--endpoint-ms 2] [--batch-size B]
//! [--max-unacked W] [--max-ahead A] [--body json_array|per_message] [--danube-url URL]`: without
//! a URL the in-memory test broker runs with a window of W (1000) un-acked messages per
//! subscription; `--body per_message` makes the sink post one request per message.

use axum::Router;
use danube_client::{DanubeClient, SubType};
use danube_connect_tests::bench_args::{BoxError, arg, num};
use danube_connect_tests::bench_figures::{self, record};
use danube_connect_tests::broker::{BrokerOptions, TestBroker};
use danube_connect_tests::harness::{HostProcess, HostSpec, paths, unique_topic};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts the messages of every JSON-array body after answering it `delay` late.
async fn slow_endpoint(delay: Duration) -> Result<(String, Arc<AtomicU64>), BoxError> {
    let arrived = Arc::new(AtomicU64::new(0));
    let counting = arrived.clone();
    let app = Router::new().fallback(move |body: axum::body::Bytes| {
        let counting = counting.clone();
        async move {
            tokio::time::sleep(delay).await;
            let n = body.windows(4).filter(|w| w == b"\"n\":").count() as u64;
            counting.fetch_add(n, Ordering::Relaxed);
            ""
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/scale", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, arrived))
}

/// Publishes `n` messages from 4 producers, never more than `--max-ahead` past `consumed`.
async fn publish(
    client: &DanubeClient,
    topic: &str,
    n: u64,
    consumed: Arc<AtomicU64>,
) -> Result<(), BoxError> {
    const PRODUCERS: u64 = 4;
    let ahead = num("--max-ahead", 2000);
    let sent = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for p in 0..PRODUCERS {
        let mut producer = client
            .new_producer()
            .with_topic(topic)
            .with_name(format!("scale-{p}-{}", std::process::id()))
            .with_reliable_dispatch()
            .build()?;
        producer.create().await?;
        let share = n / PRODUCERS + u64::from(p < n % PRODUCERS);
        let (sent, consumed) = (sent.clone(), consumed.clone());
        handles.push(tokio::spawn(async move {
            for i in 0..share {
                while sent.load(Ordering::Relaxed) >= consumed.load(Ordering::Relaxed) + ahead {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                let body = format!("{{\"n\":{i},\"p\":{p},\"pad\":\"{}\"}}", "x".repeat(220));
                producer
                    .send(body.into_bytes(), None)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for h in handles {
        h.await?.map_err(|e| -> BoxError { e.into() })?;
    }
    Ok(())
}

/// A fresh topic, created by a producer so subscribers can attach before the run.
async fn fresh_topic(client: &DanubeClient, label: &str) -> Result<String, BoxError> {
    let topic = unique_topic(label);
    let mut p = client
        .new_producer()
        .with_topic(&topic)
        .with_name(format!("scale-create-{}", std::process::id()))
        .with_reliable_dispatch()
        .build()?;
    p.create().await?;
    Ok(topic)
}

/// Waits until `count` reaches `n`; the time from the first to the last message.
async fn until_all(count: Arc<AtomicU64>, n: u64) -> Result<Duration, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first = None;
    loop {
        let got = count.load(Ordering::Relaxed);
        if got > 0 {
            first.get_or_insert_with(Instant::now);
        }
        if got >= n {
            return first
                .map(|f| f.elapsed())
                .ok_or_else(|| "nothing arrived".into());
        }
        if Instant::now() > deadline {
            return Err(format!("only {got} of {n} arrived in 10 minutes").into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `hosts` bare consumers acking each message as it arrives, on one shared subscription.
async fn bare(client: &DanubeClient, hosts: usize, n: u64) -> Result<f64, BoxError> {
    let topic = fresh_topic(client, "scale-bare").await?;
    let count = Arc::new(AtomicU64::new(0));
    for i in 0..hosts {
        let mut consumer = client
            .new_consumer()
            .with_topic(&topic)
            .with_consumer_name(format!("bare-{i}"))
            .with_subscription("bare")
            .with_subscription_type(SubType::Shared)
            .build()?;
        consumer.subscribe().await?;
        let mut rx = consumer.receive().await?;
        let count = count.clone();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let _ = consumer.ack(&m).await;
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let publishing = {
        let (client, topic, count) = (client.clone(), topic.clone(), count.clone());
        tokio::spawn(async move { publish(&client, &topic, n, count).await })
    };
    let elapsed = until_all(count, n).await?;
    publishing.await??;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// `hosts` host processes running the HTTP sink on one shared subscription, each with
/// `concurrency` instances of it.
async fn hosted(
    client: &DanubeClient,
    url: &str,
    hosts: usize,
    concurrency: usize,
    n: u64,
) -> Result<f64, BoxError> {
    let topic = fresh_topic(client, "scale-host").await?;
    let (endpoint, arrived) = slow_endpoint(Duration::from_millis(num("--endpoint-ms", 2))).await?;
    let mut running = Vec::new();
    for i in 0..hosts {
        let extra = format!(
            "[runtime]\nbatch_size = {batch}\nbatch_timeout_ms = 20\n\n\
             [capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
             [config]\nurl = \"{endpoint}\"\nbody = \"{body}\"\n",
            batch = num("--batch-size", 500),
            body = arg("--body").unwrap_or_else(|| "json_array".into()),
        );
        let mut spec = HostSpec::sink(
            &format!("scale-{i}"),
            paths::component("sink_http"),
            &topic,
            &extra,
        );
        spec.subscription = "scale".into();
        spec.sink_keys = format!(
            "subscription_type = \"shared\"\nconsumer_name = \"host-{i}\"\nconcurrency = {concurrency}\n"
        );
        let mut host = HostProcess::start(spec, url);
        if !host.wait_ready(Duration::from_secs(60)).await {
            return Err(format!("host {i} not ready:\n{}", host.log()).into());
        }
        running.push(host);
    }
    let publishing = {
        let (client, topic, arrived) = (client.clone(), topic.clone(), arrived.clone());
        tokio::spawn(async move { publish(&client, &topic, n, arrived).await })
    };
    let elapsed = until_all(arrived, n).await?;
    publishing.await??;
    for host in &mut running {
        host.sigterm();
        host.wait_exit(Duration::from_secs(20)).await;
    }
    Ok(n as f64 / elapsed.as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n = num("--messages", 30_000);
    let max_hosts = num("--hosts", 3) as usize;
    let window = num("--max-unacked", 1000) as usize;
    let broker;
    let (url, label) = match arg("--danube-url") {
        Some(u) => (u.clone(), u),
        None => {
            broker = TestBroker::start_with(BrokerOptions {
                max_unacked: window,
                ..BrokerOptions::default()
            })
            .await?;
            (
                broker.url(),
                format!("in-memory test broker, window {window}"),
            )
        }
    };
    let client = DanubeClient::builder().service_url(&url).build().await?;
    println!(
        "{label}; {n} messages of 256 B per run; batches of up to {} ({}); endpoint answers after {} ms",
        num("--batch-size", 500),
        arg("--body").unwrap_or_else(|| "json_array".into()),
        num("--endpoint-ms", 2)
    );
    println!(
        "| N | bare consumers | efficiency | N hosts + sink_http.wasm | efficiency | 1 host, concurrency = N | efficiency |"
    );
    println!("|---|---|---|---|---|---|---|");
    let on = bench_figures::broker(arg("--danube-url").is_some());
    let batch = num("--batch-size", 500);
    let figure = |what: String| format!("scale-out, batches of {batch}: {what}, {on}");
    let (mut bare_1, mut host_1) = (0.0, 0.0);
    for hosts in 1..=max_hosts {
        let b = bare(&client, hosts, n).await?;
        let h = hosted(&client, &url, hosts, 1, n).await?;
        if hosts == 1 {
            (bare_1, host_1) = (b, h);
        }
        // With N = 1 both host columns are the same configuration: one run serves both.
        let c = if hosts == 1 {
            h
        } else {
            hosted(&client, &url, 1, hosts, n).await?
        };
        let eff = |rate: f64, one: f64| rate / (hosts as f64 * one);
        println!(
            "| {hosts} | {b:.0} msgs/s | {:.2} | {h:.0} msgs/s | {:.2} | {c:.0} msgs/s | {:.2} |",
            eff(b, bare_1),
            eff(h, host_1),
            eff(c, host_1)
        );
        let s = if hosts == 1 { "" } else { "s" };
        record(&figure(format!("{hosts} bare consumer{s}")), b, "msgs/s");
        record(&figure(format!("{hosts} host{s}")), h, "msgs/s");
        // With N = 1 the efficiencies are 1 by definition and the third column is the second.
        if hosts > 1 {
            let concurrency = format!("1 host with concurrency {hosts}");
            record(&figure(concurrency.clone()), c, "msgs/s");
            let efficiency = [
                (format!("{hosts} bare consumers"), eff(b, bare_1)),
                (format!("{hosts} hosts"), eff(h, host_1)),
                (concurrency, eff(c, host_1)),
            ];
            for (what, e) in efficiency {
                record(&figure(format!("{what}, efficiency")), e, "ratio");
            }
        }
    }
    Ok(())
}
