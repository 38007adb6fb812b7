//! A connector that panics, spins or eats memory loses its instance, never the host: the bad
//! message is isolated and dead-lettered after repeated traps, everything else is delivered.

use danube_connect_tests::harness::danube::drain;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{Pipeline, Receiver, eventually};
use std::time::Duration;

/// Publish `a0..a9`, the poison payload, `b0..b9`; expect the twenty good ones delivered, the
/// poison one dead-lettered as `guest_trap`, traps of `kind` counted, and the host alive.
async fn poison_is_isolated(poison: &str, kind: &str, runtime: &str) {
    let receiver = Receiver::start().await;
    let extra = format!(
        "[runtime]\n{runtime}\n\n[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\nurl = \"{}\"\n",
        receiver.url("/chaos")
    );
    let mut p = Pipeline::start("chaos", "chaos_sink", &extra).await;
    let (_dlq_producer, mut dlq_consumer, mut dlq_rx) = p.dead_letters().await;
    let mut payloads: Vec<String> = (0..10).map(|i| format!("a{i}")).collect();
    payloads.push(poison.to_string());
    payloads.extend((0..10).map(|i| format!("b{i}")));
    for payload in &payloads {
        p.producer
            .send(payload.clone().into_bytes(), None)
            .await
            .expect("publish");
    }
    let dead = drain(&mut dlq_consumer, &mut dlq_rx, 1, Duration::from_secs(90)).await;
    assert_eq!(
        dead.len(),
        1,
        "poison message not dead-lettered:\n{}",
        p.host.log()
    );
    assert_eq!(&dead[0].payload[..], poison.as_bytes());
    assert_eq!(
        dead[0].attributes.get("dlq.error_type").map(String::as_str),
        Some("guest_trap")
    );
    let delivered = async || {
        let got: std::collections::BTreeSet<String> = receiver
            .accepted()
            .iter()
            .flat_map(|r| serde_json::from_slice::<Vec<String>>(&r.body).unwrap_or_default())
            .collect();
        (got.len() >= 20).then_some(got)
    };
    let got = eventually(Duration::from_secs(30), delivered)
        .await
        .expect("good messages delivered");
    let expected: std::collections::BTreeSet<String> = payloads
        .iter()
        .filter(|payload| *payload != poison)
        .cloned()
        .collect();
    assert_eq!(got, expected);
    assert!(p.host.is_running(), "the host must survive its guest");
    assert_eq!(p.host.readyz().await, Some(200));
    let metrics = p.host.metrics().await;
    let traps = metric_sum(
        &metrics,
        "danube_connector_guest_traps_total",
        &[("connector", "chaos"), ("kind", kind)],
    );
    assert!(
        traps >= 3.0,
        "expected >= 3 {kind} traps, metrics:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_guest_does_not_take_the_host_down() {
    poison_is_isolated("panic", "panic", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_loop_is_interrupted_by_the_cpu_deadline() {
    poison_is_isolated("loop", "deadline", "call_deadline_ms = 300").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_is_stopped_by_the_memory_limit() {
    poison_is_isolated("oom", "out_of_memory", "memory_limit_mb = 32").await;
}

/// A guest waiting in a host call cannot be interrupted by the CPU deadline (it runs no code);
/// the outer bound on every call (twice the deadline plus 1 s) must end it. The endpoint here
/// accepts connections and never answers, and the guest's own HTTP timeout (10 s) is far longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_stuck_in_a_host_call_is_bounded() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let extra = format!(
        "[runtime]\ncall_deadline_ms = 200\nrestart_backoff_ms = 50\nrestart_max_backoff_ms = 200\n\n\
         [capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\nurl = \"http://{addr}/never\"\n"
    );
    let mut p = Pipeline::start("stuck", "chaos_sink", &extra).await;
    p.producer
        .send(b"hello".to_vec(), None)
        .await
        .expect("publish");
    let bounded = eventually(Duration::from_secs(30), async || {
        let metrics = p.host.metrics().await;
        let n = metric_sum(
            &metrics,
            "danube_connector_guest_traps_total",
            &[("connector", "stuck"), ("kind", "host_call_timeout")],
        );
        (n >= 1.0).then_some(())
    })
    .await;
    assert!(
        bounded.is_some(),
        "no host_call_timeout trap:\n{}",
        p.host.log()
    );
    assert!(p.host.is_running(), "the host must survive its guest");
    assert!(
        p.host.log().contains("host_call_timeout"),
        "the trap is logged:\n{}",
        p.host.log()
    );
    held.abort();
}
