//! Kafka bridge benchmark (see BENCHMARKS.md), in one run on one tansu broker:
//!
//! - import: a bare rdkafka consumer reads N records, a bare danube-client publisher sends N
//!   messages, then `bridge_kafka.wasm` (source) moves the N records into Danube; rates from
//!   the first to the last record persisted;
//! - export: a bare danube-client consumer reads N messages, a bare rdkafka producer sends N
//!   records, then `bridge_kafka.wasm` (sink) drains N messages from Danube into Kafka; rates
//!   from the first to the last record seen in Kafka.
//!
//! `--danube-url URL` uses that broker; otherwise the in-memory test broker runs in this
//! process. tansu (`make tools`) is started on a free port.

use danube_client::DanubeClient;
use danube_connect_tests::bench_args::{BoxError, arg, danube_under_test, num};
use danube_connect_tests::bench_figures::{broker, record};
use danube_connect_tests::bench_source::{
    bare_publisher, producer, stamped, subscribe, wait_persisted,
};
use danube_connect_tests::harness::kafka::Tansu;
use danube_connect_tests::harness::{HostProcess, HostSpec, paths, unique_topic};
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n = num("--records", 50_000);
    let size = num("--payload-bytes", 256) as usize;
    let batch = num("--batch-size", 1000);
    let (test_broker, url, which) = danube_under_test().await?;
    let on = broker(test_broker.is_none());
    let figure = |what: &str| format!("kafka {what}, {on}");
    let client = DanubeClient::builder().service_url(&url).build().await?;
    let tansu = Tansu::start();
    println!(
        "Kafka (tansu, {PARTITIONS} partitions) <-> Danube, {n} records of {size} B, batches of \
         {batch}, broker {}",
        which
    );

    // Import.
    tansu.create_topic("bench-in", PARTITIONS).await;
    fill_kafka(&tansu.producer(), "bench-in", n, size).await?;
    let bare_kafka_in = bare_consume(&tansu, "bench-in", n).await?;
    let bare_danube_out = bare_publisher(&client, n, 1, size).await?;
    let imported = import(&url, &tansu, n, batch).await?;
    let slower = bare_kafka_in.min(bare_danube_out);
    println!(
        "import: bare rdkafka consumer {bare_kafka_in:.0} records/s, bare danube publisher (1 \
         producer) {bare_danube_out:.0} msgs/s; bridge {imported:.0} records/s, ratio to the \
         slower {:.2}",
        imported / slower
    );
    record(
        &figure("import: bare rdkafka consumer"),
        bare_kafka_in,
        "records/s",
    );
    record(
        &figure("import: bare danube publisher"),
        bare_danube_out,
        "msgs/s",
    );
    record(&figure("import: bridge"), imported, "records/s");
    record(
        &figure("import: bridge / slower bare side"),
        imported / slower,
        "ratio",
    );

    // Export.
    let bare_danube_in = bare_danube_consume(&client, n, size).await?;
    let bare_kafka_out = bare_produce(&tansu, n, size).await?;
    let exported = export(&url, &client, &tansu, n, size, batch).await?;
    let slower = bare_danube_in.min(bare_kafka_out);
    println!(
        "export: bare danube consumer {bare_danube_in:.0} msgs/s, bare rdkafka producer \
         {bare_kafka_out:.0} records/s; bridge {exported:.0} records/s, ratio to the slower {:.2}",
        exported / slower
    );
    record(
        &figure("export: bare danube consumer"),
        bare_danube_in,
        "msgs/s",
    );
    record(
        &figure("export: bare rdkafka producer"),
        bare_kafka_out,
        "records/s",
    );
    record(&figure("export: bridge"), exported, "records/s");
    record(
        &figure("export: bridge / slower bare side"),
        exported / slower,
        "ratio",
    );
    Ok(())
}

/// N records of `size` bytes, keyed over 64 keys, every one acknowledged.
async fn fill_kafka(
    producer: &FutureProducer,
    topic: &str,
    n: u64,
    size: usize,
) -> Result<(), BoxError> {
    let payload = vec![b'x'; size];
    let keys: Vec<String> = (0..64).map(|k| format!("k{k}")).collect();
    let mut pending = Vec::with_capacity(n as usize);
    for i in 0..n {
        let record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic)
            .key(keys[(i % 64) as usize].as_str())
            .payload(payload.as_slice());
        pending.push(producer.send(record, Duration::from_secs(60)));
        if pending.len() >= 10_000 {
            for r in futures::future::join_all(pending.drain(..)).await {
                r.map_err(|(e, _)| e)?;
            }
        }
    }
    for r in futures::future::join_all(pending).await {
        r.map_err(|(e, _)| e)?;
    }
    Ok(())
}

async fn bare_consume(tansu: &Tansu, topic: &str, n: u64) -> Result<f64, BoxError> {
    let consumer: StreamConsumer = tansu.consumer(topic, "bench-bare");
    let first = consumer.recv().await?;
    drop(first);
    let started = Instant::now();
    let rest = Tansu::read(&consumer, n as usize - 1, Duration::from_secs(300)).await;
    if rest.len() as u64 != n - 1 {
        return Err(format!("bare consumer read {} of {n}", rest.len() + 1).into());
    }
    Ok((n - 1) as f64 / started.elapsed().as_secs_f64())
}

