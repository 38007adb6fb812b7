//! What the source benchmarks share: a bare danube-client publisher to compare against,
//! stamped payloads, latency from stamp to consumer, and the host's persisted count.

use crate::bench_args::BoxError;
use crate::harness::HostProcess;
use crate::harness::http::{get, metric_sum};
use crate::harness::unique_topic;
use danube_client::{DanubeClient, SubType};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// `{"t":<µs since epoch>,"pad":"xxx…"}` of `size` bytes.
pub fn stamped(size: usize) -> Vec<u8> {
    let head = format!("{{\"t\":{},\"pad\":\"", now_us());
    let pad = "x".repeat(size.saturating_sub(head.len() + 2));
    format!("{head}{pad}\"}}").into_bytes()
}

pub fn stamp_of(payload: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(payload).ok()?;
    let rest = text.strip_prefix("{\"t\":")?;
    rest[..rest.find(',')?].parse().ok()
}

pub async fn producer(
    client: &DanubeClient,
    topic: &str,
    i: usize,
) -> Result<danube_client::Producer, BoxError> {
    let mut p = client
        .new_producer()
        .with_topic(topic)
        .with_name(format!("bench-{i}-{}", std::process::id()))
        .with_reliable_dispatch()
        .build()?;
    p.create().await?;
    Ok(p)
}

/// K producers, each sending its share with a key, every send awaited (persisted).
pub async fn bare_publisher(
    client: &DanubeClient,
    n: u64,
    k: usize,
    size: usize,
) -> Result<f64, BoxError> {
    let topic = unique_topic("bench-bare-pub");
    let mut lanes = Vec::new();
    for i in 0..k {
        lanes.push(producer(client, &topic, i).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, p) in lanes.into_iter().enumerate() {
        let share = n / k as u64 + u64::from((i as u64) < n % k as u64);
        tasks.push(tokio::spawn(async move {
            let key = format!("d{i}");
            for _ in 0..share {
                p.send_with_key(stamped(size), None, &key)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await?.map_err(|e| -> BoxError { e.into() })?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Wait until the host persisted `n` records: when the first one was, and the host's peak RSS.
pub async fn wait_persisted(host: &HostProcess, n: u64) -> Result<(Instant, u64), BoxError> {
    let mut first = None;
    let mut rss = 0;
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut report = Instant::now();
    loop {
        let done = persisted(host).await;
        if report.elapsed() > Duration::from_secs(5) {
            eprintln!("  {done} of {n} persisted");
            report = Instant::now();
        }
        if done > 0 {
            first.get_or_insert_with(Instant::now);
        }
        rss = rss.max(host.rss_bytes().unwrap_or(0));
        if done >= n {
            return Ok((first.unwrap_or_else(Instant::now), rss));
        }
        if Instant::now() > deadline {
            return Err(format!("only {done} of {n} persisted:\n{}", host.log()).into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn persisted(host: &HostProcess) -> u64 {
    let text = get(&format!("http://{}/metrics", host.metrics_addr))
        .await
        .map(|(_, b)| b)
        .unwrap_or_default();
    metric_sum(&text, "danube_connector_messages_processed_total", &[]) as u64
}

/// p50 and p99 in ms of the stamps of `n` messages read from `rx`.
pub async fn latencies(
    consumer: &mut danube_client::Consumer,
    rx: &mut tokio::sync::mpsc::Receiver<danube_core::message::StreamMessage>,
    n: u64,
) -> Result<(f64, f64), BoxError> {
    let mut lat = Vec::with_capacity(n as usize);
    while (lat.len() as u64) < n {
        let m = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await?
            .ok_or("consumer closed")?;
        if let Some(t) = stamp_of(&m.payload) {
            lat.push(now_us().saturating_sub(t) as f64 / 1e3);
        }
        let _ = consumer.ack(&m).await;
    }
    lat.sort_by(f64::total_cmp);
    let at = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];
    Ok((at(0.5), at(0.99)))
}

pub async fn subscribe(
    client: &DanubeClient,
    topic: &str,
) -> Result<
    (
        danube_client::Consumer,
        tokio::sync::mpsc::Receiver<danube_core::message::StreamMessage>,
    ),
    BoxError,
> {
    let mut c = client
        .new_consumer()
        .with_topic(topic)
        .with_consumer_name("bench-latency")
        .with_subscription("bench-latency")
        .with_subscription_type(SubType::Exclusive)
        .build()?;
    c.subscribe().await?;
    let rx = c.receive().await?;
    Ok((c, rx))
}

pub async fn bare_latency(
    client: &DanubeClient,
    n: u64,
    rate: u64,
    size: usize,
) -> Result<(f64, f64), BoxError> {
    let topic = unique_topic("bench-bare-lat");
    let p = producer(client, &topic, 0).await?;
    let (mut consumer, mut rx) = subscribe(client, &topic).await?;
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        for _ in 0..n {
            tick.tick().await;
            let _ = p.send(stamped(size), None).await;
        }
    });
    let r = latencies(&mut consumer, &mut rx, n).await;
    sender.await?;
    r
}
