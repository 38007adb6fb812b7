//! The sink's durable local buffer (`[sink] buffer`): Danube is drained at its own pace while
//! the endpoint is down, batches are no longer bounded by the broker's window, a full buffer
//! pushes back instead of growing, kill -9 loses nothing, and a bad buffer file is named.
//!
//! The bursts are published unpaced on the test broker. A real v0.15.1 broker skips what a
//! subscription leaves more than 256 messages behind (`channel lagged`), whatever the consumer
//! does later, so there the publisher stays within `REACH` of what the host has taken from
//! Danube: still a burst while the endpoint is down, since only the buffer takes anything then.

use danube_client::Producer;
use danube_connect_tests::harness::danube::publish_numbered;
use danube_connect_tests::harness::http::{self, metric_sum};
use danube_connect_tests::harness::receiver::numbers;
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, Pipeline, Receiver, eventually, paths, unique_topic,
};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Most messages published ahead of what the host has taken, on a real broker.
const REACH: u64 = 150;

/// Messages the host at `metrics` has taken from Danube (and acknowledged), or `None` once it
/// is gone.
async fn taken(metrics: &str) -> Option<u64> {
    let (_, text) = http::get(metrics).await?;
    Some(metric_sum(&text, "danube_connector_messages_received_total", &[]) as u64)
}

