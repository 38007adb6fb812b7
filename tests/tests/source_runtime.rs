//! The source side of the host, with the counting fixture: every record polled reaches
//! Danube, in order when records have no key, and nothing is skipped while Danube refuses.

use danube_connect_tests::broker::BrokerOptions;
use danube_connect_tests::harness::danube::drain;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{Danube, HostProcess, HostSpec, paths, unique_topic};
use std::collections::HashMap;
use std::time::Duration;

fn counter(name: &str, topic: &str, count: u64, source_keys: &str) -> HostSpec {
    HostSpec::source(
        name,
        paths::component("counter_source"),
        topic,
        source_keys,
        &format!("[config]\ncount = {count}\nprefix = \"n\"\n"),
    )
}

fn numbers(payloads: &[Vec<u8>]) -> Vec<u64> {
    payloads
        .iter()
        .filter_map(|p| std::str::from_utf8(p).ok()?.strip_prefix('n')?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_reaches_danube_in_poll_order() {
    const N: u64 = 3000;
    let danube = Danube::start().await;
    let topic = unique_topic("counter");
    // Topics exist once a producer created them; subscribe before the host publishes.
    let _creator = danube.producer(&topic).await;
    let (mut consumer, mut rx) = danube.subscribe(&topic, "reader").await;
    let mut host = HostProcess::start(
        counter("counter", &topic, N, "producers_per_topic = 4"),
        danube.url(),
    );
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let got = drain(&mut consumer, &mut rx, N as usize, Duration::from_secs(60)).await;
    let payloads: Vec<Vec<u8>> = got.iter().map(|m| m.payload.to_vec()).collect();
    let got = numbers(&payloads);
    assert_eq!(got.len() as u64, N, "{}", host.log());
    // Unkeyed records keep their order by default, whatever the number of producers.
    assert_eq!(got, (0..N).collect::<Vec<_>>());
    let metrics = host.metrics().await;
    let published = metric_sum(
        &metrics,
        "danube_connector_messages_processed_total",
        &[("topic", &topic)],
    );
    assert_eq!(published, N as f64, "{metrics}");
}

/// Sends of different keys overlap (`sends_in_flight`), on a broker that stores publishes in
/// flight together in any order and refuses every publish for a second mid-stream: each key
/// still arrives in poll order, every record once. A real broker stops dispatching to a
/// reader that falls ~256 behind, so there the source is paced (500 records/s) and the run
/// shorter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_overlap_in_flight_and_each_key_keeps_its_order() {
    const KEYS: u64 = 8;
    let danube = Danube::start_with(BrokerOptions {
        publish_jitter: Some(Duration::from_millis(5)),
        ..BrokerOptions::default()
    })
    .await;
    let real = danube.test_broker().is_none();
    let (n, rate, interval) = if real {
        (3_000, 500, 20)
    } else {
        (20_000, 0, 100)
    };
    let topic = unique_topic("keyed");
    let _creator = danube.producer(&topic).await;
    let (mut consumer, mut rx) = danube.subscribe(&topic, "reader").await;
    let mut host = HostProcess::start(
        HostSpec::source(
            "keyed",
            paths::component("counter_source"),
            &topic,
            &format!(
                "producers_per_topic = 2\nsends_in_flight = 16\npoll_interval_ms = {interval}"
            ),
            &format!("[config]\ncount = {n}\nprefix = \"n\"\nkeys = {KEYS}\nrate = {rate}\n"),
        ),
        danube.url(),
    );
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    if let Some(broker) = danube.test_broker() {
        // Refuse while sends are in flight, a fifth of the way in.
        let fifth =
            danube_connect_tests::harness::eventually(Duration::from_secs(30), async || {
                (broker.messages_in(&topic) >= n / 5).then_some(())
            })
            .await;
        assert!(fifth.is_some(), "{}", host.log());
        broker.set_refuse_publishes(true);
        tokio::time::sleep(Duration::from_secs(1)).await;
        broker.set_refuse_publishes(false);
    }
    let got = drain(&mut consumer, &mut rx, n as usize, Duration::from_secs(120)).await;
    let mut by_key: HashMap<String, Vec<u64>> = HashMap::new();
    let mut arrival = Vec::new();
    for m in &got {
        let number = numbers(&[m.payload.to_vec()])[0];
        let key = m.routing_key.clone().unwrap_or_default();
        assert_eq!(
            key,
            format!("k{}", number % KEYS),
            "record {number} under the wrong key"
        );
        by_key.entry(key).or_default().push(number);
        arrival.push(number);
    }
    for (key, got) in &by_key {
        let expected: Vec<u64> = (0..n)
            .filter(|i| format!("k{}", i % KEYS) == *key)
            .collect();
        let first_wrong = got.iter().zip(&expected).position(|(a, b)| a != b);
        let around = first_wrong.map(|i| &got[i.saturating_sub(2)..(i + 3).min(got.len())]);
        assert!(
            first_wrong.is_none() && got.len() == expected.len(),
            "key {key}: {} of {} records, first out of place at {first_wrong:?} ({around:?}):\n{}",
            got.len(),
            expected.len(),
            host.log()
        );
    }
    assert_eq!(arrival.len() as u64, n, "{}", host.log());
    if !real {
        // Proof the sends overlapped: some record was stored before an earlier one.
        assert!(
            arrival.windows(2).any(|w| w[0] > w[1]),
            "every record arrived in poll order: sends did not overlap"
        );
        let metrics = host.metrics().await;
        assert!(
            metric_sum(&metrics, "danube_connector_retries_total", &[]) >= 1.0,
            "the refusal was not seen:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_publishes_are_retried_until_danube_takes_them() {
    const N: u64 = 500;
    let danube = Danube::start().await;
    let Some(broker) = danube.test_broker() else {
        eprintln!("skipped: a real broker cannot be told to refuse publishes");
        return;
    };
    let topic = unique_topic("refused");
    let _creator = danube.producer(&topic).await;
    let (mut consumer, mut rx) = danube.subscribe(&topic, "reader").await;
    broker.set_refuse_publishes(true);
    let mut host = HostProcess::start(
        counter("refused", &topic, N, "keep_unkeyed_order = false"),
        danube.url(),
    );
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let retried = danube_connect_tests::harness::eventually(Duration::from_secs(30), async || {
        let m = host.metrics().await;
        (metric_sum(&m, "danube_connector_retries_total", &[]) >= 3.0).then_some(())
    })
    .await;
    assert!(retried.is_some(), "no retries seen:\n{}", host.log());
    assert_eq!(broker.messages_in(&topic), 0);
    broker.set_refuse_publishes(false);
    let got = drain(&mut consumer, &mut rx, N as usize, Duration::from_secs(60)).await;
    let payloads: Vec<Vec<u8>> = got.iter().map(|m| m.payload.to_vec()).collect();
    let mut got = numbers(&payloads);
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, (0..N).collect::<Vec<_>>(), "{}", host.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_skips_nothing() {
    const N: u64 = 5000;
    let danube = Danube::start().await;
    let Some(broker) = danube.test_broker() else {
        eprintln!("skipped: a real broker cannot be restarted by the test");
        return;
    };
    let topic = unique_topic("source-restart");
    let _creator = danube.producer(&topic).await;
    // The subscription outlives the restart (the test broker keeps cursors); its first
    // consumer only has to exist before the host publishes.
    drop(danube.subscribe(&topic, "reader").await);
    let mut host = HostProcess::start(
        counter("source-restart", &topic, N, "keep_unkeyed_order = false"),
        danube.url(),
    );
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let some = danube_connect_tests::harness::eventually(Duration::from_secs(30), async || {
        (broker.messages_in(&topic) >= 500).then_some(())
    })
    .await;
    assert!(some.is_some(), "{}", host.log());
    broker.stop().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    broker.restart().await.expect("restart broker");
    let all = danube_connect_tests::harness::eventually(Duration::from_secs(60), async || {
        (broker.messages_in(&topic) >= N).then_some(())
    })
    .await;
    assert!(
        all.is_some(),
        "{} of {N} after the restart:\n{}",
        broker.messages_in(&topic),
        host.log()
    );
    // Read everything back on the kept subscription: every number, none skipped.
    let (mut consumer, mut rx) = danube.subscribe(&topic, "reader").await;
    let mut seen = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while (seen.len() as u64) < N && tokio::time::Instant::now() < deadline {
        let got = drain(&mut consumer, &mut rx, 500, Duration::from_secs(2)).await;
        let payloads: Vec<Vec<u8>> = got.iter().map(|m| m.payload.to_vec()).collect();
        seen.extend(numbers(&payloads));
    }
    let missing: Vec<u64> = (0..N).filter(|i| !seen.contains(i)).take(20).collect();
    assert!(
        missing.is_empty(),
        "first missing {missing:?}\n{}",
        host.log()
    );
    assert!(host.is_running());
    let retries = metric_sum(&host.metrics().await, "danube_connector_retries_total", &[]);
    assert!(retries >= 1.0, "the restart must show as retries");
}
