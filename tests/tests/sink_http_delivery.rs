//! Danube → host → sink_http.wasm → a real HTTP receiver: what arrives, in which order, how.

use danube_connect_tests::harness::danube::publish_numbered;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{Pipeline, Receiver, eventually};
use std::time::Duration;

fn sink_config(receiver: &Receiver, body: &str) -> String {
    format!(
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\nurl = \"{}\"\nbody = \"{body}\"\n",
        receiver.url("/hook")
    )
}

async fn deliver(body_mode: &str, n: u64) -> (Receiver, Pipeline) {
    let receiver = Receiver::start().await;
    let p = Pipeline::start("delivery", "sink_http", &sink_config(&receiver, body_mode)).await;
    publish_numbered(&p.producer, 0..n).await;
    let done = eventually(Duration::from_secs(60), async || {
        (receiver.accepted_numbers().len() as u64 >= n).then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "only {} of {n} arrived:\n{}",
        receiver.accepted_numbers().len(),
        p.host.log()
    );
    (receiver, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_array_delivers_every_message_once_in_order() {
    let (receiver, p) = deliver("json_array", 500).await;
    // Give a duplicate the chance to show up before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.accepted_numbers(), (0..500).collect::<Vec<u64>>());
    for r in receiver.accepted() {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let metrics = p.host.metrics().await;
    assert_eq!(
        metric_sum(
            &metrics,
            "danube_connector_messages_processed_total",
            &[("connector", "delivery")]
        ),
        500.0
    );
    assert_eq!(
        metric_sum(&metrics, "danube_connector_dead_lettered_total", &[]),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_mode_sends_one_document_per_line() {
    let (receiver, _p) = deliver("ndjson", 200).await;
    assert_eq!(receiver.accepted_numbers(), (0..200).collect::<Vec<u64>>());
    let first = &receiver.accepted()[0];
    assert_eq!(first.header("content-type"), Some("application/x-ndjson"));
    let text = String::from_utf8_lossy(&first.body);
    assert!(text.lines().all(|l| l.starts_with("{\"n\":")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_message_mode_carries_metadata_headers() {
    let (receiver, _p) = deliver("per_message", 50).await;
    let requests = receiver.accepted();
    assert_eq!(requests.len(), 50);
    assert_eq!(receiver.accepted_numbers(), (0..50).collect::<Vec<u64>>());
    let r = &requests[3];
    assert!(
        r.header("x-danube-topic")
            .is_some_and(|t| t.starts_with("/default/delivery-"))
    );
    assert_eq!(r.header("x-danube-offset"), Some("3"));
    assert!(r.header("x-danube-publish-time").is_some());
    let keys: std::collections::HashSet<_> = requests
        .iter()
        .filter_map(|r| r.header("idempotency-key"))
        .collect();
    assert_eq!(keys.len(), 50, "one distinct idempotency key per message");
}
