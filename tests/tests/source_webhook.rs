//! The webhook source end to end: clients POST signed requests to the host's listener, the
//! host runs `source_webhook.wasm`, and each request lands in Danube. A request is answered
//! 2xx only after Danube persisted its records: killing the host loses none that were.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use danube_connect_tests::harness::host_process::free_port;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::webhook_client::{Answer, WebhookClient, now_secs};
use danube_connect_tests::harness::{Danube, HostProcess, HostSpec, paths, unique_topic};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &[u8] = b"a key of thirty-two bytes, for us";

fn secret() -> String {
    format!("whsec_{}", BASE64.encode(KEY))
}

/// A host listening on `port`, one Standard Webhooks route `/hooks/orders` into `topic`
/// (JSON bodies) and one bearer-token route `/hooks/batch` (NDJSON or JSON arrays split into
/// records); `grant` adds keys to `[capabilities.inbound_http]`.
fn webhook_host(name: &str, port: u16, topic: &str, grant: &str) -> HostSpec {
    let config = format!(
        "[capabilities.inbound_http]\nbind = \"127.0.0.1:{port}\"\n{grant}\n\n\
         [config]\n\
         [[config.routes]]\npath = \"/hooks/orders\"\ntopic = \"{topic}\"\n\
         auth = \"standard_webhooks\"\nsecret = \"{secret}\"\nformat = \"json\"\n\n\
         [[config.routes]]\npath = \"/hooks/batch\"\ntopic = \"{topic}-batch\"\n\
         auth = \"bearer\"\ntoken = \"t0ken\"\nformat = \"json_batch\"\n",
        secret = secret()
    );
    HostSpec::source(
        name,
        paths::component("source_webhook"),
        &format!("{topic}-default"),
        "",
        &config,
    )
}

/// How far senders may run ahead of the reader. A real broker stops dispatching to a
/// subscription that falls far behind its producers, so there the test keeps within 150; the
/// test broker has no such cliff, so there the clients send as fast as they can (a burst).
fn ahead(danube: &Danube) -> usize {
    if danube.test_broker().is_some() {
        usize::MAX / 2
    } else {
        150
    }
}

fn order(i: u64) -> Vec<u8> {
    format!("{{\"n\":{i},\"item\":\"sku-{}\",\"note\":\"ü\"}}", i % 97).into_bytes()
}

