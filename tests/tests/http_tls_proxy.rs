//! The HTTP capability reaches endpoints signed by a private CA when its grant names the CA
//! (and refuses them otherwise, saying why), and goes through an HTTP proxy (a real
//! tinyproxy) when told to.

use danube_connect_tests::harness::certificates;
use danube_connect_tests::harness::danube::publish_numbered;
use danube_connect_tests::harness::tinyproxy::Tinyproxy;
use danube_connect_tests::harness::{Pipeline, Receiver, eventually};
use std::time::Duration;

fn config(receiver: &Receiver, grant_extra: &str) -> String {
    format!(
        "[runtime]\nretry_backoff_ms = 50\nmax_backoff_ms = 200\nmax_retries = 1000\n\n\
         [capabilities.http]\nallowed_hosts = [\"*://127.0.0.1:*\"]\n{grant_extra}\n\n\
         [config]\nurl = \"{}\"\nbody = \"json_array\"\n",
        receiver.url("/hook")
    )
}

async fn wait_for(receiver: &Receiver, n: usize, pipeline: &Pipeline) {
    let all = eventually(Duration::from_secs(30), async || {
        (receiver.accepted_numbers().len() >= n).then_some(())
    })
    .await;
    assert!(all.is_some(), "{}", pipeline.host.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_signed_by_the_granted_ca_is_reached() {
    let dir = tempfile::tempdir().expect("tmp");
    let certs = certificates::make(dir.path());
    let receiver = Receiver::start_tls(&certs.server_cert, &certs.server_key).await;
    assert!(receiver.url("/").starts_with("https://"));
    let grant = format!("ca_file = \"{}\"", certs.ca.display());
    let p = Pipeline::start("private-ca", "sink_http", &config(&receiver, &grant)).await;
    publish_numbered(&p.producer, 0..10).await;
    wait_for(&receiver, 10, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_of_an_unknown_ca_is_refused_and_retried() {
    let dir = tempfile::tempdir().expect("tmp");
    let certs = certificates::make(dir.path());
    let receiver = Receiver::start_tls(&certs.server_cert, &certs.server_key).await;
    let p = Pipeline::start("unknown-ca", "sink_http", &config(&receiver, "")).await;
    publish_numbered(&p.producer, 0..3).await;
    let retried = eventually(Duration::from_secs(30), async || {
        let metrics = p.host.metrics().await;
        let retries = danube_connect_tests::harness::http::metric_sum(
            &metrics,
            "danube_connector_retries_total",
            &[],
        );
        (retries >= 2.0).then_some(())
    })
    .await;
    assert!(retried.is_some(), "{}", p.host.log());
    assert!(
        receiver.accepted().is_empty(),
        "nothing reaches an endpoint the host cannot trust"
    );
    let view = p.host.connector("unknown-ca").await;
    let why = view.last_error().unwrap_or_default().to_lowercase();
    assert!(
        why.contains("certificate"),
        "the reason names the certificate: {why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_through_the_granted_proxy() {
    let proxy = Tinyproxy::start();
    let receiver = Receiver::start().await;
    let grant = format!("proxy = \"{}\"", proxy.url());
    let p = Pipeline::start("proxied", "sink_http", &config(&receiver, &grant)).await;
    publish_numbered(&p.producer, 0..10).await;
    wait_for(&receiver, 10, &p).await;
    let port = receiver.addr.port().to_string();
    let log = proxy.log();
    assert!(
        log.contains("CONNECT") && log.contains(&port),
        "the proxy never saw the receiver's port {port}:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_is_down_holds_requests_back() {
    let proxy = Tinyproxy::start();
    let url = proxy.url();
    drop(proxy);
    let receiver = Receiver::start().await;
    let grant = format!("proxy = \"{url}\"");
    let p = Pipeline::start("proxy-down", "sink_http", &config(&receiver, &grant)).await;
    publish_numbered(&p.producer, 0..3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        receiver.requests().is_empty(),
        "requests went around the proxy:\n{}",
        p.host.log()
    );
}
