//! The admin API on the metrics listener: what it reports about a connector, pause / resume /
//! restart taking effect on delivery, unknown names, and the optional bearer token.

use danube_connect_tests::harness::danube::publish_numbered;
use danube_connect_tests::harness::http;
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, Pipeline, Receiver, eventually, paths, unique_topic,
};
use std::time::Duration;

const NAME: &str = "admin";

fn sink_config(receiver: &Receiver) -> String {
    format!(
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\nurl = \"{}\"\nbody = \"json_array\"\n",
        receiver.url("/hook")
    )
}

/// Waits until `n` numbers arrived, then checks they are exactly `0..n`, in order, once each.
async fn arrived(receiver: &Receiver, n: u64, host: &HostProcess) {
    let done = eventually(Duration::from_secs(60), async || {
        (receiver.accepted_numbers().len() as u64 >= n).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = receiver.accepted_numbers();
    assert!(
        done.is_some() && got == (0..n).collect::<Vec<u64>>(),
        "expected 0..{n} once each, got {} numbers: {:?}\n{}",
        got.len(),
        &got[got.len().saturating_sub(30)..],
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_and_controls_a_connector() {
    let receiver = Receiver::start().await;
    let p = Pipeline::start(NAME, "sink_http", &sink_config(&receiver)).await;

    let views = p.host.connectors().await;
    assert_eq!(views.len(), 1, "{views:?}");
    let v = &views[0];
    assert_eq!((v.name(), v.world(), v.state()), (NAME, "sink", "running"));
    assert!(v.ready(), "{:?}", v.0);
    assert!(v.component_path().ends_with("sink_http.wasm"), "{:?}", v.0);
    assert!(
        v.sha256().len() == 64 && v.sha256().chars().all(|c| c.is_ascii_hexdigit()),
        "{:?}",
        v.0
    );
    assert!(v.last_error().is_none(), "{:?}", v.0);

    publish_numbered(&p.producer, 0..20).await;
    arrived(&receiver, 20, &p.host).await;
    assert_eq!(p.host.connector(NAME).await.count("processed"), 20);

    let paused = p.host.control(NAME, "pause").await;
    assert_eq!(paused.state(), "paused");
    publish_numbered(&p.producer, 20..40).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.accepted_numbers().len(),
        20,
        "delivered while paused:\n{}",
        p.host.log()
    );
    assert_eq!(p.host.connector(NAME).await.state(), "paused");
    // A paused connector is paused on purpose, not unready.
    assert_eq!(p.host.readyz().await, Some(200));

    let resumed = p.host.control(NAME, "resume").await;
    assert_eq!(resumed.state(), "running");
    arrived(&receiver, 40, &p.host).await;

    let restarts = p.host.connector(NAME).await.count("restarts");
    let restarted = p.host.control(NAME, "restart").await;
    assert_eq!(
        restarted.count("restarts"),
        restarts + 1,
        "{:?}",
        restarted.0
    );
    publish_numbered(&p.producer, 40..60).await;
    arrived(&receiver, 60, &p.host).await;
    let v = p.host.connector(NAME).await;
    assert_eq!((v.state(), v.count("processed")), ("running", 60));
    let metrics = p.host.metrics().await;
    assert_eq!(
        http::metric_sum(
            &metrics,
            "danube_connector_instance_restarts_total",
            &[("connector", NAME)]
        ),
        (restarts + 1) as f64,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_connector_is_404() {
    let receiver = Receiver::start().await;
    let p = Pipeline::start(NAME, "sink_http", &sink_config(&receiver)).await;
    for reply in [
        p.host.admin_get("/connectors/nope").await,
        p.host.admin_post("/connectors/nope/pause", None).await,
        p.host.admin_post("/connectors/nope/reload", None).await,
    ] {
        assert_eq!(reply.status, 404, "{}", reply.text);
        assert!(!reply.error().is_empty(), "{}", reply.text);
    }
    assert_eq!(p.host.connector(NAME).await.state(), "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_guards_the_connector_routes_only() {
    let receiver = Receiver::start().await;
    let spec = HostSpec::sink(
        NAME,
        paths::component("sink_http"),
        &unique_topic(NAME),
        &sink_config(&receiver),
    )
    .with_metrics_extra("admin_token = \"s3cret-token\"");
    let p = Pipeline::launch(Danube::start().await, spec, &[]).await;
    let list = p.host.admin_url("/connectors");
    let pause = p.host.admin_url(&format!("/connectors/{NAME}/pause"));

    for bearer in [None, Some("wrong")] {
        let get = http::get_with(&list, bearer).await.map(|(s, _)| s);
        assert_eq!(get, Some(401), "GET with {bearer:?}");
        let post = http::post(&pause, None, bearer).await.map(|(s, _)| s);
        assert_eq!(post, Some(401), "POST with {bearer:?}");
    }
    let (status, body) = http::get_with(&list, Some("s3cret-token"))
        .await
        .expect("answer");
    assert_eq!(status, 200, "{body}");
    // The refused pause did nothing.
    let mut host = p.host;
    host.admin_token = Some("s3cret-token".into());
    assert_eq!(host.connector(NAME).await.state(), "running");

    for open in ["/metrics", "/healthz", "/readyz"] {
        let status = http::get(&host.admin_url(open)).await.map(|(s, _)| s);
        assert_eq!(status, Some(200), "{open} must not need the token");
    }
    publish_numbered(&p.producer, 0..10).await;
    arrived(&receiver, 10, &host).await;
}
