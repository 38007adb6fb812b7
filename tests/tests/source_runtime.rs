//! The source side of the host, with the counting fixture: every record polled reaches
//! Danube, in order when records have no key, and nothing is skipped while Danube refuses.

use danube_connect_tests::harness::danube::drain;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{Danube, HostProcess, HostSpec, paths, unique_topic};
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
