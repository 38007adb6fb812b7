//! A broker that requires TLS and a token: the host reaches it with the CA and token of its
//! `[danube]` section, for consuming, acknowledging and dead-lettering alike, and a wrong CA
//! or a missing token is refused with an error that says so.

use danube_connect_tests::broker::{BrokerOptions, ServerTls};
use danube_connect_tests::harness::certificates::{self, Certificates};
use danube_connect_tests::harness::danube::publish_numbered;
use danube_connect_tests::harness::receiver::Reply;
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, Pipeline, Receiver, eventually,
};
use std::time::Duration;

const TOKEN: &str = "s3cret-t0ken";

/// The test broker with TLS and a token, and certificates for it; `None` against a real
/// broker, whose security a test cannot set.
async fn secured_broker(dir: &std::path::Path) -> Option<(Danube, Certificates)> {
    let certs = certificates::make(dir);
    let danube = Danube::start_with(BrokerOptions {
        tls: Some(ServerTls {
            cert: certs.server_cert.clone(),
            key: certs.server_key.clone(),
        }),
        token: Some(TOKEN.into()),
        ..BrokerOptions::default()
    })
    .await;
    if danube.test_broker().is_none() {
        eprintln!("skipped: a real broker's TLS and tokens cannot be set by a test");
        return None;
    }
    Some((danube.with_credentials(&certs.ca, Some(TOKEN)), certs))
}

fn spec(name: &str, receiver: &Receiver, danube_keys: String) -> HostSpec {
    let mut spec = HostSpec::http_sink(name, &receiver.url("/hook"), "");
    spec.danube_keys = danube_keys;
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_ca_and_token_reach_a_secured_broker() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some((danube, certs)) = secured_broker(dir.path()).await else {
        return;
    };
    // Message 3 is refused by the endpoint, so it goes to the dead-letter topic through the
    // same secured connection.
    let receiver = Receiver::scripted(|_, body| {
        if String::from_utf8_lossy(body).contains("\"n\":3") {
            Reply::status(422)
        } else {
            Reply::ok()
        }
    })
    .await;
    let keys = format!(
        "tls_ca = \"{}\"\ntoken = \"${{DANUBE_TOKEN}}\"",
        certs.ca.display()
    );
    let mut spec = spec("secured", &receiver, keys);
    spec.env.push(("DANUBE_TOKEN".into(), TOKEN.into()));
    spec.extra = format!("[runtime]\nbatch_size = 1\n\n{}", spec.extra);
    let p = Pipeline::launch(danube, spec, &[]).await;
    let (_dlq_producer, _dlq_consumer, mut dead) = p.dead_letters().await;
    publish_numbered(&p.producer, 0..20).await;
    let all = eventually(Duration::from_secs(30), async || {
        (receiver.accepted_numbers().len() == 19).then_some(())
    })
    .await;
    assert!(all.is_some(), "{}", p.host.log());
    let letter = tokio::time::timeout(Duration::from_secs(30), dead.recv())
        .await
        .ok()
        .flatten()
        .expect("the refused message on the dead-letter topic");
    assert!(String::from_utf8_lossy(&letter.payload).contains("\"n\":3"));
    // Every message was acknowledged over the secured channel: nothing is left in flight.
    let drained = eventually(Duration::from_secs(10), async || {
        let metrics = p.host.metrics().await;
        let inflight = danube_connect_tests::harness::http::metric_sum(
            &metrics,
            "danube_connector_inflight_messages",
            &[],
        );
        (inflight == 0.0).then_some(())
    })
    .await;
    assert!(drained.is_some(), "{}", p.host.log());
}

/// A host that cannot reach the broker keeps retrying and says why; it is not ready.
/// `danube_keys` makes its `[danube]` lines from the broker's certificates.
async fn refused(danube_keys: impl Fn(&Certificates) -> String, expect: &[&str]) {
    let dir = tempfile::tempdir().expect("tmp");
    let Some((danube, certs)) = secured_broker(dir.path()).await else {
        return;
    };
    let receiver = Receiver::start().await;
    let spec = spec("refused", &receiver, danube_keys(&certs));
    let _producer = danube.producer(&spec.topics[0]).await;
    let mut host = HostProcess::start(spec, danube.url());
    let said = eventually(Duration::from_secs(30), async || {
        let log = host.log();
        expect.iter().all(|e| log.contains(e)).then_some(())
    })
    .await;
    assert!(said.is_some(), "expected {expect:?} in\n{}", host.log());
    assert!(host.is_running(), "the host keeps retrying");
    assert_ne!(host.readyz().await, Some(200));
    host.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_is_refused_with_a_clear_error() {
    let other = tempfile::tempdir().expect("tmp");
    let stranger = certificates::make(other.path());
    let keys = |_: &Certificates| {
        format!(
            "tls_ca = \"{}\"\ntoken = \"{TOKEN}\"",
            stranger.ca.display()
        )
    };
    refused(keys, &["cannot reach Danube", "invalid peer certificate"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_refused_with_a_clear_error() {
    let keys = |certs: &Certificates| format!("tls_ca = \"{}\"", certs.ca.display());
    refused(
        keys,
        &["cannot reach Danube", "missing authorization token"],
    )
    .await;
}
