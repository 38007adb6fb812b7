//! Several connectors in one process (`danube-connect-host run host.toml`): a guest that spins
//! or eats memory over and over loses only its own instance; its neighbour keeps delivering
//! without stalls and the process stays small. A host file with duplicate names or an unknown
//! key is refused with an error naming them.

use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{Danube, HostProcess, HostSpec, Receiver, eventually, paths};
use danube_connect_tests::harness::{View, unique_topic};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Bad messages trap again and again instead of being dead-lettered after a few traps, and
/// restarts come quickly, so both bad connectors crash-loop for the whole test.
const RUNTIME: &str =
    "max_guest_traps = 1000\nrestart_backoff_ms = 50\nrestart_max_backoff_ms = 500";

/// A deadline longer than the stall bound below: if the looping guest held a worker thread (or
/// a lock its neighbour needs) for its whole call, the good connector would stop for ~3 s and
/// the gap check would catch it.
const LOOP_DEADLINE_MS: u64 = 3000;
const MAX_GAP: Duration = Duration::from_secs(2);
const RSS_LIMIT: u64 = 300 * 1024 * 1024;

fn chaos(name: &str, topic: &str, runtime: &str, receiver: &Receiver) -> HostSpec {
    let extra = format!(
        "[runtime]\n{RUNTIME}\n{runtime}\n\n[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\n",
        receiver.url(&format!("/{name}"))
    );
    HostSpec::sink(name, paths::component("chaos_sink"), topic, &extra)
}

fn by_name<'a>(views: &'a [View], name: &str) -> &'a View {
    views
        .iter()
        .find(|v| v.name() == name)
        .unwrap_or_else(|| panic!("{name} missing from /connectors: {views:?}"))
}

/// The good connector's payloads in arrival order, with arrival times.
fn arrivals(receiver: &Receiver) -> Vec<(Instant, String)> {
    receiver
        .accepted()
        .into_iter()
        .filter(|r| r.path == "/good")
        .flat_map(|r| {
            let items = serde_json::from_slice::<Vec<String>>(&r.body).unwrap_or_default();
            items.into_iter().map(move |s| (r.at, s))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_looping_neighbours_do_not_stall_or_bloat_the_host() {
    const N: u64 = 600;
    let danube = Danube::start().await;
    let receiver = Receiver::start().await;
    let topics: Vec<String> = ["looper", "hog", "good"]
        .iter()
        .map(|n| unique_topic(n))
        .collect();
    let mut producers = Vec::new();
    for t in &topics {
        producers.push(danube.producer(t).await);
    }
    let specs = vec![
        chaos(
            "looper",
            &topics[0],
            &format!("call_deadline_ms = {LOOP_DEADLINE_MS}"),
            &receiver,
        ),
        chaos("hog", &topics[1], "memory_limit_mb = 32", &receiver),
        chaos("good", &topics[2], "", &receiver),
    ];
    let mut host = HostProcess::start_host_file(specs, danube.url(), "", &[]);
    assert!(
        host.wait_ready(Duration::from_secs(60)).await,
        "host not ready:\n{}",
        host.log()
    );

    for _ in 0..3 {
        producers[0]
            .send(b"loop".to_vec(), None)
            .await
            .expect("publish");
        producers[1]
            .send(b"oom".to_vec(), None)
            .await
            .expect("publish");
    }
    // Spread the good stream over several loop deadlines: 20 messages every 250 ms, never more
    // than 200 ahead of delivery (a real broker stalls a subscription ~256 behind).
    let mut rss_max = 0;
    let mut sent = 0;
    while sent < N {
        while sent >= arrivals(&receiver).len() as u64 + 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for i in sent..(sent + 20).min(N) {
            producers[2]
                .send(format!("g{i}").into_bytes(), None)
                .await
                .expect("publish");
        }
        sent = (sent + 20).min(N);
        rss_max = rss_max.max(host.rss_bytes().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let all = eventually(Duration::from_secs(60), async || {
        (arrivals(&receiver).len() as u64 >= N).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = arrivals(&receiver);
    let distinct: BTreeSet<&str> = got.iter().map(|(_, s)| s.as_str()).collect();
    let expected: BTreeSet<String> = (0..N).map(|i| format!("g{i}")).collect();
    assert!(
        all.is_some() && got.len() as u64 == N && distinct.len() as u64 == N,
        "{} arrivals, {} distinct, of {N}:\n{}",
        got.len(),
        distinct.len(),
        host.log()
    );
    assert!(distinct.iter().all(|s| expected.contains(*s)));
    let gap = got
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0))
        .max()
        .unwrap_or_default();
    assert!(
        gap < MAX_GAP,
        "the good connector stalled for {gap:?} while its neighbours crash-looped"
    );
    assert!(host.is_running(), "the host must survive its guests");

    // Both bad connectors keep trapping and being restarted.
    let views = eventually(Duration::from_secs(30), async || {
        let views = host.connectors().await;
        let looping = ["looper", "hog"].iter().all(|n| {
            let v = by_name(&views, n);
            v.count("traps") > 0 && v.count("restarts") > 0
        });
        looping.then_some(views)
    })
    .await
    .unwrap_or_else(|| panic!("traps/restarts not reported:\n{}", host.log()));
    assert_eq!(views.len(), 3, "{views:?}");
    let good = by_name(&views, "good");
    assert_eq!((good.state(), good.count("traps")), ("running", 0));
    let metrics = host.metrics().await;
    for (name, kind) in [("looper", "deadline"), ("hog", "out_of_memory")] {
        let traps = metric_sum(
            &metrics,
            "danube_connector_guest_traps_total",
            &[("connector", name), ("kind", kind)],
        );
        assert!(traps >= 1.0, "no {kind} trap for {name}:\n{metrics}");
    }

    // The memory hog keeps trapping; its instances' memory must not pile up.
    for _ in 0..5 {
        rss_max = rss_max.max(host.rss_bytes().expect("host RSS"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        rss_max < RSS_LIMIT,
        "host RSS reached {} MB",
        rss_max / (1024 * 1024)
    );
    assert!(host.is_running());
}

/// Runs a host file that must be refused; returns the log.
async fn refused(specs: Vec<HostSpec>, host_extra: &str) -> String {
    // Config errors come before any broker connection: no broker needed.
    let mut host = HostProcess::start_host_file(specs, "http://127.0.0.1:9", host_extra, &[]);
    let status = host
        .wait_exit(Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("host did not exit:\n{}", host.log()));
    assert!(!status.success(), "{status}\n{}", host.log());
    host.log()
}

fn plain(name: &str) -> HostSpec {
    HostSpec::sink(name, paths::component("passthrough"), "/default/unused", "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_connector_names_are_refused() {
    let log = refused(vec![plain("twin"), plain("twin")], "").await;
    assert!(log.contains("twin") && log.contains("host.toml"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_file_key_is_named() {
    let log = refused(vec![plain("solo")], "admin_tokn = \"x\"").await;
    assert!(
        log.contains("admin_tokn") && log.contains("host.toml"),
        "{log}"
    );
}