/// Sends order `i` signed until the host answers 2xx (retrying while it is down or says
/// 503), and returns that answer.
async fn deliver(client: &WebhookClient, i: u64) -> Answer {
    loop {
        let answer = client
            .post_signed(
                "/hooks/orders",
                KEY,
                &format!("msg-{i}"),
                now_secs(),
                order(i),
            )
            .await;
        if answer.ok() {
            return answer;
        }
        assert!(
            answer.status == 0 || answer.status == 503,
            "order {i}: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_from_concurrent_clients_land_exactly_as_sent() {
    const N: u64 = 5_000;
    const CLIENTS: u64 = 8;
    let danube = Danube::start().await;
    let topic = unique_topic("webhook");
    let out = danube.reader(&topic).await.gather();
    let mut batch_out = danube.reader(&format!("{topic}-batch")).await;
    let port = free_port();
    let host = HostProcess::started(webhook_host("hooks", port, &topic, ""), danube.url()).await;

    let answered_so_far = Arc::new(AtomicU64::new(0));
    let ahead = ahead(&danube) as u64;
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let client = WebhookClient::new(port);
        let (out, answered_so_far) = (out.clone(), answered_so_far.clone());
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in (c..N).step_by(CLIENTS as usize) {
                while answered_so_far.load(Ordering::Relaxed) >= out.len() as u64 + ahead {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                answers.push(deliver(&client, i).await);
                answered_so_far.fetch_add(1, Ordering::Relaxed);
            }
            answers
        }));
    }
    let mut answered = 0;
    for c in clients {
        for a in c.await.expect("client") {
            assert_eq!(a.status, 200);
            assert_eq!(a.body, "{\"records\":1}");
            answered += 1;
        }
    }
    assert_eq!(answered, N);

    out.wait_for(N as usize, Duration::from_secs(60)).await;
    let got = out.messages();
    let mut seen = BTreeMap::new();
    for m in &got {
        let id = m.routing_key.clone().unwrap_or_default();
        assert_eq!(m.attributes.get("webhook.id"), Some(&id));
        assert_eq!(
            m.attributes.get("http.path").map(String::as_str),
            Some("/hooks/orders")
        );
        *seen.entry(id).or_insert(0) += 1;
        let i: u64 = m.routing_key.as_deref().unwrap_or_default()[4..]
            .parse()
            .expect("msg-<n>");
        assert_eq!(m.payload, order(i), "byte for byte");
    }
    assert_eq!(seen.len() as u64, N, "every request, once:\n{}", host.log());

    // One bearer-authenticated NDJSON request becomes one record per line.
    let client = WebhookClient::new(port);
    let lines = b"{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}\n".to_vec();
    let headers = [
        ("authorization", "Bearer t0ken".to_string()),
        ("content-type", "application/x-ndjson".to_string()),
        ("idempotency-key", "batch-1".to_string()),
    ];
    let answer = client.post("/hooks/batch", &headers, lines).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "{\"records\":3}")
    );
    let split = batch_out.take(3, Duration::from_secs(30)).await;
    let payloads: Vec<&[u8]> = split.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, [&b"{\"a\":1}"[..], b"{\"a\":2}", b"{\"a\":3}"]);
    assert!(
        split
            .iter()
            .all(|m| m.routing_key.as_deref() == Some("batch-1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_their_reason_and_publish_nothing() {
    let danube = Danube::start().await;
    let topic = unique_topic("webhook-refused");
    let mut out = danube.reader(&topic).await;
    let port = free_port();
    let grant = "max_body_bytes = 1024\nrate_limit = { per_second = 20, burst = 20 }";
    let host =
        HostProcess::started(webhook_host("refusals", port, &topic, grant), danube.url()).await;
    let client = WebhookClient::new(port);

    let good = client
        .post_signed("/hooks/orders", KEY, "good-1", now_secs(), order(1))
        .await;
    assert_eq!(good.status, 200, "{good:?}\n{}", host.log());
    let forged = client
        .post_signed(
            "/hooks/orders",
            b"not the key",
            "bad-1",
            now_secs(),
            order(2),
        )
        .await;
    assert_eq!(forged.status, 401, "{forged:?}");
    let replayed = client
        .post_signed("/hooks/orders", KEY, "old-1", now_secs() - 3600, order(3))
        .await;
    assert_eq!(replayed.status, 401, "{replayed:?}");
    assert!(replayed.body.contains("tolerance"), "{replayed:?}");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2000)).into_bytes();
    let oversized = client
        .post_signed("/hooks/orders", KEY, "big-1", now_secs(), big)
        .await;
    assert_eq!(oversized.status, 413, "{oversized:?}");
    let unsigned = client
        .post("/hooks/orders", &[], b"{\"n\":4}".to_vec())
        .await;
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    let not_json = client
        .post_signed(
            "/hooks/orders",
            KEY,
            "text-1",
            now_secs(),
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(not_json.status, 400, "{not_json:?}");
    let nowhere = client.post("/nowhere", &[], b"{}".to_vec()).await;
    assert_eq!(nowhere.status, 404, "{nowhere:?}");

    // Only the good request reached Danube.
    let got = out.take(10, Duration::from_secs(3)).await;
    let ids: Vec<_> = got.iter().filter_map(|m| m.routing_key.clone()).collect();
    assert_eq!(ids, ["good-1"], "{}", host.log());

    // A burst over the client's rate: some get 429 with Retry-After, none is lost silently.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let burst: Vec<_> = (0..60)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .post_signed(
                        "/hooks/orders",
                        KEY,
                        &format!("burst-{i}"),
                        now_secs(),
                        order(i),
                    )
                    .await
            })
        })
        .collect();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for b in burst {
        let a = b.await.expect("burst");
        if a.status == 429 {
            assert!(a.retry_after.is_some(), "429 says when to retry: {a:?}");
        }
        *by_status.entry(a.status).or_default() += 1;
    }
    assert!(
        by_status.get(&429).is_some_and(|&n| n > 0) && by_status.get(&200).is_some_and(|&n| n > 0),
        "{by_status:?}"
    );
    let accepted = by_status[&200];
    let got = out.take(accepted + 5, Duration::from_secs(5)).await;
    assert_eq!(
        got.len(),
        accepted,
        "exactly the accepted ones: {by_status:?}"
    );

    // The host counts every answer by status.
    let metrics = host.metrics().await;
    let answered = |status: &str| {
        metric_sum(
            &metrics,
            "danube_connector_inbound_requests_total",
            &[("connector", "refusals"), ("status", status)],
        ) as usize
    };
    assert_eq!(answered("401"), 3, "forged, replayed, unsigned");
    assert_eq!(answered("413"), 1);
    assert_eq!(answered("429"), by_status[&429]);
    assert_eq!(answered("200"), 1 + accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_request_that_was_answered_2xx() {
    const N: u64 = 3_000;
    const CLIENTS: u64 = 4;
    let danube = Danube::start().await;
    let topic = unique_topic("webhook-kill");
    let out = danube.reader(&topic).await.gather();
    let port = free_port();
    let mut host =
        HostProcess::started(webhook_host("hooks-kill", port, &topic, ""), danube.url()).await;

    // The clients' log of 2xx answers.
    let confirmed = Arc::new(Mutex::new(BTreeSet::new()));
    let ahead = ahead(&danube);
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (client, confirmed) = (WebhookClient::new(port), confirmed.clone());
        let out = out.clone();
        clients.push(tokio::spawn(async move {
            for i in (c..N).step_by(CLIENTS as usize) {
                while confirmed.lock().map(|c| c.len()).unwrap_or_default() >= out.len() + ahead {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                deliver(&client, i).await;
                confirmed.lock().expect("log").insert(i);
            }
        }));
    }
    let count = || confirmed.lock().map(|c| c.len()).unwrap_or_default();
    let mid = danube_connect_tests::harness::eventually(Duration::from_secs(60), async || {
        (count() >= 1_000).then_some(())
    })
    .await;
    assert!(mid.is_some(), "{}", host.log());
    host.kill9().await;
    let at_kill = count();
    assert!((at_kill as u64) < N, "the kill must land mid-stream");
    let host = host.restart();
    for c in clients {
        c.await.expect("client");
    }

    let numbers = || -> Vec<u64> {
        out.messages()
            .iter()
            .map(|m| {
                serde_json::from_slice::<serde_json::Value>(&m.payload)
                    .ok()
                    .and_then(|v| v["n"].as_u64())
                    .expect("an order")
            })
            .collect()
    };
    let _ = danube_connect_tests::harness::eventually(Duration::from_secs(60), async || {
        (numbers().into_iter().collect::<BTreeSet<_>>().len() as u64 >= N).then_some(())
    })
    .await;
    let all = numbers();
    let seen: BTreeSet<u64> = all.iter().copied().collect();
    let duplicates = all.len() - seen.len();
    let confirmed = confirmed.lock().expect("log").clone();
    let missing: Vec<_> = confirmed.difference(&seen).take(20).collect();
    assert!(
        missing.is_empty(),
        "answered 2xx but not in Danube: {missing:?}\n{}",
        host.log()
    );
    assert_eq!(confirmed.len() as u64, N);
    eprintln!("{N} of {N} in Danube, {duplicates} duplicates after kill -9 at {at_kill} answered");
}

/// `validate` of the shipped example calls the connector's `open` and takes no port (the
/// listener starts with the first poll); a route without its secret is named.
#[test]
fn the_example_validates_and_a_route_without_its_secret_is_named() {
    let example = paths::target_dir().join("../examples/source-webhook/connector.toml");
    let validate = |config: &std::path::Path| {
        std::process::Command::new(paths::host_bin())
            .args(["validate", "--config"])
            .arg(config)
            .arg("--component")
            .arg(paths::component("source_webhook"))
            .arg("--cache-dir")
            .arg(paths::target_dir().join("test-component-cache"))
            .env("ORDERS_SECRET", secret())
            .env("GITHUB_WEBHOOK_SECRET", "s3cret")
            .env("INGEST_TOKEN", "t0ken")
            .output()
            .expect("run host")
    };
    let out = validate(&example);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().expect("tmp");
    let broken = dir.path().join("broken.toml");
    let text = std::fs::read_to_string(&example).expect("example");
    std::fs::write(
        &broken,
        text.replace("secret = \"${GITHUB_WEBHOOK_SECRET}\"\n", "")
            .replace("../../target", &paths::target_dir().display().to_string()),
    )
    .expect("write");
    let out = validate(&broken);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("routes[1].secret"), "{said}");
}

