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
