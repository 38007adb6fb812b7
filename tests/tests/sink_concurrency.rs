//! `[sink] concurrency = N`: N instances of a sink deliver at once on one subscription, each
//! key in order at one instance; a kill -9 loses nothing, and an instance that traps holds up
//! only the keys routed to it.

use danube_client::Producer;
use danube_connect_tests::broker::BrokerOptions;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, Receiver, eventually, paths, unique_topic,
};
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::time::{Duration, Instant};

// Prime, so that no routing which ignores keys keeps each key at one instance by chance.
const KEYS: u64 = 37;
const INSTANCES: u64 = 4;

fn key_of(i: u64) -> String {
    format!("k{}", i % KEYS)
}

/// A window wide enough for every instance to have work at once (a real broker keeps its
/// own, 10 by default on v0.15.1).
async fn wide_window() -> Danube {
    Danube::start_with(BrokerOptions {
        max_unacked: 200,
        ..BrokerOptions::default()
    })
    .await
}

fn concurrent_http_sink(name: &str, receiver: &Receiver) -> HostSpec {
    let mut spec =
        HostSpec::http_sink(name, &receiver.url("/hook"), "[runtime]\nbatch_size = 10\n");
    spec.sink_keys = format!("concurrency = {INSTANCES}\n");
    spec
}

/// Publish `{"n": i}` keyed `key_of(i)`, never more than 150 ahead of what arrived: a
/// v0.15.1 broker skips messages of a subscription that falls ~256 behind.
async fn publish_keyed(producer: &Producer, range: std::ops::Range<u64>, receiver: &Receiver) {
    for i in range {
        while i.is_multiple_of(50) && i >= distinct(receiver) + 150 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let payload = format!("{{\"n\":{i}}}").into_bytes();
        producer
            .send_with_key(payload, None, &key_of(i))
            .await
            .expect("publish");
    }
}

fn distinct(receiver: &Receiver) -> u64 {
    receiver
        .accepted_numbers()
        .into_iter()
        .collect::<BTreeSet<_>>()
        .len() as u64
}

/// Per key, the first delivery of each number comes in publishing order.
fn assert_key_order(delivered: &[u64]) {
    let mut seen = BTreeSet::new();
    let mut last: HashMap<u64, u64> = HashMap::new();
    for &n in delivered {
        if !seen.insert(n) {
            continue;
        }
        if let Some(&before) = last.get(&(n % KEYS)) {
            assert!(before < n, "key {}: {n} arrived after {before}", n % KEYS);
        }
        last.insert(n % KEYS, n);
    }
}

async fn wait_for(receiver: &Receiver, n: u64, host: &HostProcess) {
    let all = eventually(Duration::from_secs(120), async || {
        (distinct(receiver) >= n).then_some(())
    })
    .await;
    assert!(
        all.is_some(),
        "{} of {n} arrived\n{}",
        distinct(receiver),
        host.log()
    );
}

/// Paused while the first messages are published, so every instance has a backlog when it
/// resumes; swapped to the marker build halfway. Commands reach every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_deliver_at_once_and_each_key_keeps_its_order() {
    const N: u64 = 2_000;
    const BACKLOG: u64 = 150;
    const NAME: &str = "conc-order";
    let danube = wide_window().await;
    let receiver = Receiver::delaying(Duration::from_millis(20)).await;
    let spec = concurrent_http_sink(NAME, &receiver);
    let producer = danube.producer(&spec.topics[0]).await;
    let mut host = HostProcess::started(spec, danube.url()).await;
    assert_eq!(host.control(NAME, "pause").await.state(), "paused");
    publish_keyed(&producer, 0..BACKLOG, &receiver).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.requests().is_empty(),
        "delivered while paused:\n{}",
        host.log()
    );
    assert_eq!(host.control(NAME, "resume").await.state(), "running");
    publish_keyed(&producer, BACKLOG..N / 2, &receiver).await;
    let reply = host
        .reload(NAME, Some(&paths::component("sink_http_marker")))
        .await;
    assert_eq!(reply.status, 200, "{}\n{}", reply.text, host.log());
    assert_eq!(reply.json["reload"]["changed"], true, "{}", reply.text);
    let swapped_at = Instant::now();
    publish_keyed(&producer, N / 2..N, &receiver).await;
    wait_for(&receiver, N, &host).await;

    assert_key_order(&receiver.accepted_numbers());
    assert!(
        receiver.most_in_flight() > 1,
        "the instances never had two requests out at once"
    );
    let after: Vec<_> = receiver
        .requests()
        .into_iter()
        .filter(|r| r.at > swapped_at)
        .collect();
    assert!(!after.is_empty());
    assert!(
        after
            .iter()
            .all(|r| r.header("x-danube-build") == Some("marker")),
        "an instance still ran the old build after the swap was answered"
    );
    let metrics = host.metrics().await;
    let processed = metric_sum(&metrics, "danube_connector_messages_processed_total", &[]);
    assert!(processed >= N as f64, "processed {processed}");
    host.sigterm();
    let status = host.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_concurrent_sink_loses_nothing() {
    const N: u64 = 3_000;
    let danube = wide_window().await;
    let receiver = Receiver::delaying(Duration::from_millis(5)).await;
    let spec = concurrent_http_sink("conc-kill", &receiver);
    let producer = danube.producer(&spec.topics[0]).await;
    let mut host = HostProcess::started(spec, danube.url()).await;
    let paced = receiver.clone();
    let publisher = tokio::spawn(async move {
        publish_keyed(&producer, 0..N, &paced).await;
        producer
    });
    let some = eventually(Duration::from_secs(60), async || {
        (receiver.accepted_numbers().len() >= 500).then_some(())
    })
    .await;
    assert!(some.is_some(), "{}", host.log());
    host.kill9().await;
    let at_kill = receiver.accepted_numbers().len();
    assert!((at_kill as u64) < N, "the kill must land mid-stream");
    // The publisher paces itself by what arrives: it goes on once the host is back.
    let host = host.restart();
    let _producer = publisher.await.expect("publisher");
    wait_for(&receiver, N, &host).await;
    assert_key_order(&receiver.accepted_numbers()[at_kill..]);
}