/// With the grant's certificate and key the listener speaks HTTPS: a client trusting the CA
/// (curl here) gets its 200 after the record is persisted, and plain HTTP gets nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_grants_certificate() {
    let dir = tempfile::tempdir().expect("tmp");
    let certs = danube_connect_tests::harness::certificates::make(dir.path());
    let danube = Danube::start().await;
    let topic = unique_topic("webhook-tls");
    let mut out = danube.reader(&format!("{topic}-batch")).await;
    let port = free_port();
    let grant = format!(
        "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        certs.server_cert.display(),
        certs.server_key.display()
    );
    let host = HostProcess::started(
        webhook_host("hooks-tls", port, &topic, &grant),
        danube.url(),
    )
    .await;
    let curl = |scheme: &str| {
        std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/stderr",
                "-w",
                "%{http_code}",
                "--max-time",
                "20",
            ])
            .arg("--cacert")
            .arg(&certs.ca)
            .args([
                "-H",
                "authorization: Bearer t0ken",
                "--data-binary",
                "[{\"tls\":true}]",
            ])
            .arg(format!("{scheme}://127.0.0.1:{port}/hooks/batch"))
            .output()
            .expect("curl (Debian package curl)")
    };
    // The listener starts with the connector's first poll; give it a moment.
    let mut answer = curl("https");
    for _ in 0..50 {
        if String::from_utf8_lossy(&answer.stdout) == "200" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = curl("https");
    }
    assert_eq!(
        String::from_utf8_lossy(&answer.stdout),
        "200",
        "{}\n{}",
        String::from_utf8_lossy(&answer.stderr),
        host.log()
    );
    let got = out.take(1, Duration::from_secs(10)).await;
    assert_eq!(
        got.first().map(|m| &m.payload[..]),
        Some(&b"{\"tls\":true}"[..])
    );
    let plain = curl("http");
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "plain HTTP is refused"
    );
}

