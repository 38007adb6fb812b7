//! The Kafka bridge end to end: a real Kafka-API broker (tansu) started by the harness, the
//! host running `bridge_kafka.wasm` as a source (Kafka → Danube), as a sink (Danube → Kafka),
//! or both at once. Offsets are committed only after Danube persisted; Danube messages are
//! acked only after Kafka acknowledged.
#![cfg(feature = "kafka")]

use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::kafka::{Read, Tansu};
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, eventually, paths, unique_topic,
};
use danube_core::message::StreamMessage;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

const PARTITIONS: i32 = 3;

/// `[capabilities.kafka]` granting loopback, and `[config]` with the broker and `config`.
fn grant_and_config(tansu: &Tansu, config: &str) -> String {
    format!(
        "[capabilities.kafka]\nallowed_brokers = [\"127.0.0.1:*\"]\n\n[config]\n\
         brokers = \"{}\"\n{config}\n",
        tansu.bootstrap()
    )
}

/// The import: Kafka `topic` in group `group` into Danube topic `to`.
fn import(name: &str, tansu: &Tansu, topic: &str, group: &str, to: &str) -> HostSpec {
    HostSpec::source(
        name,
        paths::component("bridge_kafka"),
        to,
        "producers_per_topic = 1",
        &grant_and_config(
            tansu,
            &format!(
                "group_id = \"{group}\"\ntopics = \"{topic}\"\n\
                 routes = [{{ match = \"^{topic}$\", to = \"{to}\" }}]\n"
            ),
        ),
    )
}

/// The export: Danube topic `from` into Kafka topic `to`; bad records to `<from>-dlq`.
fn export(name: &str, tansu: &Tansu, from: &str, to: &str, config: &str) -> HostSpec {
    HostSpec::sink(
        name,
        paths::component("bridge_kafka"),
        from,
        &grant_and_config(
            tansu,
            &format!("routes = [{{ to = \"{to}\" }}]\ndelivery_timeout_ms = 5000\n{config}"),
        ),
    )
}

fn attr<'a>(m: &'a StreamMessage, name: &str) -> Option<&'a str> {
    m.attributes.get(name).map(String::as_str)
}

/// `(partition, offset)` of an imported message.
fn origin(m: &StreamMessage) -> (i32, i64) {
    let partition = attr(m, "kafka.partition").and_then(|p| p.parse().ok());
    let offset = attr(m, "kafka.offset").and_then(|o| o.parse().ok());
    (
        partition.expect("kafka.partition"),
        offset.expect("kafka.offset"),
    )
}

async fn ready(host: &mut HostProcess) {
    assert!(
        host.wait_ready(Duration::from_secs(60)).await,
        "{}",
        host.log()
    );
}

