//! A subscription the broker stops dispatching to, or skips ahead on, is noticed and named.
//! The test broker models a v0.15 broker under lag (`BrokerOptions::lag_limit`): producers keep
//! publishing while the sink's endpoint is down, the subscription falls behind, and the broker
//! stalls it for good or skips the oldest messages. The same burst through the durable local
//! buffer flows.

use danube_client::Producer;
use danube_connect_tests::broker::{BrokerOptions, LagLimit, OnLag};
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, Pipeline, Receiver, eventually,
};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

const N: u64 = 2_000;

/// The test broker with a lag limit; `None` against a real broker, whose lag behaviour a test
/// cannot set.
async fn lagging_broker(then: OnLag) -> Option<Danube> {
    let danube = Danube::start_with(BrokerOptions {
        lag_limit: Some(LagLimit { behind: 500, then }),
        ..BrokerOptions::default()
    })
    .await;
    if danube.test_broker().is_none() {
        eprintln!("skipped: a real broker's lag behaviour cannot be set by a test");
        return None;
    }
    Some(danube)
}

/// The connector's file: retries that outlast the outage, stall detection after 1 s through
/// the broker's metrics (when known), `sink_extra` tables, the HTTP sink.
fn spec(danube: &Danube, name: &str, receiver: &Receiver, sink_extra: &str) -> HostSpec {
    let tables = format!(
        "[runtime]\nmax_retries = 1000000\nretry_backoff_ms = 50\nmax_backoff_ms = 200\n\n{sink_extra}"
    );
    let mut spec = HostSpec::http_sink(name, &receiver.url("/hook"), &tables);
    spec.sink_keys = "stall_after_ms = 1000".into();
    if let Some(url) = danube.metrics_url() {
        spec.env.push(("DANUBE_METRICS_URL".into(), url));
    }
    spec
}

/// Publish `0..N` at about 2,000 messages a second: producers that keep going while the
/// endpoint is down, not a single burst.
async fn publish_steadily(producer: &Producer) {
    for start in (0..N).step_by(20) {
        for i in start..start + 20 {
            let payload = format!("{{\"n\":{i}}}").into_bytes();
            producer.send(payload, None).await.expect("publish");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn gauge(host: &HostProcess, name: &str) -> f64 {
    metric_sum(&host.metrics().await, name, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscription_is_reported_and_not_ready() {
    let Some(danube) = lagging_broker(OnLag::Stall).await else {
        return;
    };
    let (receiver, down) = Receiver::switchable().await;
    let spec = spec(&danube, "stalls", &receiver, "");
    let p = Pipeline::launch(danube, spec, &[]).await;
    publish_steadily(&p.producer).await;
    down.store(false, Ordering::SeqCst);
    let stalled = eventually(Duration::from_secs(30), async || {
        (p.host.connector("stalls").await.state() == "stalled").then_some(())
    })
    .await;
    let delivered: BTreeSet<u64> = receiver.accepted_numbers().into_iter().collect();
    assert!(
        stalled.is_some(),
        "never reported stalled\n{}",
        p.host.log()
    );
    assert!(
        (delivered.len() as u64) < N,
        "the broker stalled the subscription, yet all arrived"
    );
    assert_ne!(
        p.host.readyz().await,
        Some(200),
        "a stalled sink is not ready"
    );
    assert_eq!(gauge(&p.host, "danube_connector_stalled").await, 1.0);
    let view = p.host.connector("stalls").await;
    assert!(
        view.last_error().is_some_and(|e| e.contains("stalled")),
        "{:?}",
        view.last_error()
    );
    let log = p.host.log();
    assert!(
        log.contains("subscription stalled") && log.contains("max_unacked_messages"),
        "{log}"
    );
    // The one recovery the client allows, a fresh connection and subscription, is tried and
    // said not to help.
    let said = eventually(Duration::from_secs(30), async || {
        p.host
            .log()
            .contains("did not resume dispatching")
            .then_some(())
    })
    .await;
    assert!(said.is_some(), "{}", p.host.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_outage_through_the_buffer_delivers_everything() {
    let danube = Danube::start_with(BrokerOptions {
        lag_limit: Some(LagLimit {
            behind: 500,
            then: OnLag::Stall,
        }),
        ..BrokerOptions::default()
    })
    .await;
    let (receiver, down) = Receiver::switchable().await;
    let buffer = "[sink.buffer]\nkind = \"disk\"\n";
    let spec = spec(&danube, "unstalled", &receiver, buffer);
    let p = Pipeline::launch(danube, spec, &[]).await;
    publish_steadily(&p.producer).await;
    down.store(false, Ordering::SeqCst);
    let all = eventually(Duration::from_secs(90), async || {
        let got: BTreeSet<u64> = receiver.accepted_numbers().into_iter().collect();
        (got.len() as u64 == N).then_some(())
    })
    .await;
    let got: BTreeSet<u64> = receiver.accepted_numbers().into_iter().collect();
    assert!(
        all.is_some(),
        "{} of {N} arrived\n{}",
        got.len(),
        p.host.log()
    );
    assert_eq!(gauge(&p.host, "danube_connector_stalled").await, 0.0);
    assert_eq!(
        gauge(&p.host, "danube_connector_messages_skipped_total").await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_the_broker_skipped_are_named_and_counted() {
    let Some(danube) = lagging_broker(OnLag::Skip).await else {
        return;
    };
    let (receiver, down) = Receiver::switchable().await;
    let spec = spec(&danube, "skips", &receiver, "");
    let p = Pipeline::launch(danube, spec, &[]).await;
    publish_steadily(&p.producer).await;
    down.store(false, Ordering::SeqCst);
    let last = eventually(Duration::from_secs(60), async || {
        receiver.accepted_numbers().contains(&(N - 1)).then_some(())
    })
    .await;
    assert!(
        last.is_some(),
        "the newest message never arrived\n{}",
        p.host.log()
    );
    let got: BTreeSet<u64> = receiver.accepted_numbers().into_iter().collect();
    let missing = N - got.len() as u64;
    assert!(missing > 0, "the broker skipped nothing: the model is off");
    let skipped = gauge(&p.host, "danube_connector_messages_skipped_total").await;
    assert_eq!(skipped, missing as f64, "every skipped offset is counted");
    let log = p.host.log();
    assert!(log.contains("the broker skipped offsets"), "{log}");
}
