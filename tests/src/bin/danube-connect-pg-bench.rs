//! Postgres CDC benchmark (see BENCHMARKS.md), in one run:
//!
//! 1. throughput: a bare danube-client publisher with K producers sends N records; then N
//!    rows are inserted into a real PostgreSQL by several writers, and `source_postgres.wasm`
//!    moves their change events into Danube through K producers; rates are from the first to
//!    the last record persisted;
//! 2. lag: both paths again at a fixed rate, timed from the insert (or the bare send) to a
//!    Danube consumer, p50 / p99.
//!
//! `--danube-url URL` uses that broker; otherwise the in-memory test broker runs in this
//! process. PostgreSQL (Debian package) is started on a free port.

use danube_client::DanubeClient;
use danube_connect_tests::bench_args::{BoxError, danube_under_test, num};
use danube_connect_tests::bench_figures::{broker, record};
use danube_connect_tests::bench_source::{
    bare_latency, bare_publisher, now_us, producer, subscribe, wait_persisted,
};
use danube_connect_tests::harness::postgres::{PASSWORD, Postgres, SUPERUSER};
use danube_connect_tests::harness::{HostProcess, HostSpec, paths, unique_topic};
use std::time::{Duration, Instant};

/// A 200-byte row: id, insert time, and padding.
const PAD: usize = 170;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n = num("--rows", 100_000);
    let producers = num("--producers", 4) as usize;
    let writers = num("--writers", 4);
    let tx_rows = num("--tx-rows", 100).max(1);
    let rate = num("--latency-rate", 1000);
    let latency_n = num("--latency-rows", 5000);
    let event_bytes = num("--payload-bytes", 420) as usize;
    let (test_broker, url, which) = danube_under_test().await?;
    let on = broker(test_broker.is_none());
    let figure = |what: &str| format!("postgres source: {what}, {on}");
    let client = DanubeClient::builder().service_url(&url).build().await?;
    let pg = Postgres::start();
    println!(
        "Postgres -> Danube, {n} rows of ~200 B in transactions of {tx_rows}, {writers} writers, \
         {producers} producers, broker {}",
        which
    );

    let bare = bare_publisher(&client, n, producers, event_bytes).await?;
    eprintln!("  bare publisher done");
    let (cdc, load, rss) = through_source(&url, &pg, n, producers, writers, tx_rows).await?;
    println!("bare publisher ({producers} producers, {event_bytes} B): {bare:.0} msgs/s");
    println!(
        "source_postgres ({producers} producers): {cdc:.0} events/s (rows inserted at {load:.0}/s), \
         host RSS {:.1} MiB",
        rss as f64 / (1 << 20) as f64
    );
    println!("ratio: {:.2}", cdc / bare);
    record(&figure("bare publisher"), bare, "msgs/s");
    record(&figure("host"), cdc, "events/s");
    record(&figure("host / bare publisher"), cdc / bare, "ratio");
    record(
        &figure("host peak RSS"),
        rss as f64 / (1 << 20) as f64,
        "MiB",
    );

    let bare_lag = bare_latency(&client, latency_n, rate, event_bytes).await?;
    let (cdc_lag, size) = source_lag(&url, &client, &pg, latency_n, rate, producers).await?;
    println!(
        "lag at {rate} rows/s to a consumer: bare p50 {:.2} ms p99 {:.2} ms; source_postgres p50 \
         {:.2} ms p99 {:.2} ms (events of {size} B)",
        bare_lag.0, bare_lag.1, cdc_lag.0, cdc_lag.1
    );
    record(&figure("bare publisher lag p50"), bare_lag.0, "ms");
    record(&figure("bare publisher lag p99"), bare_lag.1, "ms");
    record(&figure("host lag p50"), cdc_lag.0, "ms");
    record(&figure("host lag p99"), cdc_lag.1, "ms");
    Ok(())
}

fn source_spec(name: &str, pg: &Postgres, topic: &str, producers: usize) -> HostSpec {
    let config = format!(
        "[runtime]\nbatch_size = 1000\n\n[capabilities.postgres]\nallowed_hosts = [\"127.0.0.1:*\"]\n\n\
         [capabilities.state]\npath = \"{name}.state.redb\"\n\n[config]\nhost = \"127.0.0.1\"\nport = {port}\ndatabase = \"postgres\"\n\
         user = \"{SUPERUSER}\"\npassword = \"{PASSWORD}\"\nslot = \"{slot}\"\npublication = \"{slot}\"\n\
         tables = \"{slot}\"\nsnapshot = \"never\"\n",
        port = pg.port(),
        slot = name.replace('-', "_"),
    );
    HostSpec::source(
        name,
        paths::component("source_postgres"),
        topic,
        &format!("producers_per_topic = {producers}\nmax_in_flight = 5000"),
        &config,
    )
}

