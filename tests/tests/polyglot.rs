//! Connectors written in other languages against the same `wit/`: the Python sink
//! (`sink_python.wasm`, componentize-py) and the JavaScript source (`source_js.wasm`, jco),
//! run by the real host against a real HTTP receiver and Danube.

use danube_connect_tests::harness::danube::drain;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, Pipeline, Receiver, Reply, eventually, paths, unique_topic,
};
use danube_core::message::StreamMessage;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The compiled-component cache every host of the tests uses (see `host_process.rs`).
fn cache_dir() -> std::path::PathBuf {
    paths::target_dir().join("test-component-cache")
}

fn inspect(component: &Path) -> Output {
    Command::new(paths::host_bin())
        .arg("inspect")
        .arg(component)
        .arg("--cache-dir")
        .arg(cache_dir())
        .env_remove("DANUBE_SERVICE_URL")
        .output()
        .expect("run host")
}

/// Both components are large (a language runtime each), and compiling them takes far longer
/// than a host's readiness wait; compile each once, in parallel, before any test starts a host.
fn compiled() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let started = ["sink_python", "source_js"].map(|name| {
            let path = paths::component(name);
            std::thread::spawn(move || inspect(&path))
        });
        for handle in started {
            let out = handle.join().expect("inspect thread");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

fn inspect_text(name: &str) -> String {
    compiled();
    let out = inspect(&paths::component(name));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn import_line<'a>(text: &'a str, import: &str) -> Option<&'a str> {
    text.lines().find(|l| l.trim_start().starts_with(import))
}

#[test]
fn inspect_reports_the_python_sink() {
    let text = inspect_text("sink_python");
    assert!(
        text.contains("world:     danube:connect/sink-connector"),
        "{text}"
    );
    assert!(text.contains("  danube:connect/sink@0.1.0"), "{text}");
    let http = import_line(&text, "wasi:http/outgoing-handler@0.2.").unwrap_or_default();
    assert!(http.contains("needs [capabilities.http]"), "{text}");
    assert!(
        import_line(&text, "danube:connect/log@").is_some(),
        "{text}"
    );
    // Built against a world narrowed to what it uses: no grant beyond HTTP is needed.
    for unused in ["danube:connect/state", "danube:connect/mqtt"] {
        assert!(import_line(&text, unused).is_none(), "{unused}:\n{text}");
    }
}

#[test]
fn inspect_reports_the_javascript_source() {
    let text = inspect_text("source_js");
    assert!(
        text.contains("world:     danube:connect/source-connector"),
        "{text}"
    );
    assert!(text.contains("  danube:connect/source@0.1.0"), "{text}");
    let state = import_line(&text, "danube:connect/state@0.1.0").unwrap_or_default();
    assert!(state.contains("needs [capabilities.state]"), "{text}");
    for unused in [
        "danube:connect/mqtt",
        "wasi:http/",
        "wasi:sockets/",
        "wasi:filesystem/",
    ] {
        assert!(import_line(&text, unused).is_none(), "{unused}:\n{text}");
    }
}

// ---- Python sink ------------------------------------------------------------------------

/// `[runtime]`, the HTTP grant and `[config]` for the Python sink posting to `url`.
fn python_config(url: &str, allowed: &str) -> String {
    format!(
        "[runtime]\nretry_backoff_ms = 50\nmax_backoff_ms = 500\n\n\
         [capabilities.http]\nallowed_hosts = [\"{allowed}\"]\n\n\
         [config]\nurl = \"{url}\"\n\n\
         [config.headers]\nx-origin = \"danube\"\n\n\
         [config.transform]\ndrop_types = [\"heartbeat\"]\n\
         rename = {{ device = \"device_id\" }}\ndrop_fields = [\"debug\"]\nadd = {{ site = \"plant-1\" }}\n"
    )
}

async fn python_pipeline(name: &str, receiver: &Receiver) -> Pipeline {
    compiled();
    Pipeline::start(
        name,
        "sink_python",
        &python_config(&receiver.url("/readings"), "http://127.0.0.1:*"),
    )
    .await
}

