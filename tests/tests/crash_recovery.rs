//! Nothing is lost when the host is killed or the broker goes away mid-stream.

use danube_client::Producer;
use danube_connect_tests::harness::danube::publish_numbered;
use danube_connect_tests::harness::{Danube, HostProcess, Pipeline, Receiver, eventually};
use std::collections::BTreeSet;
use std::time::Duration;

fn config(receiver: &Receiver) -> String {
    format!(
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\nurl = \"{}\"\nbody = \"json_array\"\n",
        receiver.url("/hook")
    )
}

async fn wait_all(receiver: &Receiver, n: u64, host: &HostProcess) -> BTreeSet<u64> {
    let all = async || {
        let got: BTreeSet<u64> = receiver.accepted_numbers().into_iter().collect();
        (got.len() as u64 >= n).then_some(got)
    };
    let got = eventually(Duration::from_secs(90), all).await;
    let have: BTreeSet<u64> = receiver.accepted_numbers().into_iter().collect();
    let missing: Vec<u64> = (0..n).filter(|i| !have.contains(i)).take(20).collect();
    got.unwrap_or_else(|| {
        panic!(
            "{} of {n} arrived, first missing {missing:?}\n{}",
            have.len(),
            host.log()
        )
    })
}

/// Publish in steps, never more than 200 ahead of what arrived: a real broker stops delivering
/// to a subscription that falls ~256 messages behind.
async fn publish_paced(producer: Producer, receiver: Receiver, n: u64) -> Producer {
    for start in (0..n).step_by(100) {
        while start as usize >= receiver.accepted_numbers().len() + 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for i in start..(start + 100).min(n) {
            let payload = format!("{{\"n\":{i}}}").into_bytes();
            producer.send(payload, None).await.expect("publish");
        }
    }
    producer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing() {
    const N: u64 = 3000;
    let receiver = Receiver::start().await;
    let Pipeline {
        danube: _danube,
        producer,
        mut host,
        ..
    } = Pipeline::start("kill9", "sink_http", &config(&receiver)).await;
    let publisher = tokio::spawn(publish_paced(producer, receiver.clone(), N));
    let some = eventually(Duration::from_secs(60), async || {
        (receiver.accepted_numbers().len() >= 500).then_some(())
    })
    .await;
    assert!(some.is_some(), "{}", host.log());
    host.kill9().await;
    let at_kill = receiver.accepted_numbers().len();
    assert!((at_kill as u64) < N, "the kill must land mid-stream");
    let mut host = host.restart();
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let _producer = publisher.await.expect("publisher");
    let got = wait_all(&receiver, N, &host).await;
    assert_eq!(got, (0..N).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_resumes_without_host_restart() {
    let danube = Danube::start().await;
    if danube.test_broker().is_none() {
        eprintln!(
            "skipped: a real broker cannot be restarted by the test (DANUBE_SERVICE_URL is set)"
        );
        return;
    }
    let receiver = Receiver::start().await;
    let p = Pipeline::start_on(danube, "restart", "sink_http", &config(&receiver)).await;
    let Some(broker) = p.danube.test_broker() else {
        return;
    };
    publish_numbered(&p.producer, 0..500).await;
    let some = eventually(Duration::from_secs(60), async || {
        (receiver.accepted_numbers().len() >= 100).then_some(())
    })
    .await;
    assert!(some.is_some(), "{}", p.host.log());
    broker.stop().await;
    let not_ready = eventually(Duration::from_secs(30), async || {
        (p.host.readyz().await == Some(503)).then_some(())
    })
    .await;
    assert!(
        not_ready.is_some(),
        "/readyz must report the lost broker:\n{}",
        p.host.log()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    broker.restart().await.expect("restart broker");
    // The old producer's connection died with the broker; publish the rest with a new one.
    let producer = p.danube.producer(&p.topic).await;
    publish_numbered(&producer, 500..1000).await;
    let got = wait_all(&receiver, 1000, &p.host).await;
    assert_eq!(got, (0..1000).collect());
    let mut host = p.host;
    assert!(host.is_running());
    assert_eq!(host.readyz().await, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_and_exits_cleanly() {
    let receiver = Receiver::start().await;
    let mut p = Pipeline::start("sigterm", "sink_http", &config(&receiver)).await;
    publish_numbered(&p.producer, 0..50).await;
    let done = eventually(Duration::from_secs(30), async || {
        (receiver.accepted_numbers().len() >= 50).then_some(())
    })
    .await;
    assert!(done.is_some(), "{}", p.host.log());
    p.host.sigterm();
    let status = p
        .host
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("host exits after SIGTERM");
    assert!(status.success(), "exit status {status}:\n{}", p.host.log());
}