/// While Danube refuses publishes, a request is answered 503 with `Retry-After` once
/// `response_timeout_ms` passes, never 2xx; sent again after Danube is back, it gets its 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn danube_refusing_means_503_with_retry_after_then_200() {
    let danube = Danube::start().await;
    let Some(broker) = danube.test_broker() else {
        eprintln!("skipped: a real broker cannot be told to refuse publishes");
        return;
    };
    let topic = unique_topic("webhook-away");
    let out = danube.reader(&topic).await.gather();
    let port = free_port();
    let grant = "response_timeout_ms = 1500";
    let host = HostProcess::started(
        webhook_host("hooks-away", port, &topic, grant),
        danube.url(),
    )
    .await;
    let client = WebhookClient::new(port);
    assert_eq!(deliver(&client, 1).await.status, 200, "{}", host.log());

    broker.set_refuse_publishes(true);
    let away = client
        .post_signed("/hooks/orders", KEY, "msg-2", now_secs(), order(2))
        .await;
    assert_eq!(away.status, 503, "{away:?}");
    assert!(away.retry_after.is_some(), "{away:?}");
    broker.set_refuse_publishes(false);
    assert_eq!(deliver(&client, 2).await.status, 200, "{}", host.log());
    out.wait_for(2, Duration::from_secs(20)).await;
    let keys: BTreeSet<String> = out
        .messages()
        .iter()
        .filter_map(|m| m.routing_key.clone())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["msg-1".to_string(), "msg-2".to_string()])
    );
}
