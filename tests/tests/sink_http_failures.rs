//! Receiver failures: retries, Retry-After, dead-lettering, denied hosts.

use danube_connect_tests::harness::danube::{drain, publish_numbered};
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{Pipeline, Receiver, Reply, eventually};
use std::time::Duration;

fn config(url: &str, body: &str, allowed: &str) -> String {
    format!(
        "[runtime]\nretry_backoff_ms = 50\nmax_backoff_ms = 500\n\n[capabilities.http]\nallowed_hosts = [\"{allowed}\"]\n\n\
         [config]\nurl = \"{url}\"\nbody = \"{body}\"\n"
    )
}

async fn http_pipeline(name: &str, receiver: &Receiver, body: &str) -> Pipeline {
    Pipeline::start(
        name,
        "sink_http",
        &config(&receiver.url("/hook"), body, "http://127.0.0.1:*"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_receiver_loses_nothing_and_retries_are_counted() {
    // The first six requests fail with 503, then the receiver recovers.
    let receiver = Receiver::scripted(|n, _| {
        if n < 6 {
            Reply::status(503)
        } else {
            Reply::ok()
        }
    })
    .await;
    let p = http_pipeline("retry", &receiver, "json_array").await;
    publish_numbered(&p.producer, 0..100).await;
    let done = eventually(Duration::from_secs(60), async || {
        (receiver.accepted_numbers().len() >= 100).then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "{} of 100 arrived\n{}",
        receiver.accepted_numbers().len(),
        p.host.log()
    );
    let mut got = receiver.accepted_numbers();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, (0..100).collect::<Vec<u64>>());
    assert!(
        receiver
            .requests()
            .iter()
            .filter(|r| r.status == 503)
            .count()
            >= 6
    );
    let metrics = p.host.metrics().await;
    assert!(
        metric_sum(
            &metrics,
            "danube_connector_retries_total",
            &[("connector", "retry")]
        ) >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        metric_sum(&metrics, "danube_connector_dead_lettered_total", &[]),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let receiver = Receiver::scripted(|n, _| {
        if n == 0 {
            Reply::status(429).header("Retry-After", "2")
        } else {
            Reply::ok()
        }
    })
    .await;
    let p = http_pipeline("retry-after", &receiver, "json_array").await;
    publish_numbered(&p.producer, 0..1).await;
    let done = eventually(Duration::from_secs(30), async || {
        (!receiver.accepted().is_empty()).then_some(())
    })
    .await;
    assert!(done.is_some(), "{}", p.host.log());
    let requests = receiver.requests();
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(
        gap >= Duration::from_millis(1900),
        "retried after {gap:?}, Retry-After said 2 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_goes_to_dead_letter_topic_with_reason() {
    let receiver = Receiver::scripted(|_, body| {
        if body == b"{\"n\":7}" {
            Reply::status(400).body("field `n` must not be 7")
        } else {
            Reply::ok()
        }
    })
    .await;
    let p = http_pipeline("dlq", &receiver, "per_message").await;
    let (_dlq_producer, mut dlq_consumer, mut dlq_rx) = p.dead_letters().await;
    publish_numbered(&p.producer, 0..20).await;
    let dead = drain(&mut dlq_consumer, &mut dlq_rx, 1, Duration::from_secs(30)).await;
    assert_eq!(dead.len(), 1, "nothing dead-lettered:\n{}", p.host.log());
    let m = &dead[0];
    assert_eq!(&m.payload[..], b"{\"n\":7}");
    assert_eq!(
        m.attributes.get("dlq.error_type").map(String::as_str),
        Some("invalid_data")
    );
    let reason = m.attributes.get("dlq.error").cloned().unwrap_or_default();
    assert!(
        reason.contains("400") && reason.contains("must not be 7"),
        "reason: {reason}"
    );
    assert_eq!(m.attributes.get("dlq.source_topic"), Some(&p.topic));
    assert_eq!(
        m.attributes.get("dlq.offset").map(String::as_str),
        Some("7")
    );
    let done = eventually(Duration::from_secs(30), async || {
        (receiver.accepted_numbers().len() >= 19).then_some(())
    })
    .await;
    assert!(done.is_some());
    let mut got = receiver.accepted_numbers();
    got.sort_unstable();
    assert_eq!(got, (0..20).filter(|n| *n != 7).collect::<Vec<u64>>());
    let metrics = p.host.metrics().await;
    assert_eq!(
        metric_sum(
            &metrics,
            "danube_connector_dead_lettered_total",
            &[("connector", "dlq")]
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_outside_allowed_hosts_is_refused_clearly() {
    let receiver = Receiver::start().await;
    let extra = config(
        &receiver.url("/hook"),
        "json_array",
        "https://*.example.com",
    );
    let mut p = Pipeline::start("denied", "sink_http", &extra).await;
    publish_numbered(&p.producer, 0..3).await;
    let status = p
        .host
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("host stops the connector");
    assert!(!status.success());
    let log = p.host.log();
    assert!(
        log.contains("denied") && log.contains("allowed_hosts"),
        "{log}"
    );
    assert!(
        log.contains(&receiver.url("/hook")),
        "the log names the refused URL:\n{log}"
    );
    assert!(
        receiver.requests().is_empty(),
        "nothing may reach a host outside the allow-list"
    );
}
