//! Danube → host → sink_clickhouse.wasm → a real ClickHouse server (Debian's
//! `clickhouse-server`, started per test): rows and their values, batching, bad-row isolation,
//! a server outage and a host killed mid-stream.
//!
//! Debian's ClickHouse (18.16) has no `insert_deduplication_token` and a plain MergeTree does
//! not deduplicate inserts, so the recovery tests accept duplicates of rows that were written
//! but not yet acknowledged when things failed, and assert that no row is missing.

use danube_client::Producer;
use danube_connect_tests::broker::BrokerOptions;
use danube_connect_tests::harness::clickhouse::{ClickHouse, WRITER};
use danube_connect_tests::harness::danube::drain;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, Pipeline, eventually, paths, unique_topic,
};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const TABLE: &str = "`default`.`events`";

const DDL: &str = "CREATE TABLE default.events (id UInt64, device String, value Float64, \
    _topic String, _offset UInt64, _published DateTime, _producer String, _key String, \
    trace_id String) ENGINE = MergeTree ORDER BY id";

/// A broker whose window of unacknowledged messages lets the host gather large batches (a
/// real broker keeps its own).
async fn danube(window: usize) -> Danube {
    Danube::start_with(BrokerOptions {
        max_unacked: window,
        ..BrokerOptions::default()
    })
    .await
}

fn real_broker(danube: &Danube) -> bool {
    danube.test_broker().is_none()
}

fn config(ch: &ClickHouse, runtime: &str, extra: &str) -> String {
    format!(
        "[runtime]\n{runtime}\n\n[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\ntable = \"events\"\n{extra}\n",
        ch.url()
    )
}

fn event(i: u64) -> Vec<u8> {
    format!(
        "{{\"id\":{i},\"device\":\"d-{}\",\"value\":{}}}",
        i % 16,
        i as f64 * 0.5
    )
    .into_bytes()
}

/// Publishes `event(i)` for every i in `range` with key `d-<i % 16>` and a `trace` attribute,
/// spread over `producers`. With `pace` (a real broker), one producer publishes in small steps
/// and never more than 100 rows ahead of the table: a real v0.15 broker stops delivering to a
/// subscription that falls behind by a few hundred, or that receives bursts from many producers.
async fn publish(producers: &[Producer], range: std::ops::Range<u64>, pace: Option<&ClickHouse>) {
    let (lanes, step) = match pace {
        Some(_) => (&producers[..1], 20),
        None => (producers, 100),
    };
    let mut start = range.start;
    while start < range.end {
        if let Some(ch) = pace {
            wait_until_within(ch, start, 100).await;
        }
        let end = (start + step).min(range.end);
        let sends = lanes.iter().enumerate().map(|(lane, p)| async move {
            for i in (start..end).filter(|i| i % lanes.len() as u64 == lane as u64) {
                let attrs = HashMap::from([("trace".to_owned(), format!("t-{i}"))]);
                p.send_with_key(event(i), Some(attrs), &format!("d-{}", i % 16))
                    .await
                    .expect("publish");
            }
        });
        futures::future::join_all(sends).await;
        start = end;
    }
}

/// Waits until the table holds at least `published - ahead` rows.
async fn wait_until_within(ch: &ClickHouse, published: u64, ahead: u64) {
    while published > count(ch).await + ahead {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn producers(p: &Pipeline, n: usize) -> Vec<Producer> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(p.danube.producer(&p.topic).await);
    }
    out
}