async fn table(pg: &Postgres, name: &str) -> Result<tokio_postgres::Client, BoxError> {
    let db = pg.client().await;
    db.batch_execute(&format!(
        "CREATE TABLE {name} (id bigint PRIMARY KEY, t bigint NOT NULL, pad text NOT NULL)"
    ))
    .await?;
    Ok(db)
}

async fn start_host(
    url: &str,
    pg: &Postgres,
    name: &str,
    topic: &str,
    producers: usize,
) -> Result<HostProcess, BoxError> {
    let mut host = HostProcess::start(source_spec(name, pg, topic, producers), url);
    if !host.wait_ready(Duration::from_secs(60)).await {
        return Err(format!("host not ready:\n{}", host.log()).into());
    }
    Ok(host)
}

/// Throughput in events/s, the insert rate, and the host's peak RSS.
async fn through_source(
    url: &str,
    pg: &Postgres,
    n: u64,
    producers: usize,
    writers: u64,
    tx_rows: u64,
) -> Result<(f64, f64, u64), BoxError> {
    let name = "bench_cdc";
    table(pg, name).await?;
    let topic = unique_topic("bench-cdc");
    let host = start_host(url, pg, name, &topic, producers).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let db = pg.client().await;
        tasks.push(tokio::spawn(async move {
            let mut id = w * tx_rows;
            while id < n {
                let last = (id + tx_rows).min(n) - 1;
                let sql = format!(
                    "INSERT INTO {name} SELECT g, {t}, repeat('x', {PAD}) FROM generate_series({id}, {last}) g",
                    t = now_us()
                );
                db.batch_execute(&sql).await.map_err(|e| e.to_string())?;
                id += writers * tx_rows;
            }
            Ok::<_, String>(())
        }));
    }
    // How long the inserts took, timed apart from the source draining their backlog.
    let inserts = tokio::spawn(async move {
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        Ok::<_, String>(started.elapsed())
    });
    let (first, rss) = wait_persisted(&host, n).await?;
    let rate = n as f64 / first.elapsed().as_secs_f64();
    let load = inserts.await?.map_err(|e| -> BoxError { e.into() })?;
    Ok((rate, n as f64 / load.as_secs_f64(), rss))
}

/// p50 / p99 in ms from each row's insert to its event at a consumer, and the mean event size.
async fn source_lag(
    url: &str,
    client: &DanubeClient,
    pg: &Postgres,
    n: u64,
    rate: u64,
    producers: usize,
) -> Result<((f64, f64), usize), BoxError> {
    let name = "bench_lag";
    let db = table(pg, name).await?;
    let topic = unique_topic("bench-cdc-lag");
    producer(client, &topic, 9).await?;
    let (mut consumer, mut rx) = subscribe(client, &topic).await?;
    let _host = start_host(url, pg, name, &topic, producers).await?;
    let writer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        for id in 0..n {
            tick.tick().await;
            let sql = format!(
                "INSERT INTO {name} VALUES ({id}, {t}, repeat('x', {PAD}))",
                t = now_us()
            );
            if let Err(e) = db.batch_execute(&sql).await {
                return Err(e.to_string());
            }
        }
        Ok(())
    });
    let mut lag = Vec::with_capacity(n as usize);
    let mut bytes = 0;
    while (lag.len() as u64) < n {
        let m = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await?
            .ok_or("consumer closed")?;
        let event: serde_json::Value = serde_json::from_slice(&m.payload)?;
        if let Some(t) = event["after"]["t"].as_u64() {
            lag.push(now_us().saturating_sub(t) as f64 / 1e3);
            bytes += m.payload.len();
        }
        let _ = consumer.ack(&m).await;
    }
    writer.await?.map_err(|e| -> BoxError { e.into() })?;
    lag.sort_by(f64::total_cmp);
    let at = |q: f64| lag[((lag.len() as f64 - 1.0) * q) as usize];
    Ok(((at(0.5), at(0.99)), bytes / lag.len().max(1)))
}