/// Publish `{"n":i}` for every i in `range`: all at once on the test broker; on a real broker
/// never more than `REACH` ahead of `before` plus what the host at `metrics` has taken.
/// Returns where it stopped: the end of `range`, or earlier if that host went away.
async fn publish_burst(
    real_broker: bool,
    producer: &Producer,
    range: std::ops::Range<u64>,
    metrics: &str,
    before: u64,
) -> u64 {
    if !real_broker {
        publish_numbered(producer, range.clone()).await;
        return range.end;
    }
    let mut next = range.start;
    while next < range.end {
        let Some(taken) = taken(metrics).await else {
            return next;
        };
        let reach = (before + taken + REACH).min(range.end);
        if next >= reach {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let end = reach.min(next + 50);
        publish_numbered(producer, next..end).await;
        next = end;
    }
    next
}

fn config(receiver: &Receiver, buffer: &str) -> String {
    format!(
        "[runtime]\nbatch_size = 500\nretry_backoff_ms = 50\nmax_backoff_ms = 200\nmax_retries = 1000000\n\n\
         [sink.buffer]\nkind = \"disk\"\n{buffer}\n\n\
         [capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\nbody = \"json_array\"\n",
        receiver.url("/hook")
    )
}

async fn gauge(host: &HostProcess, name: &str) -> f64 {
    metric_sum(&host.metrics().await, name, &[])
}

async fn wait_buffered(host: &HostProcess, at_least: f64) {
    let held = eventually(Duration::from_secs(90), async || {
        let n = gauge(host, "danube_connector_buffer_messages").await;
        (n >= at_least).then_some(n)
    })
    .await;
    assert!(
        held.is_some(),
        "the buffer never held {at_least} messages\n{}",
        host.log()
    );
}

async fn wait_all(receiver: &Receiver, n: u64, host: &HostProcess) -> Vec<u64> {
    let all = eventually(Duration::from_secs(120), async || {
        let got: BTreeSet<u64> = receiver.accepted_numbers().into_iter().collect();
        (got.len() as u64 >= n).then_some(())
    })
    .await;
    let numbers = receiver.accepted_numbers();
    let distinct: BTreeSet<u64> = numbers.iter().copied().collect();
    assert!(
        all.is_some(),
        "{} of {n} arrived\n{}",
        distinct.len(),
        host.log()
    );
    assert_eq!(distinct, (0..n).collect::<BTreeSet<u64>>());
    numbers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_absorbed_and_batches_outgrow_the_broker_window() {
    const N: u64 = 2_000;
    let (receiver, down) = Receiver::switchable().await;
    let p = Pipeline::start("buffered", "sink_http", &config(&receiver, "")).await;
    let real_broker = p.danube.test_broker().is_none();
    // A burst while the endpoint is down: the host keeps taking it from Danube.
    let metrics = p.host.admin_url("/metrics");
    publish_burst(real_broker, &p.producer, 0..N, &metrics, 0).await;
    wait_buffered(&p.host, N as f64).await;
    assert!(
        receiver.accepted().is_empty(),
        "nothing is delivered while the endpoint is down"
    );
    down.store(false, Ordering::SeqCst);
    let delivered = wait_all(&receiver, N, &p.host).await;
    assert_eq!(delivered.len() as u64, N, "each message once");
    // The broker lets 10 messages be un-acknowledged; the buffer is not bound by that.
    let largest = receiver
        .accepted()
        .iter()
        .map(|r| numbers(&r.body).len())
        .max()
        .unwrap_or(0);
    assert!(largest > 10, "largest request carried {largest} messages");
    let drained = eventually(Duration::from_secs(30), async || {
        (gauge(&p.host, "danube_connector_buffer_messages").await == 0.0).then_some(())
    })
    .await;
    assert!(drained.is_some(), "delivered messages leave the buffer");
    let metrics = p.host.metrics().await;
    let processed = metric_sum(&metrics, "danube_connector_messages_processed_total", &[]);
    assert_eq!(processed, N as f64, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_a_full_buffer_loses_nothing() {
    const N: u64 = 3_000;
    let (receiver, down) = Receiver::switchable().await;
    let Pipeline {
        danube,
        producer,
        mut host,
        ..
    } = Pipeline::start("buffer-kill9", "sink_http", &config(&receiver, "")).await;
    let real_broker = danube.test_broker().is_none();
    let metrics = host.admin_url("/metrics");
    // Still publishing when the host dies (on a real broker, until it stops taking).
    let publisher = tokio::spawn(async move {
        let next = publish_burst(real_broker, &producer, 0..N, &metrics, 0).await;
        (producer, next)
    });
    wait_buffered(&host, 1_000.0).await;
    let taken_before = taken(&host.admin_url("/metrics")).await.unwrap_or(0);
    host.kill9().await;
    let mut host = host.restart();
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let (producer, next) = publisher.await.expect("publisher");
    let metrics = host.admin_url("/metrics");
    let end = publish_burst(real_broker, &producer, next..N, &metrics, taken_before).await;
    assert_eq!(end, N, "the restarted host went away\n{}", host.log());
    down.store(false, Ordering::SeqCst);
    let delivered = wait_all(&receiver, N, &host).await;
    // Only a group taken but not yet acknowledged when the host died can come twice.
    let duplicates = delivered.len() as u64 - N;
    assert!(duplicates <= 1_000, "{duplicates} duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_pushes_back_and_never_grows_past_its_bound() {
    const N: u64 = 1_000;
    const MAX_BYTES: f64 = 65_536.0;
    let (receiver, down) = Receiver::switchable().await;
    let Pipeline {
        danube,
        producer,
        host,
        ..
    } = Pipeline::start(
        "buffer-full",
        "sink_http",
        &config(&receiver, "max_bytes = 65536"),
    )
    .await;
    let real_broker = danube.test_broker().is_none();
    let metrics = host.admin_url("/metrics");
    // On a real broker this waits for room once the buffer is full: it runs beside the test.
    let publisher = tokio::spawn(async move {
        publish_burst(real_broker, &producer, 0..N, &metrics, 0).await;
        producer
    });
    let full = eventually(Duration::from_secs(60), async || {
        (gauge(&host, "danube_connector_buffer_full").await == 1.0).then_some(())
    })
    .await;
    assert!(full.is_some(), "the buffer never filled\n{}", host.log());
    // Held for a while: it stays within its bound and takes no more.
    let mut held = 0.0;
    for _ in 0..10 {
        let bytes = gauge(&host, "danube_connector_buffer_bytes").await;
        assert!(bytes <= MAX_BYTES, "{bytes} bytes held");
        held = gauge(&host, "danube_connector_buffer_messages").await;
        assert!(
            held < N as f64,
            "all {N} messages fit: the bound is too loose"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(held > 0.0);
    assert!(host.log().contains("sink buffer full"), "{}", host.log());
    down.store(false, Ordering::SeqCst);
    let _producer = publisher.await.expect("publisher");
    let delivered = wait_all(&receiver, N, &host).await;
    assert_eq!(delivered.len() as u64, N);
    let room = eventually(Duration::from_secs(30), async || {
        (gauge(&host, "danube_connector_buffer_full").await == 0.0).then_some(())
    })
    .await;
    assert!(room.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffer_file_that_is_not_one_is_named_and_nothing_starts() {
    let danube = Danube::start().await;
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("orders.buffer.redb");
    std::fs::write(&path, vec![0x5a; 4096]).expect("write");
    let topic = unique_topic("buffer-bad");
    let _producer = danube.producer(&topic).await;
    let buffer = format!("path = \"{}\"", path.display());
    let spec = HostSpec::sink(
        "buffer-bad",
        paths::component("sink_http"),
        &topic,
        &config(&receiver, &buffer),
    );
    let mut host = HostProcess::start(spec, danube.url());
    let status = host.wait_exit(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "the host must refuse to start\n{}",
        host.log()
    );
    let log = host.log();
    assert!(log.contains("orders.buffer.redb"), "{log}");
}