fn documents(receiver: &Receiver) -> Vec<Value> {
    receiver
        .accepted()
        .iter()
        .flat_map(|r| match serde_json::from_slice::<Value>(&r.body) {
            Ok(Value::Array(items)) => items,
            other => panic!("a request body is not a JSON array: {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sink_transforms_filters_and_dead_letters() {
    const N: u64 = 40;
    let receiver = Receiver::start().await;
    let p = python_pipeline("py-transform", &receiver).await;
    let (_dlq_producer, mut dlq_consumer, mut dlq_rx) = p.dead_letters().await;

    // Every 5th message is a heartbeat (filtered out), message 7 is not JSON.
    let payload =
        |n: u64| -> Vec<u8> {
            match n {
            7 => b"{\"n\": 7, oops".to_vec(),
            n if n % 5 == 0 => json!({"n": n, "type": "heartbeat"}).to_string().into_bytes(),
            n => json!({"n": n, "type": "reading", "device": format!("d-{}", n % 4), "debug": "x"})
                .to_string()
                .into_bytes(),
        }
        };
    for n in 0..N {
        p.producer.send(payload(n), None).await.expect("publish");
    }
    let expected: Vec<u64> = (0..N).filter(|n| *n != 7 && n % 5 != 0).collect();

    let dead = drain(&mut dlq_consumer, &mut dlq_rx, 1, Duration::from_secs(30)).await;
    assert_eq!(dead.len(), 1, "nothing dead-lettered:\n{}", p.host.log());
    let m = &dead[0];
    assert_eq!(&m.payload[..], &payload(7)[..]);
    assert_eq!(
        m.attributes.get("dlq.error_type").map(String::as_str),
        Some("invalid_data")
    );
    let reason = m.attributes.get("dlq.error").cloned().unwrap_or_default();
    assert!(reason.contains("not JSON"), "reason: {reason}");

    let arrived = eventually(Duration::from_secs(30), async || {
        (documents(&receiver).len() >= expected.len()).then_some(())
    })
    .await;
    assert!(
        arrived.is_some(),
        "{} of {} arrived\n{}",
        documents(&receiver).len(),
        expected.len(),
        p.host.log()
    );
    let docs = documents(&receiver);
    let numbers: Vec<u64> = docs.iter().filter_map(|d| d["n"].as_u64()).collect();
    assert_eq!(
        numbers, expected,
        "in order, heartbeats and bad JSON left out"
    );
    for d in &docs {
        let n = d["n"].as_u64().unwrap_or(u64::MAX);
        assert_eq!(
            d["device_id"],
            json!(format!("d-{}", n % 4)),
            "renamed: {d}"
        );
        assert!(d.get("device").is_none() && d.get("debug").is_none(), "{d}");
        assert_eq!(d["site"], json!("plant-1"), "{d}");
        assert_eq!(d["source"]["topic"], json!(p.topic), "{d}");
        assert_eq!(d["source"]["offset"], json!(n), "{d}");
    }
    for r in receiver.accepted() {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/readings");
        assert_eq!(r.header("x-origin"), Some("danube"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }

    // Filtered messages were acknowledged like delivered ones: every message is processed.
    let metrics = eventually(Duration::from_secs(10), async || {
        let m = p.host.metrics().await;
        (metric_sum(&m, "danube_connector_messages_processed_total", &[]) >= N as f64).then_some(m)
    })
    .await;
    let metrics = metrics.unwrap_or_else(|| panic!("not all acknowledged:\n{}", p.host.log()));
    assert_eq!(
        metric_sum(
            &metrics,
            "danube_connector_guest_messages_filtered_total",
            &[]
        ),
        (0..N).filter(|n| n % 5 == 0).count() as f64,
        "{metrics}"
    );
    assert_eq!(
        metric_sum(&metrics, "danube_connector_dead_lettered_total", &[]),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sink_retries_unavailable_and_dead_letters_rejected_batches() {
    // 503 twice (retried), then a 422 for the batch holding n = 3, then accepting.
    let receiver = Receiver::scripted(|i, body| {
        let text = String::from_utf8_lossy(body);
        if i < 2 {
            Reply::status(503).header("Retry-After", "0")
        } else if text.contains("\"n\":3,") {
            Reply::status(422).body("n = 3 is out of range")
        } else {
            Reply::ok()
        }
    })
    .await;
    let p = python_pipeline("py-status", &receiver).await;
    let (_dlq_producer, mut dlq_consumer, mut dlq_rx) = p.dead_letters().await;
    for n in 0..3 {
        let doc = json!({"n": n, "type": "reading"}).to_string();
        p.producer
            .send(doc.into_bytes(), None)
            .await
            .expect("publish");
    }
    let delivered = eventually(Duration::from_secs(30), async || {
        (documents(&receiver).len() >= 3).then_some(())
    })
    .await;
    assert!(delivered.is_some(), "{}", p.host.log());
    let statuses: Vec<u16> = receiver.requests().iter().map(|r| r.status).collect();
    assert_eq!(&statuses[..2], &[503, 503], "{statuses:?}");
    // Sent after the first three were delivered, so it travels alone.
    let doc = json!({"n": 3, "type": "reading"}).to_string();
    p.producer
        .send(doc.into_bytes(), None)
        .await
        .expect("publish");
    let dead = drain(&mut dlq_consumer, &mut dlq_rx, 1, Duration::from_secs(30)).await;
    assert_eq!(dead.len(), 1, "nothing dead-lettered:\n{}", p.host.log());
    let reason = dead[0]
        .attributes
        .get("dlq.error")
        .cloned()
        .unwrap_or_default();
    assert!(
        reason.contains("422") && reason.contains("out of range"),
        "reason: {reason}"
    );
    let mut numbers: Vec<u64> = documents(&receiver)
        .iter()
        .filter_map(|d| d["n"].as_u64())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [0, 1, 2]);
    let metrics = p.host.metrics().await;
    assert!(
        metric_sum(&metrics, "danube_connector_retries_total", &[]) >= 2.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sink_url_outside_allowed_hosts_is_refused() {
    compiled();
    let receiver = Receiver::start().await;
    let url = receiver.url("/readings");
    let extra = python_config(&url, "https://*.example.com");
    let mut p = Pipeline::start("py-denied", "sink_python", &extra).await;
    for n in 0..3 {
        let doc = json!({"n": n}).to_string();
        p.producer
            .send(doc.into_bytes(), None)
            .await
            .expect("publish");
    }
    let status = p
        .host
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("the host stops the connector");
    assert!(!status.success());
    let log = p.host.log();
    assert!(
        log.contains("denied") && log.contains("allowed_hosts"),
        "{log}"
    );
    assert!(log.contains(&url), "the log names the refused URL:\n{log}");
    assert!(
        receiver.requests().is_empty(),
        "nothing may reach a host outside the allow-list"
    );
}

// ---- JavaScript source ------------------------------------------------------------------

const TEMPLATE: &str = r#"{"n": {{n}}, "device": "d-{{n % 4}}"}"#;

fn js_source(name: &str, topic: &str, count: u64, rate: u64) -> HostSpec {
    HostSpec::source(
        name,
        paths::component("source_js"),
        topic,
        "producers_per_topic = 2",
        &format!(
            "[capabilities.state]\n\n[config]\ntemplate = '{TEMPLATE}'\n\
             rate_per_sec = {rate}\ncount = {count}\nkey_field = \"device\"\n"
        ),
    )
}

/// What the template renders for `n`, byte for byte.
fn rendered(n: u64) -> String {
    format!(r#"{{"n": {n}, "device": "d-{}"}}"#, n % 4)
}

fn number(m: &StreamMessage) -> u64 {
    serde_json::from_slice::<Value>(&m.payload)
        .ok()
        .and_then(|v| v["n"].as_u64())
        .unwrap_or_else(|| panic!("not a record: {:?}", String::from_utf8_lossy(&m.payload)))
}

/// Starts a source on a fresh topic with a reader subscribed before it publishes.
async fn start_source(
    name: &str,
    count: u64,
    rate: u64,
) -> (
    Danube,
    HostProcess,
    danube_client::Consumer,
    tokio::sync::mpsc::Receiver<StreamMessage>,
) {
    compiled();
    let danube = Danube::start().await;
    let topic = unique_topic(name);
    // Topics exist once a producer created them; subscribe before the host publishes.
    let _creator = danube.producer(&topic).await;
    let (consumer, rx) = danube.subscribe(&topic, "reader").await;
    let mut host = HostProcess::start(js_source(name, &topic, count, rate), danube.url());
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    (danube, host, consumer, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_source_publishes_keyed_records_at_the_configured_rate() {
    const N: u64 = 300;
    const RATE: u64 = 100;
    let (_danube, host, mut consumer, mut rx) = start_source("js-stream", N, RATE).await;
    let started = Instant::now();
    let got = drain(&mut consumer, &mut rx, N as usize, Duration::from_secs(60)).await;
    let took = started.elapsed();
    assert_eq!(got.len() as u64, N, "{}", host.log());
    let mut by_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for m in &got {
        let n = number(m);
        assert_eq!(String::from_utf8_lossy(&m.payload), rendered(n));
        let key = m.routing_key.clone().unwrap_or_default();
        assert_eq!(key, format!("d-{}", n % 4), "key of record {n}");
        by_key.entry(key).or_default().push(n);
    }
    // Every record once; records with the same key in order.
    let mut all: Vec<u64> = by_key.values().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..N).collect::<Vec<_>>());
    for (key, ns) in &by_key {
        assert!(ns.windows(2).all(|w| w[0] < w[1]), "{key}: {ns:?}");
    }
    // The rate starts with no credit: N records at RATE a second take (N / RATE) s at least,
    // give or take one poll interval.
    let least = Duration::from_millis(N * 1000 / RATE - 300);
    assert!(took >= least, "{N} records in {took:?} at {RATE}/s");
    // `count` ends the stream.
    let more = drain(&mut consumer, &mut rx, 1, Duration::from_secs(1)).await;
    assert!(
        more.is_empty(),
        "record past count: {:?}",
        more.first().map(number)
    );
}

/// `resuming at n=K` from the source's `open` in a host log.
fn resumed_at(log: &str) -> Option<u64> {
    let rest = &log[log.rfind("resuming at n=")? + "resuming at n=".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_source_resumes_from_the_committed_position_after_kill_9() {
    const N: u64 = 600;
    let (_danube, mut host, mut consumer, mut rx) = start_source("js-resume", N, 150).await;
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for m in drain(&mut consumer, &mut rx, 250, Duration::from_secs(30)).await {
        *seen.entry(number(&m)).or_default() += 1;
    }
    assert!(seen.len() >= 250, "{}", host.log());
    host.kill9().await;
    let before_kill = seen.len();

    let mut host = host.restart();
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.len() as u64) < N && Instant::now() < deadline {
        for m in drain(&mut consumer, &mut rx, 100, Duration::from_secs(1)).await {
            *seen.entry(number(&m)).or_default() += 1;
        }
    }
    // Stragglers of the first run, and nothing past `count`.
    for m in drain(&mut consumer, &mut rx, 1000, Duration::from_secs(1)).await {
        *seen.entry(number(&m)).or_default() += 1;
    }

    let log = host.log();
    let resume = resumed_at(&log).unwrap_or_else(|| panic!("no resume line:\n{log}"));
    let missing: Vec<u64> = (0..N).filter(|n| !seen.contains_key(n)).take(10).collect();
    assert!(
        missing.is_empty(),
        "gap after the restart (resumed at {resume}): first missing {missing:?}\n{log}"
    );
    assert_eq!(seen.len() as u64, N, "records past count");
    // It resumed instead of starting over (at least the first batches had been committed).
    assert!(
        resume > 0,
        "started over although {before_kill} records had arrived before the kill"
    );
    let duplicates: Vec<u64> = seen
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, _)| *n)
        .collect();
    assert!(seen.values().all(|c| *c <= 2), "a record repeated twice");
    // Duplicates only in the uncommitted tail: nothing before the resume point came twice.
    // (The tail is not one run: records of different keys go through different producers,
    // so at the kill each producer had got its own way into it.)
    assert!(
        duplicates.iter().all(|n| *n >= resume),
        "resumed at {resume}, duplicates {duplicates:?}"
    );
    eprintln!(
        "{N} of {N} after kill -9 at {before_kill}; resumed at {resume}, {} duplicates",
        duplicates.len()
    );
}
