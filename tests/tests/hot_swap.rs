//! A running connector's component is replaced without losing or repeating a message: through
//! the admin API, by `--watch` noticing the file changed, and on SIGHUP. A replacement that does
//! not compile, exports the wrong world or refuses the config is rejected and the old component
//! keeps delivering.
//!
//! `sink_http_marker.wasm` is sink_http built with the `build-marker` feature: every request it
//! sends carries `X-Danube-Build: marker`, which tells the receiver which build delivered it.

use danube_client::Producer;
use danube_connect_tests::harness::danube::{publish_numbered, publish_paced};
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, Pipeline, Receiver, View, eventually, paths, unique_topic,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

const NAME: &str = "swap";

fn sink_config(receiver: &Receiver, body: &str) -> String {
    format!(
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\nurl = \"{}\"\nbody = \"{body}\"\n",
        receiver.url("/hook")
    )
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read component")))
}

fn marked(r: &danube_connect_tests::harness::receiver::Received) -> bool {
    r.header("x-danube-build") == Some("marker")
}

/// Waits until every number of `0..n` arrived, then (after giving a duplicate the chance to
/// show up) checks each arrived exactly once.
async fn assert_all_once(receiver: &Receiver, n: u64, host: &HostProcess) {
    let done = eventually(Duration::from_secs(90), async || {
        let got = receiver.accepted_numbers();
        (got.iter().filter(|&&i| i < n).count() as u64 >= n).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for i in receiver.accepted_numbers() {
        *seen.entry(i).or_default() += 1;
    }
    let missing: Vec<u64> = (0..n).filter(|i| !seen.contains_key(i)).take(20).collect();
    let repeated: Vec<(u64, usize)> = seen
        .iter()
        .filter(|&(_, &c)| c > 1)
        .map(|(&i, &c)| (i, c))
        .take(20)
        .collect();
    assert!(
        done.is_some() && missing.is_empty() && repeated.is_empty() && seen.len() as u64 == n,
        "{} distinct of {n}; first missing {missing:?}; repeated {repeated:?}\n{}",
        seen.len(),
        host.log()
    );
}

/// Once a request carries the marker, every later one does (the swap happens once, between
/// batches), and the last one does.
fn assert_switched_once(receiver: &Receiver) {
    let marks: Vec<bool> = receiver.accepted().iter().map(marked).collect();
    let first = marks
        .iter()
        .position(|m| *m)
        .expect("no request carries the marker");
    assert!(first > 0, "the very first request was already marked");
    assert!(
        marks[first..].iter().all(|m| *m),
        "an unmarked request arrived after a marked one: {marks:?}"
    );
}

/// Publishes small paced steps from `next` until a marked request arrives; returns the next
/// number to publish.
async fn publish_until_marked(p: &Pipeline, receiver: &Receiver, mut next: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !receiver.accepted().iter().any(marked) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no marked request 30 s after the component file changed:\n{}",
            p.host.log()
        );
        publish_numbered(&p.producer, next..next + 5).await;
        next += 5;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    next
}

/// Replaces `target` with the marker build the way deploy tools do: write aside, then rename,
/// so a watcher never sees half a file.
fn replace_with_marker(target: &Path) {
    let aside = target.with_extension("incoming");
    std::fs::copy(paths::component("sink_http_marker"), &aside).expect("copy marker build");
    std::fs::rename(&aside, target).expect("rename over the component");
}

/// A pipeline running a private copy of sink_http.wasm (in `dir`), so the test may overwrite it.
async fn pipeline_on_copy(receiver: &Receiver, dir: &Path, args: &[&str]) -> (Pipeline, PathBuf) {
    let copy = dir.join("sink_http.wasm");
    std::fs::copy(paths::component("sink_http"), &copy).expect("copy component");
    let danube = Danube::start().await;
    let spec = HostSpec::sink(
        NAME,
        copy.clone(),
        &unique_topic(NAME),
        &sink_config(receiver, "json_array"),
    );
    (Pipeline::launch(danube, spec, args).await, copy)
}

/// Publishes `range` steadily, 25 numbers every 100 ms, so the stream is still flowing while a
/// reload compiles and swaps; never more than 200 ahead of delivery (a real broker stalls a
/// subscription ~256 behind).
async fn publish_steady(producer: &Producer, range: Range<u64>, receiver: &Receiver) {
    for start in range.clone().step_by(25) {
        while start >= receiver.accepted_numbers().len() as u64 + 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        publish_numbered(producer, start..(start + 25).min(range.end)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_loses_and_repeats_nothing() {
    const N: u64 = 1500;
    let receiver = Receiver::start().await;
    let Pipeline {
        danube: _danube,
        producer,
        host,
        ..
    } = Pipeline::start(NAME, "sink_http", &sink_config(&receiver, "json_array")).await;
    let before = host.connector(NAME).await;
    // Two thirds stream on while the reload runs; the last third follows once it answered,
    // so the swap lands mid-stream however long compiling takes.
    let publisher = tokio::spawn({
        let receiver = receiver.clone();
        async move {
            publish_steady(&producer, 0..2 * N / 3, &receiver).await;
            producer
        }
    });
    let third = eventually(Duration::from_secs(60), async || {
        (receiver.accepted_numbers().len() as u64 >= N / 3).then_some(())
    })
    .await;
    assert!(third.is_some(), "{}", host.log());

    let marker = paths::component("sink_http_marker");
    let reply = host.reload(NAME, Some(&marker)).await;
    assert_eq!(reply.status, 200, "{}\n{}", reply.text, host.log());
    let reload = &reply.json["reload"];
    assert_eq!(reload["changed"], true, "{}", reply.text);
    assert_eq!(
        reload["sha256"],
        sha256_of(&marker).as_str(),
        "{}",
        reply.text
    );
    assert_eq!(reload["previous_sha256"], before.sha256(), "{}", reply.text);
    assert!(reload["pause_ms"].as_f64().is_some(), "{}", reply.text);
    assert!(reload["compile_ms"].as_f64().is_some(), "{}", reply.text);

    let producer = publisher.await.expect("publisher");
    publish_paced(&producer, 2 * N / 3..N, 200, || {
        receiver.accepted_numbers().len() as u64
    })
    .await;
    assert_all_once(&receiver, N, &host).await;
    assert_switched_once(&receiver);

    let view = host.connector(NAME).await;
    assert_eq!(view.sha256(), sha256_of(&marker));
    assert!(view.component_path().ends_with("sink_http_marker.wasm"));
    assert_eq!(view.state(), "running");
    assert_eq!(
        (view.count("reloads"), view.count("reload_failures")),
        (1, 0)
    );
    let metrics = host.metrics().await;
    let ok = metric_sum(
        &metrics,
        "danube_connector_component_reloads_total",
        &[("connector", NAME), ("result", "ok")],
    );
    let pauses = metric_sum(
        &metrics,
        "danube_connector_swap_pause_seconds_count",
        &[("connector", NAME)],
    );
    assert_eq!((ok, pauses), (1.0, 1.0), "metrics:\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_swaps_when_the_file_changes() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (p, copy) = pipeline_on_copy(&receiver, dir.path(), &["--watch"]).await;
    publish_numbered(&p.producer, 0..100).await;
    assert_all_once(&receiver, 100, &p.host).await;
    assert!(!receiver.accepted().iter().any(marked));

    replace_with_marker(&copy);
    let next = publish_until_marked(&p, &receiver, 100).await;
    publish_numbered(&p.producer, next..next + 50).await;
    assert_all_once(&receiver, next + 50, &p.host).await;
    assert_switched_once(&receiver);
    let view = p.host.connector(NAME).await;
    assert_eq!(view.sha256(), sha256_of(&copy));
    assert_eq!(
        (view.count("reloads"), view.count("reload_failures")),
        (1, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_from_the_current_path() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (p, copy) = pipeline_on_copy(&receiver, dir.path(), &[]).await;
    let original = sha256_of(&copy);
    publish_numbered(&p.producer, 0..100).await;
    assert_all_once(&receiver, 100, &p.host).await;

    // Same bytes: nothing to swap.
    p.host.sighup();
    tokio::time::sleep(Duration::from_secs(1)).await;
    publish_numbered(&p.producer, 100..150).await;
    assert_all_once(&receiver, 150, &p.host).await;
    let view = p.host.connector(NAME).await;
    assert_eq!(
        (view.sha256(), view.count("reloads")),
        (original.as_str(), 0)
    );
    assert!(!receiver.accepted().iter().any(marked));

    replace_with_marker(&copy);
    p.host.sighup();
    let next = publish_until_marked(&p, &receiver, 150).await;
    publish_numbered(&p.producer, next..next + 50).await;
    assert_all_once(&receiver, next + 50, &p.host).await;
    assert_switched_once(&receiver);
    let view = p.host.connector(NAME).await;
    assert_eq!(view.sha256(), sha256_of(&copy));
    assert_eq!(
        (view.count("reloads"), view.count("reload_failures")),
        (1, 0)
    );
}

/// Sends `n` more numbers from `from` and checks they all arrive, none marked: the old build
/// still delivers.
async fn old_keeps_delivering(p: &Pipeline, receiver: &Receiver, from: u64, n: u64) {
    publish_numbered(&p.producer, from..from + n).await;
    assert_all_once(receiver, from + n, &p.host).await;
    assert!(!receiver.accepted().iter().any(marked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_refused_by_open_keeps_the_old_component() {
    let receiver = Receiver::start().await;
    // chaos_sink denies unknown config fields, so it refuses sink_http's `body` in `open`.
    let p = Pipeline::start(NAME, "sink_http", &sink_config(&receiver, "json_array")).await;
    old_keeps_delivering(&p, &receiver, 0, 50).await;
    let before = p.host.connector(NAME).await;

    let chaos = paths::component("chaos_sink");
    assert_refused(&p, &receiver, &chaos, "open", 50).await;
    let view = assert_unchanged(&p, &before, 1).await;
    assert_eq!(view.state(), "running");
    let failed = metric_sum(
        &p.host.metrics().await,
        "danube_connector_component_reloads_total",
        &[("connector", NAME), ("result", "failed")],
    );
    assert_eq!(failed, 1.0);

    // No body: reload from the current path, which has not changed.
    let reply = p.host.reload(NAME, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["reload"]["changed"], false, "{}", reply.text);
    old_keeps_delivering(&p, &receiver, 80, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_to_wrong_world_or_garbage_is_refused() {
    let receiver = Receiver::start().await;
    let p = Pipeline::start(NAME, "sink_http", &sink_config(&receiver, "json_array")).await;
    old_keeps_delivering(&p, &receiver, 0, 30).await;
    let before = p.host.connector(NAME).await;

    let source = paths::component("counter_source");
    assert_refused(&p, &receiver, &source, "world", 30).await;
    let garbage = p.host.dir().join("x.wasm");
    std::fs::write(&garbage, pseudo_random_bytes(4096)).expect("write garbage");
    assert_refused(
        &p,
        &receiver,
        &garbage,
        "not a valid WebAssembly component",
        60,
    )
    .await;
    assert_unchanged(&p, &before, 2).await;
}

/// A reload from `component` is refused (422, the error naming `needle`), and the old build
/// goes on delivering: 30 more numbers from `from` arrive, unmarked.
async fn assert_refused(
    p: &Pipeline,
    receiver: &Receiver,
    component: &Path,
    needle: &str,
    from: u64,
) {
    let reply = p.host.reload(NAME, Some(component)).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(reply.error().contains(needle), "{}", reply.text);
    old_keeps_delivering(p, receiver, from, 30).await;
}

/// The connector still runs the component of `before`, after `failures` refused reloads.
async fn assert_unchanged(p: &Pipeline, before: &View, failures: u64) -> View {
    let view = p.host.connector(NAME).await;
    assert_eq!(view.sha256(), before.sha256());
    assert_eq!(view.component_path(), before.component_path());
    assert_eq!(
        (view.count("reloads"), view.count("reload_failures")),
        (0, failures)
    );
    assert!(view.last_error().is_some(), "{:?}", view.0);
    view
}

/// Bytes no tool would take for a component (xorshift, fixed seed: the test stays repeatable).
fn pseudo_random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