async fn count(ch: &ClickHouse) -> u64 {
    ch.query("SELECT count() FROM default.events")
        .await
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until every id of `0..n` is in the table; panics with the host's log otherwise.
async fn wait_for_all(ch: &ClickHouse, p: &Pipeline, n: u64, timeout: Duration) {
    let done = eventually(timeout, async || {
        let distinct = ch
            .query("SELECT uniqExact(id) FROM default.events")
            .await
            .ok()?;
        (distinct.trim().parse::<u64>().ok()? >= n).then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "{} of {n} rows arrived:\n{}\nClickHouse:\n{}",
        count(ch).await,
        p.host.log(),
        ch.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_becomes_one_row_with_its_metadata_in_large_inserts() {
    let ch = ClickHouse::start();
    // The whole backlog fits the window, so batches are bounded by `batch_size` alone.
    let danube = danube(200_000).await;
    let real = real_broker(&danube);
    let n: u64 = if real { 2_000 } else { 100_000 };
    let extra = format!(
        "create_table = \"{DDL}\"\n\n[config.metadata]\ntopic = \"_topic\"\noffset = \"_offset\"\n\
         publish_time = \"_published\"\nproducer = \"_producer\"\nkey = \"_key\"\n\n\
         [config.metadata.attributes]\ntrace = \"trace_id\"\n"
    );
    let p = Pipeline::start_on(
        danube,
        "ch-rows",
        "sink_clickhouse",
        &config(
            &ch,
            "batch_size = 10000\nlinger_ms = 50\nbatch_timeout_ms = 5000",
            &extra,
        ),
    )
    .await;
    let lanes = producers(&p, 4).await;
    if real {
        publish(&lanes, 0..n, Some(&ch)).await;
    } else {
        // Paused while the backlog builds, so batches fill up to `batch_size` after resume
        // however fast the publishers are.
        assert_eq!(p.host.control("ch-rows", "pause").await.state(), "paused");
        publish(&lanes, 0..n, None).await;
        assert_eq!(count(&ch).await, 0, "inserted while paused");
        assert_eq!(p.host.control("ch-rows", "resume").await.state(), "running");
    }
    wait_for_all(&ch, &p, n, Duration::from_secs(180)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Exactly once, every value where it belongs.
    assert_eq!(count(&ch).await, n, "duplicates in the table");
    let checks = [
        ("sum(id)", n * (n - 1) / 2),
        ("uniqExact(_offset)", n),
        ("countIf(_topic != '__TOPIC__')", 0),
        ("countIf(device != concat('d-', toString(id % 16)))", 0),
        ("countIf(value != id * 0.5)", 0),
        ("countIf(_key != device)", 0),
        ("countIf(trace_id != concat('t-', toString(id)))", 0),
        ("countIf(_producer = '')", 0),
        // Published within the last ten minutes, in seconds.
        (
            "countIf(_published < now() - 600 OR _published > now() + 60)",
            0,
        ),
    ];
    for (expr, want) in checks {
        let expr = expr.replace("__TOPIC__", &p.topic);
        let got = ch
            .number(&format!("SELECT {expr} FROM default.events"))
            .await;
        assert_eq!(got, want, "{expr}");
    }

    // Large and few: the inserts ClickHouse logged, against what the connector counted.
    let (inserts, written) = ch.inserts_into(TABLE).await;
    assert_eq!(written, n);
    // 100,000 rows in batches of 10,000: ten inserts, a few more if a batch closed early.
    let most = if real { n / 5 } else { 20 };
    assert!(
        (1..=most).contains(&inserts),
        "{inserts} inserts for {n} rows"
    );
    let metrics = p.host.metrics().await;
    assert_eq!(
        metric_sum(
            &metrics,
            "danube_connector_guest_clickhouse_insert_requests",
            &[("outcome", "ok")]
        ),
        inserts as f64
    );
    assert_eq!(
        metric_sum(
            &metrics,
            "danube_connector_guest_clickhouse_rows_inserted",
            &[]
        ),
        n as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_reach_the_dead_letter_topic_and_the_rest_is_inserted() {
    let ch = ClickHouse::start();
    ch.exec("CREATE TABLE default.events (id UInt64, device String, value Float64) ENGINE = MergeTree ORDER BY id")
        .await;
    let danube = danube(20_000).await;
    let extra = "user = \"${CH_USER}\"\npassword = \"${CH_PASSWORD}\"\ncompression = \"gzip\"\n";
    let mut spec = HostSpec::sink(
        "ch-bad",
        paths::component("sink_clickhouse"),
        &unique_topic("ch-bad"),
        &config(&ch, "batch_size = 1000\nlinger_ms = 100", extra),
    );
    spec.env = vec![
        ("CH_USER".into(), WRITER.0.into()),
        ("CH_PASSWORD".into(), WRITER.1.into()),
    ];
    let p = Pipeline::launch(danube, spec, &[]).await;
    let (_dlq_producer, mut dlq, mut dlq_rx) = p.dead_letters().await;

    // ClickHouse refuses a string id (Code 27), a bad float (Code 27) and an unknown field
    // (Code 117); the connector itself refuses a payload that is not JSON.
    let bad: HashMap<u64, (&str, &str)> = HashMap::from([
        (
            17,
            (r#"{"id":"seventeen","device":"d","value":1}"#, "Code: 27"),
        ),
        (
            250,
            (r#"{"id":250,"device":"d","value":"lots"}"#, "Code: 27"),
        ),
        (
            251,
            (
                r#"{"id":251,"device":"d","value":1,"colour":"red"}"#,
                "Code: 117",
            ),
        ),
        (600, ("id=600", "not valid JSON")),
    ]);
    let n = 1_000u64;
    let real = real_broker(&p.danube);
    for i in 0..n {
        if real && i % 20 == 0 {
            // Dead-lettered rows never reach the table: allow for them.
            wait_until_within(&ch, i, 100 + bad.len() as u64).await;
        }
        let payload = match bad.get(&i) {
            Some((text, _)) => text.as_bytes().to_vec(),
            None => event(i),
        };
        let attrs = HashMap::from([("seq".to_owned(), i.to_string())]);
        p.producer
            .send(payload, Some(attrs))
            .await
            .expect("publish");
    }
    let good = n - bad.len() as u64;
    wait_for_all(&ch, &p, good, Duration::from_secs(60)).await;
    let dead = drain(&mut dlq, &mut dlq_rx, bad.len(), Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(count(&ch).await, good);
    let ids: BTreeSet<u64> = ch
        .exec("SELECT id FROM default.events ORDER BY id FORMAT TSV")
        .await
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    let want: BTreeSet<u64> = (0..n).filter(|i| !bad.contains_key(i)).collect();
    assert_eq!(ids, want);

    assert_eq!(dead.len(), bad.len(), "dead letters: {}", dead.len());
    for m in &dead {
        let seq: u64 = m.attributes["seq"].parse().expect("seq attribute");
        let (payload, why) = bad[&seq];
        assert_eq!(m.payload, payload.as_bytes(), "message {seq}");
        let reason = &m.attributes["dlq.error"];
        assert!(reason.contains(why), "message {seq}: {reason}");
    }
    let metrics = p.host.metrics().await;
    assert_eq!(
        metric_sum(
            &metrics,
            "danube_connector_guest_clickhouse_rows_refused",
            &[]
        ),
        bad.len() as f64
    );
    assert!(
        metric_sum(
            &metrics,
            "danube_connector_guest_clickhouse_insert_requests",
            &[("outcome", "rejected")]
        ) >= 3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_outage_mid_stream_loses_nothing() {
    let mut ch = ClickHouse::start();
    ch.exec(DDL).await;
    let danube = danube(20_000).await;
    let real = real_broker(&danube);
    let n: u64 = if real { 2_000 } else { 20_000 };
    let p = Pipeline::start_on(
        danube,
        "ch-outage",
        "sink_clickhouse",
        &config(
            &ch,
            "batch_size = 1000\nlinger_ms = 20\nmax_retries = 1000\nmax_backoff_ms = 500",
            "",
        ),
    )
    .await;
    let lanes = producers(&p, 2).await;
    publish(&lanes, 0..n / 4, real.then_some(&ch)).await;
    wait_for_all(&ch, &p, n / 4, Duration::from_secs(60)).await;

    // Down while the rest is published; the host keeps retrying the batch it holds.
    ch.stop();
    let outage = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        ch.restart();
    };
    if real {
        // A real broker must not fall far behind: a few rows during the outage, the rest after.
        let held = n / 4 + 50;
        publish(&lanes[..1], n / 4..held, None).await;
        outage.await;
        publish(&lanes, held..n, Some(&ch)).await;
    } else {
        tokio::join!(publish(&lanes, n / 4..n, None), outage);
    }
    wait_for_all(&ch, &p, n, Duration::from_secs(120)).await;

    let metrics = p.host.metrics().await;
    let retries = metric_sum(&metrics, "danube_connector_retries_total", &[]);
    assert!(retries > 0.0, "no retries counted:\n{metrics}");
    assert_eq!(
        metric_sum(&metrics, "danube_connector_dead_lettered_total", &[]),
        0.0
    );
    // A batch written just before the kill but not answered is written again.
    let total = count(&ch).await;
    assert!(total >= n && total <= n + 1_000, "{total} rows for {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_host_mid_stream_loses_no_row() {
    let ch = ClickHouse::start();
    ch.exec(DDL).await;
    let danube = danube(20_000).await;
    let real = real_broker(&danube);
    let n: u64 = if real { 2_000 } else { 20_000 };
    let mut p = Pipeline::start_on(
        danube,
        "ch-kill",
        "sink_clickhouse",
        &config(&ch, "batch_size = 1000\nlinger_ms = 20", ""),
    )
    .await;
    let lanes = producers(&p, 2).await;
    publish(&lanes, 0..n / 2, real.then_some(&ch)).await;
    let halfway = eventually(Duration::from_secs(60), async || {
        (count(&ch).await >= n / 4).then_some(())
    })
    .await;
    assert!(halfway.is_some(), "nothing arrived:\n{}", p.host.log());
    p.host.kill9().await;
    let before = count(&ch).await;
    assert!(before < n, "everything arrived before the kill");
    p.host = p.host.restart();
    assert!(
        p.host.wait_ready(Duration::from_secs(30)).await,
        "host not ready after restart:\n{}",
        p.host.log()
    );
    publish(&lanes, n / 2..n, real.then_some(&ch)).await;
    wait_for_all(&ch, &p, n, Duration::from_secs(120)).await;
    // Rows the killed host had written but whose acknowledgements had not reached the broker
    // come again: at most what was published before the kill.
    let total = count(&ch).await;
    assert!(total >= n && total <= n + n / 2, "{total} rows for {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_without_ddl_stops_the_connector_naming_it() {
    let ch = ClickHouse::start();
    let danube = Danube::start().await;
    let topic = unique_topic("ch-missing");
    let _producer = danube.producer(&topic).await;
    let spec = HostSpec::sink(
        "ch-missing",
        paths::component("sink_clickhouse"),
        &topic,
        &config(&ch, "", ""),
    );
    let mut host = HostProcess::start_with_args(spec, danube.url(), &[]);
    let status = host.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(78), "{}", host.log());
    let log = host.log();
    assert!(
        log.contains("table `default`.`events` does not exist"),
        "{log}"
    );
}