/// The instance a key goes to, as the host routes it: the same hash as its publisher lanes.
fn instance_of(key: &str) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key) % INSTANCES
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_traps_holds_up_only_its_own_keys() {
    const N: u64 = 200;
    let danube = wide_window().await;
    let receiver = Receiver::start().await;
    let topic = unique_topic("conc-trap");
    // The chaos fixture panics on the payload `panic`: its instance crash-loops (3 s, then
    // 6 s, give or take the jitter) until that message is dead-lettered after its third trap,
    // while the other instances go on.
    let extra = format!(
        "[runtime]\nbatch_size = 10\nrestart_backoff_ms = 3000\nmax_guest_traps = 3\n\n\
         [capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\n",
        receiver.url("/chaos")
    );
    let mut spec = HostSpec::sink("conc-trap", paths::component("chaos_sink"), &topic, &extra);
    spec.sink_keys = format!("concurrency = {INSTANCES}\n");
    if danube.test_broker().is_none() {
        // The stuck instance's un-acked messages soon fill a real broker's window (10 by
        // default), and then nothing is dispatched to any instance until the poison is
        // dead-lettered: README, `[sink] concurrency`.
        eprintln!("skipped: needs a window wider than the stuck instance's share");
        return;
    }
    let producer = danube.producer(&topic).await;
    let host = HostProcess::started(spec, danube.url()).await;
    producer
        .send_with_key(b"panic".to_vec(), None, "poison")
        .await
        .expect("publish");
    for i in 0..N {
        producer
            .send_with_key(i.to_string().into_bytes(), None, &key_of(i))
            .await
            .expect("publish");
    }
    let stuck = instance_of("poison");
    let elsewhere: BTreeSet<u64> = (0..N)
        .filter(|&i| instance_of(&key_of(i)) != stuck)
        .collect();
    assert!(!elsewhere.is_empty());
    let delivered = || -> BTreeSet<u64> {
        receiver
            .accepted()
            .iter()
            .flat_map(|r| serde_json::from_slice::<Vec<String>>(&r.body).unwrap_or_default())
            .filter_map(|s| s.parse().ok())
            .collect()
    };
    let others_done = eventually(Duration::from_secs(30), async || {
        delivered().is_superset(&elsewhere).then_some(())
    })
    .await;
    assert!(others_done.is_some(), "{}", host.log());
    let metrics = host.metrics().await;
    assert_eq!(
        metric_sum(&metrics, "danube_connector_dead_lettered_total", &[]),
        0.0,
        "the other instances finished only after the poison was dead-lettered:\n{}",
        host.log()
    );
    // Then the poison is dead-lettered and its instance's keys follow.
    let all = eventually(Duration::from_secs(60), async || {
        (delivered().len() as u64 == N).then_some(())
    })
    .await;
    assert!(all.is_some(), "{}", host.log());
    let metrics = host.metrics().await;
    assert_eq!(
        metric_sum(&metrics, "danube_connector_dead_lettered_total", &[]),
        1.0
    );
}