/// `n` keyed records (`k<i % 40>`, a text and a binary header), spread by key over the
/// topic's partitions.
async fn produce_keyed(tansu: &Tansu, topic: &str, range: std::ops::Range<u32>) {
    let producer = tansu.producer();
    let records: Vec<(Vec<u8>, Vec<u8>)> = range
        .map(|i| {
            (
                format!("k{}", i % 40).into_bytes(),
                format!("{{\"n\":{i}}}").into_bytes(),
            )
        })
        .collect();
    let sends = records.iter().map(|(key, payload)| {
        Tansu::send(
            &producer,
            topic,
            None,
            Some(key),
            &[("source", b"test"), ("trace-bin", &[0xff, 0x00, 0x7f])],
            payload,
        )
    });
    futures::future::join_all(sends).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_keeps_keys_headers_and_partition_order() {
    let tansu = Tansu::start();
    let topic = "orders.v1";
    tansu.create_topic(topic, PARTITIONS).await;
    const N: usize = 10_000;
    produce_keyed(&tansu, topic, 0..N as u32).await;

    let danube = Danube::start().await;
    let to = unique_topic("kafka-in");
    let mut out = danube.reader(&to).await;
    let mut spec = import("kin", &tansu, topic, "g-import", &to);
    spec.extra.push_str("lag_interval_ms = 200\n");
    let mut host = HostProcess::start(spec, danube.url());
    ready(&mut host).await;

    let got = out.take(N, Duration::from_secs(180)).await;
    assert_eq!(got.len(), N, "{}", host.log());
    let mut last: HashMap<i32, i64> = HashMap::new();
    let mut partition_of_key: HashMap<String, i32> = HashMap::new();
    for m in &got {
        let (partition, offset) = origin(m);
        // Per-partition order: offsets only grow, one by one.
        let expected = last.get(&partition).map_or(0, |o| o + 1);
        assert_eq!(offset, expected, "partition {partition} out of order");
        last.insert(partition, offset);
        let key = m.routing_key.clone().expect("the Kafka key");
        let n: u64 = serde_json::from_slice::<serde_json::Value>(&m.payload).expect("json")["n"]
            .as_u64()
            .expect("n");
        assert_eq!(key, format!("k{}", n % 40));
        assert_eq!(
            *partition_of_key.entry(key).or_insert(partition),
            partition,
            "one key, one partition"
        );
        assert_eq!(attr(m, "source"), Some("test"));
        assert_eq!(
            attr(m, "trace-bin"),
            Some("base64:/wB/"),
            "binary-safe header"
        );
        assert_eq!(attr(m, "kafka.topic"), Some(topic));
        assert!(attr(m, "kafka.timestamp").is_some());
        assert_eq!(attr(m, "danube.bridge.origin"), Some("kafka"));
    }
    assert_eq!(last.len(), PARTITIONS as usize, "every partition was read");

    // Offsets are committed once Danube persisted: the group ends at each partition's end.
    let ends: Vec<i64> = (0..PARTITIONS).map(|p| last[&p] + 1).collect();
    let committed = eventually(Duration::from_secs(30), async || {
        let c = tansu.committed("g-import", topic, PARTITIONS).await;
        (c == ends).then_some(c)
    })
    .await;
    assert!(
        committed.is_some(),
        "committed offsets never reached {ends:?}"
    );

    // Per direction and per partition, in the host's metrics.
    let metrics = host.metrics().await;
    let imported = metric_sum(
        &metrics,
        "danube_connector_guest_kafka_records_total",
        &[("direction", "import")],
    );
    assert_eq!(imported as usize, N, "{metrics}");
    let caught_up = eventually(Duration::from_secs(30), async || {
        let metrics = host.metrics().await;
        let partitions = (0..PARTITIONS)
            .filter(|p| {
                metrics.lines().any(|l| {
                    l.starts_with("danube_connector_guest_kafka_consumer_lag{")
                        && l.contains(&format!("partition=\"{p}\""))
                        && l.ends_with(" 0")
                })
            })
            .count();
        (partitions == PARTITIONS as usize).then_some(())
    })
    .await;
    assert!(caught_up.is_some(), "{}", host.metrics().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_killed_mid_stream_loses_nothing_and_never_commits_ahead() {
    let tansu = Tansu::start();
    let topic = "payments";
    tansu.create_topic(topic, PARTITIONS).await;
    const N: usize = 6_000;
    produce_keyed(&tansu, topic, 0..N as u32).await;

    let danube = Danube::start().await;
    let to = unique_topic("kafka-kill");
    let mut out = danube.reader(&to).await;
    let mut spec = import("kkill", &tansu, topic, "g-kill", &to);
    // The killed member's partitions go to the restarted one once the group gave up on it.
    spec.extra.push_str(
        "properties = { \"session.timeout.ms\" = 6000, \"max.poll.interval.ms\" = 15000 }\n",
    );
    let mut host = HostProcess::start(spec, danube.url());
    ready(&mut host).await;

    let mut seen: BTreeSet<(i32, i64)> = BTreeSet::new();
    for m in out.take(N / 4, Duration::from_secs(60)).await {
        seen.insert(origin(&m));
    }
    assert!(!seen.is_empty(), "{}", host.log());
    host.kill9().await;
    // What Danube persisted before the kill reaches the reader within moments.
    for m in out.take(N, Duration::from_secs(3)).await {
        seen.insert(origin(&m));
    }
    let committed = tansu.committed("g-kill", topic, PARTITIONS).await;
    for (p, &c) in committed.iter().enumerate() {
        for offset in 0..c.max(0) {
            assert!(
                seen.contains(&(p as i32, offset)),
                "partition {p}: offset {offset} committed (group at {c}) but never reached Danube"
            );
        }
    }
    assert!(
        seen.len() < N,
        "the kill came too late to prove anything: all {N} were through"
    );

    // Restart once the group gave up on the killed member (its session ran out): tansu's
    // coordinator hands no partitions to a member that joins while a dead leader is still
    // listed. A Kafka cluster rebalances either way.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let mut host = host.restart();
    ready(&mut host).await;
    let all = eventually(Duration::from_secs(180), async || {
        for m in out.take(N, Duration::from_millis(500)).await {
            seen.insert(origin(&m));
        }
        (seen.len() == N).then_some(())
    })
    .await;
    assert!(
        all.is_some(),
        "{} of {N} distinct records after the restart; per partition (count, highest): {:?}; \
         committed {:?}\n{}",
        seen.len(),
        (0..PARTITIONS)
            .map(|p| {
                let offsets: Vec<i64> = seen
                    .iter()
                    .filter(|(q, _)| *q == p)
                    .map(|(_, o)| *o)
                    .collect();
                (offsets.len(), offsets.last().copied())
            })
            .collect::<Vec<_>>(),
        committed,
        host.log(),
    );
}

/// Records a host imported, by its own metrics.
async fn imported(host: &HostProcess) -> f64 {
    metric_sum(
        &host.metrics().await,
        "danube_connector_guest_kafka_records_total",
        &[("direction", "import")],
    )
}

/// Two hosts with the same import file share the topic's partitions through the consumer
/// group; when one is killed, the group hands its partitions to the other, which reads what
/// the dead one had not committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_importers_split_the_partitions_and_the_survivor_takes_over() {
    let tansu = Tansu::start();
    let topic = "clicks";
    tansu.create_topic(topic, PARTITIONS).await;
    let danube = Danube::start().await;
    let to = unique_topic("kafka-spread");
    let mut out = danube.reader(&to).await;
    let member = |name: &str| {
        let mut spec = import(name, &tansu, topic, "g-spread", &to);
        spec.extra.push_str(
            "properties = { \"session.timeout.ms\" = 6000, \"max.poll.interval.ms\" = 15000 }\n",
        );
        spec
    };
    let mut hosts = Vec::new();
    for name in ["spread-a", "spread-b"] {
        let mut host = HostProcess::start(member(name), danube.url());
        ready(&mut host).await;
        hosts.push(host);
    }
    const N: usize = 3_000;
    let mut seen: BTreeSet<(i32, i64)> = BTreeSet::new();
    // Keep producing until both members imported some: the group settles on its own time.
    let mut produced: u32 = 0;
    let split = eventually(Duration::from_secs(60), async || {
        produce_keyed(&tansu, topic, produced..produced + 300).await;
        produced += 300;
        for m in out.take(usize::MAX, Duration::from_millis(500)).await {
            seen.insert(origin(&m));
        }
        let shares = [imported(&hosts[0]).await, imported(&hosts[1]).await];
        shares.iter().all(|&s| s > 0.0).then_some(shares)
    })
    .await;
    assert!(
        split.is_some(),
        "one member imported everything\n{}\n{}",
        hosts[0].log(),
        hosts[1].log()
    );
    hosts[0].kill9().await;
    let total = produced.max(N as u32);
    produce_keyed(&tansu, topic, produced..total).await;
    let total = total as usize;
    let all = eventually(Duration::from_secs(120), async || {
        for m in out.take(total, Duration::from_millis(500)).await {
            seen.insert(origin(&m));
        }
        (seen.len() == total).then_some(())
    })
    .await;
    assert!(
        all.is_some(),
        "{} of {total} distinct records after the kill (split {split:?})\n{}",
        seen.len(),
        hosts[1].log()
    );
    eprintln!("{total} of {total} arrived; imported per member before the kill: {split:?}");
}

/// Publish `{"n":i}` with key `k<i % 7>` and two attributes, one of them a marked binary value.
async fn publish_keyed(danube: &Danube, topic: &str, range: std::ops::Range<u32>) {
    let producer = danube.producer(topic).await;
    for i in range {
        let attrs = HashMap::from([
            ("tenant".to_string(), format!("t{}", i % 3)),
            ("blob".to_string(), "base64:AAEC".to_string()),
        ]);
        producer
            .send_with_key(
                format!("{{\"n\":{i}}}").into_bytes(),
                Some(attrs),
                &format!("k{}", i % 7),
            )
            .await
            .expect("publish");
    }
}

fn number(r: &Read) -> u64 {
    let payload = r.payload.as_deref().expect("a value");
    serde_json::from_slice::<serde_json::Value>(payload).expect("json")["n"]
        .as_u64()
        .expect("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_keeps_keys_and_headers_and_dead_letters_what_kafka_refuses() {
    let tansu = Tansu::start();
    let kafka_topic = "exported";
    tansu.create_topic(kafka_topic, PARTITIONS).await;
    let danube = Danube::start().await;
    let from = unique_topic("kafka-out");
    let _creator = danube.producer(&from).await;
    let dlq_topic = format!("{from}-dlq");
    let _dlq_creator = danube.producer(&dlq_topic).await;
    let (mut dlq_consumer, mut dlq) = danube.subscribe(&dlq_topic, "dlq-reader").await;
    let mut host = HostProcess::start(export("kout", &tansu, &from, kafka_topic, ""), danube.url());
    ready(&mut host).await;

    const N: u32 = 300;
    publish_keyed(&danube, &from, 0..N / 2).await;
    // librdkafka's default `message.max.bytes` is 1,000,000: this one can never be sent.
    let producer = danube.producer(&from).await;
    producer
        .send(vec![b'x'; 1_500_000], None)
        .await
        .expect("publish the oversized message");
    publish_keyed(&danube, &from, N / 2..N).await;

    let consumer = tansu.consumer(kafka_topic, "check-export");
    let got = Tansu::read(&consumer, N as usize, Duration::from_secs(60)).await;
    assert_eq!(got.len(), N as usize, "{}", host.log());
    let mut partition_of_key: HashMap<Vec<u8>, i32> = HashMap::new();
    let mut last_n: HashMap<Vec<u8>, u64> = HashMap::new();
    for r in &got {
        let n = number(r);
        let key = r.key.clone().expect("key");
        assert_eq!(key, format!("k{}", n % 7).into_bytes());
        assert_eq!(
            *partition_of_key.entry(key.clone()).or_insert(r.partition),
            r.partition
        );
        // Per key, in publish order.
        if let Some(prev) = last_n.insert(key, n) {
            assert!(prev < n, "key order broken: {prev} before {n}");
        }
        assert_eq!(r.header("tenant"), Some(format!("t{}", n % 3).as_bytes()));
        assert_eq!(
            r.header("blob"),
            Some(&[0u8, 1, 2][..]),
            "marked values are decoded"
        );
        assert_eq!(r.header("danube.bridge.origin"), Some(&b"danube"[..]));
    }

    let dead = tokio::time::timeout(Duration::from_secs(30), dlq.recv())
        .await
        .expect("a dead letter")
        .expect("dlq stream");
    let _ = dlq_consumer.ack(&dead).await;
    assert_eq!(dead.payload.len(), 1_500_000);
    let reason = attr(&dead, "dlq.error").unwrap_or_default();
    assert!(reason.contains("MessageSizeTooLarge"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_waits_out_a_kafka_outage_and_resumes_by_itself() {
    let tansu = Tansu::start();
    let kafka_topic = "outage";
    tansu.create_topic(kafka_topic, 1).await;
    let danube = Danube::start().await;
    let from = unique_topic("kafka-outage");
    let _creator = danube.producer(&from).await;
    // While Kafka is away a burst leaves the subscription far behind, and a real broker then
    // skips what it has not dispatched; the durable local buffer keeps taking messages at the
    // broker's pace, so none is skipped.
    let mut spec = export("koutage", &tansu, &from, kafka_topic, "");
    spec.extra = format!("[sink.buffer]\nkind = \"disk\"\n\n{}", spec.extra);
    let mut host = HostProcess::start(spec, danube.url());
    ready(&mut host).await;
    publish_keyed(&danube, &from, 0..50).await;
    let check = tansu.consumer(kafka_topic, "check-outage");
    assert_eq!(
        Tansu::read(&check, 50, Duration::from_secs(30)).await.len(),
        50,
        "{}",
        host.log()
    );

    // Kafka stops answering for longer than a record may take while producers burst, unpaced:
    // sends time out, the host retries with backoff and acknowledges nothing it could not
    // deliver, and the backlog in Danube drains once Kafka is back.
    const BURST: u32 = 1_000;
    tansu.pause();
    publish_keyed(&danube, &from, 50..50 + BURST).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(host.is_running(), "an outage is no reason to stop");
    tansu.resume();

    let mut numbers = BTreeSet::new();
    let done = eventually(Duration::from_secs(120), async || {
        for r in Tansu::read(&check, BURST as usize, Duration::from_millis(500)).await {
            numbers.insert(number(&r));
        }
        (50..50 + u64::from(BURST))
            .all(|n| numbers.contains(&n))
            .then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "after the outage only {} of {BURST} arrived\n{}",
        numbers.len(),
        host.log()
    );
    assert!(
        host.log().contains("MessageTimedOut"),
        "the outage was not noticed: {}",
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_on_the_same_names_never_loop() {
    let tansu = Tansu::start();
    let kafka_topic = "mirror";
    tansu.create_topic(kafka_topic, 1).await;
    let danube = Danube::start().await;
    let danube_topic = unique_topic("mirror");
    let mut in_danube = danube.reader(&danube_topic).await;
    let mut host = HostProcess::start_host_file(
        vec![
            import("in", &tansu, kafka_topic, "g-mirror", &danube_topic),
            export("out", &tansu, &danube_topic, kafka_topic, ""),
        ],
        danube.url(),
        "",
        &[],
    );
    ready(&mut host).await;

    produce_keyed(&tansu, kafka_topic, 0..20).await;
    publish_keyed(&danube, &danube_topic, 100..120).await;

    // Each side ends with its own 20 and the other side's 20, and nothing more comes.
    let in_kafka = tansu.consumer(kafka_topic, "check-mirror");
    let kafka_side = Tansu::read(&in_kafka, 40, Duration::from_secs(60)).await;
    let danube_side = in_danube.take(40, Duration::from_secs(60)).await;
    assert_eq!(kafka_side.len(), 40, "{}", host.log());
    assert_eq!(danube_side.len(), 40, "{}", host.log());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        Tansu::read(&in_kafka, 1, Duration::from_secs(2))
            .await
            .is_empty(),
        "a record came back to Kafka"
    );
    assert!(
        in_danube.take(1, Duration::from_secs(2)).await.is_empty(),
        "a message came back to Danube"
    );
    let kafka_numbers: BTreeMap<u64, usize> =
        kafka_side.iter().fold(BTreeMap::new(), |mut m, r| {
            *m.entry(number(r)).or_default() += 1;
            m
        });
    assert!(kafka_numbers.values().all(|c| *c == 1), "{kafka_numbers:?}");
}

/// `validate` (which opens the connector) for a bridge entry with `config` and `grant`.
fn validate(dir: &Path, role: &str, grant: &str, config: &str) -> Output {
    let role_table = match role {
        "source" => "[source]\ntopic = \"/default/x\"\n",
        _ => "[sink]\ntopics = [\"/default/x\"]\nsubscription = \"s\"\n",
    };
    let text = format!(
        "[connector]\nname = \"bad\"\n\n[danube]\nservice_url = \"http://127.0.0.1:1\"\n\n\
         {role_table}\n{grant}\n[config]\n{config}\n"
    );
    let path = dir.join(format!("{role}.toml"));
    std::fs::write(&path, text).expect("write config");
    std::process::Command::new(paths::host_bin())
        .arg("validate")
        .arg("--config")
        .arg(&path)
        .arg("--component")
        .arg(paths::component("bridge_kafka"))
        .output()
        .expect("run validate")
}

/// The error of a refused `validate`; `code` is its exit code: 78 for a configuration the
/// user must fix, 69 for a cluster that is not there (the host retries it when running).
fn refused_with(code: i32, out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
}

fn refused(out: &Output) -> String {
    refused_with(78, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused_with_a_named_error() {
    let tansu = Tansu::start();
    tansu.create_topic("present", 1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let grant = "[capabilities.kafka]\nallowed_brokers = [\"127.0.0.1:*\"]\n";
    let brokers = format!("brokers = \"{}\"", tansu.bootstrap());

    let e = refused(&validate(
        dir.path(),
        "source",
        grant,
        &format!("{brokers}\ngroup_id = \"g\"\ntopics = \"absent\""),
    ));
    assert!(e.contains("absent") && e.contains("does not exist"), "{e}");

    let e = refused(&validate(
        dir.path(),
        "source",
        grant,
        &format!("{brokers}\ngroup_id = \"g\"\ntopics = \"^bad[\""),
    ));
    assert!(
        e.contains("^bad[") && e.contains("regular expression"),
        "{e}"
    );

    let e = refused(&validate(
        dir.path(),
        "sink",
        grant,
        &format!("{brokers}\nroutes = [{{ match = \"(\", to = \"x\" }}]"),
    ));
    assert!(e.contains("routes[0].match"), "{e}");

    let e = refused_with(
        69,
        &validate(
            dir.path(),
            "sink",
            grant,
            "brokers = \"127.0.0.1:1\"\nconnect_timeout_ms = 2000",
        ),
    );
    assert!(e.contains("no broker answered"), "{e}");

    let e = refused(&validate(
        dir.path(),
        "sink",
        grant,
        "brokers = \"10.9.9.9:9092\"",
    ));
    assert!(
        e.contains("10.9.9.9:9092") && e.contains("allowed_brokers"),
        "{e}"
    );

    let e = refused(&validate(dir.path(), "sink", "", &brokers));
    assert!(e.contains("capabilities.kafka"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verified_with_the_grants_ca_and_refused_with_another() {
    let tansu = Tansu::start_with(true);
    let ca = tansu.certificates().expect("a TLS broker").ca.clone();
    tansu.create_topic("secure", 1).await;
    let danube = Danube::start().await;
    let from = unique_topic("kafka-tls");
    let _creator = danube.producer(&from).await;
    let grant = |ca: &Path| {
        format!(
            "[capabilities.kafka]\nallowed_brokers = [\"127.0.0.1:*\"]\ntls = \"verify-full\"\n\
             ca_file = \"{}\"\n",
            ca.display()
        )
    };
    let spec = HostSpec::sink(
        "ktls",
        paths::component("bridge_kafka"),
        &from,
        &format!(
            "{}\n[config]\nbrokers = \"{}\"\nroutes = [{{ to = \"secure\" }}]\n",
            grant(&ca),
            tansu.bootstrap()
        ),
    );
    let mut host = HostProcess::start(spec, danube.url());
    ready(&mut host).await;
    publish_keyed(&danube, &from, 0..20).await;
    let consumer = tansu.consumer("secure", "check-tls");
    let got = Tansu::read(&consumer, 20, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 20, "{}", host.log());

    // A CA that did not sign the broker's certificate: refused, and the log says why.
    let other = tempfile::tempdir().expect("tempdir");
    let other_ca = danube_connect_tests::harness::certificates::make(other.path()).ca;
    let e = refused(&validate(
        other.path(),
        "sink",
        &grant(&other_ca),
        &format!(
            "brokers = \"{}\"\nconnect_timeout_ms = 3000",
            tansu.bootstrap()
        ),
    ));
    assert!(e.contains("no broker answered"), "{e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}