async fn import(url: &str, tansu: &Tansu, n: u64, batch: u64) -> Result<f64, BoxError> {
    let to = unique_topic("bench-kafka-in");
    let spec = HostSpec::source(
        "bench-import",
        paths::component("bridge_kafka"),
        &to,
        "producers_per_topic = 1\nmax_in_flight = 5000",
        &format!(
            "[runtime]\nbatch_size = {batch}\n\n[capabilities.kafka]\n\
             allowed_brokers = [\"127.0.0.1:*\"]\n\n[config]\nbrokers = \"{}\"\n\
             group_id = \"bench-import\"\ntopics = \"bench-in\"\n\
             routes = [{{ to = \"{to}\" }}]\n",
            tansu.bootstrap()
        ),
    );
    let host = HostProcess::start(spec, url);
    let (first, _) = wait_persisted(&host, n).await?;
    Ok(n as f64 / first.elapsed().as_secs_f64())
}

/// How far a publisher may run ahead of what was delivered: a real broker stops dispatching
/// to a subscription that falls far behind.
const AHEAD: u64 = 200;

/// Publish N stamped messages, keyed over 64 keys, never more than [`AHEAD`] past `delivered`.
async fn publish_paced(
    p: danube_client::Producer,
    n: u64,
    size: usize,
    delivered: Arc<AtomicU64>,
) -> Result<(), String> {
    for i in 0..n {
        while i >= delivered.load(Ordering::Relaxed) + AHEAD {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let key = format!("k{}", i % 64);
        p.send_with_key(stamped(size), None, &key)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A bare consumer reading N messages as they are published, acking each.
async fn bare_danube_consume(client: &DanubeClient, n: u64, size: usize) -> Result<f64, BoxError> {
    let topic = unique_topic("bench-bare-in");
    let p = producer(client, &topic, 0).await?;
    let (mut consumer, mut rx) = subscribe(client, &topic).await?;
    let delivered = Arc::new(AtomicU64::new(0));
    let filler = tokio::spawn(publish_paced(p, n, size, delivered.clone()));
    let started = Instant::now();
    for i in 0..n {
        let m = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await?
            .ok_or("consumer closed")?;
        let _ = consumer.ack(&m).await;
        delivered.store(i + 1, Ordering::Relaxed);
    }
    filler.await?.map_err(|e| -> BoxError { e.into() })?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn bare_produce(tansu: &Tansu, n: u64, size: usize) -> Result<f64, BoxError> {
    tansu.create_topic("bench-bare-out", PARTITIONS).await;
    // A producer as the bridge configures its own: batched, idempotent.
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", tansu.bootstrap())
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("compression.type", "lz4");
    let p: FutureProducer = c.create()?;
    let started = Instant::now();
    fill_kafka(&p, "bench-bare-out", n, size).await?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn export(
    url: &str,
    client: &DanubeClient,
    tansu: &Tansu,
    n: u64,
    size: usize,
    batch: u64,
) -> Result<f64, BoxError> {
    tansu.create_topic("bench-out", PARTITIONS).await;
    let from = unique_topic("bench-kafka-out");
    let p = producer(client, &from, 1).await?;
    let spec = HostSpec::sink(
        "bench-export",
        paths::component("bridge_kafka"),
        &from,
        &format!(
            "[runtime]\nbatch_size = {batch}\n\n[capabilities.kafka]\n\
             allowed_brokers = [\"127.0.0.1:*\"]\n\n[config]\nbrokers = \"{}\"\n\
             routes = [{{ to = \"bench-out\" }}]\n{}",
            tansu.bootstrap(),
            arg("--linger-ms")
                .map(|ms| format!("properties = {{ \"linger.ms\" = {ms} }}\n"))
                .unwrap_or_default(),
        ),
    );
    let mut host = HostProcess::start(spec, url);
    if !host.wait_ready(Duration::from_secs(60)).await {
        return Err(format!("host not ready:\n{}", host.log()).into());
    }
    let delivered = Arc::new(AtomicU64::new(0));
    let publisher = tokio::spawn(publish_paced(p, n, size, delivered.clone()));
    let consumer = tansu.consumer("bench-out", "bench-export-check");
    let mut seen = 0u64;
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen < n && Instant::now() < deadline {
        let got = Tansu::read(&consumer, 1000, Duration::from_millis(100)).await;
        if !got.is_empty() {
            started.get_or_insert_with(Instant::now);
        }
        seen += got.len() as u64;
        delivered.store(seen, Ordering::Relaxed);
    }
    let rate = seen as f64 / started.unwrap_or_else(Instant::now).elapsed().as_secs_f64();
    publisher.await?.map_err(|e| -> BoxError { e.into() })?;
    if seen < n {
        return Err(format!("export delivered {seen} of {n}:\n{}", host.log()).into());
    }
    Ok(rate)
}
