//! The MQTT source end to end: devices publish to a real Mosquitto, the host runs
//! `source_mqtt.wasm`, and the records land on the mapped Danube topics. An MQTT message is
//! acknowledged only after Danube persisted it: killing the host loses nothing.

use danube_client::Consumer;
use danube_connect_tests::harness::danube::drain;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::mosquitto::{Mosquitto, MosquittoOptions};
use danube_connect_tests::harness::mqtt_client::{Device, Properties, QoS};
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, eventually, paths, unique_topic,
};
use danube_core::message::StreamMessage;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// A connector file's `[capabilities.mqtt]` and `[config]` for `url`; `rest` adds keys to
/// `[config]` and the mappings.
fn gateway(name: &str, base: &str, allowed: &str, config: &str) -> HostSpec {
    HostSpec::source(
        name,
        paths::component("source_mqtt"),
        &format!("{base}-unmapped"),
        "producers_per_topic = 2",
        &format!("[capabilities.mqtt]\nallowed_brokers = [\"{allowed}\"]\n\n[config]\n{config}\n"),
    )
}

fn attr<'a>(m: &'a StreamMessage, name: &str) -> Option<&'a str> {
    m.attributes.get(name).map(String::as_str)
}

struct Reader {
    consumer: Consumer,
    rx: mpsc::Receiver<StreamMessage>,
    _creator: danube_client::Producer,
}

/// Create the topic and subscribe before anything is published to it.
async fn reader(danube: &Danube, topic: &str) -> Reader {
    let creator = danube.producer(topic).await;
    let (consumer, rx) = danube.subscribe(topic, "reader").await;
    Reader {
        consumer,
        rx,
        _creator: creator,
    }
}

impl Reader {
    async fn take(&mut self, n: usize) -> Vec<StreamMessage> {
        drain(&mut self.consumer, &mut self.rx, n, Duration::from_secs(30)).await
    }

    /// Whatever arrives within `wait`, up to `n`.
    async fn take_for(&mut self, n: usize, wait: Duration) -> Vec<StreamMessage> {
        drain(&mut self.consumer, &mut self.rx, n, wait).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_levels_topics_keys_attributes_and_bytes() {
    let mosquitto = Mosquitto::start();
    let danube = Danube::start().await;
    let base = unique_topic("mqtt");
    let config = format!(
        "url = \"{url}\"\nclient_id = \"gw-attrs\"\nprotocol = \"v5\"\n\n\
         [[config.mappings]]\nfilter = \"t/+/temp\"\ntopic = \"{base}-temp-{{2}}\"\nqos = 1\nkey = {{ topic_level = 2 }}\n\n\
         [[config.mappings]]\nfilter = \"t/bin/#\"\ntopic = \"{base}-bin\"\nqos = 2\n\n\
         [[config.mappings]]\nfilter = \"t/q0/+\"\ntopic = \"{base}-q0\"\nqos = 0\nkey = {{ json_field = \"id\" }}\nvalidate_json = true\n",
        url = mosquitto.url()
    );
    let mut dev1 = reader(&danube, &format!("{base}-temp-dev1")).await;
    let mut dev2 = reader(&danube, &format!("{base}-temp-dev2")).await;
    let mut bin = reader(&danube, &format!("{base}-bin")).await;
    let mut q0 = reader(&danube, &format!("{base}-q0")).await;
    let mut dlq = reader(&danube, &format!("{base}-q0-dlq")).await;
    let mut host = HostProcess::start(
        gateway("gw-attrs", &base, "mqtt://127.0.0.1:*", &config),
        danube.url(),
    );
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );

    let device = Device::connect(&mosquitto.url(), "device-attrs", true).await;
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    device.publish("t/dev1/temp", QoS::AtLeastOnce, "a1").await;
    device.publish("t/dev2/temp", QoS::AtLeastOnce, "b1").await;
    device.publish("t/dev1/temp", QoS::AtLeastOnce, "a2").await;
    device
        .publish("t/bin/raw", QoS::ExactlyOnce, binary.clone())
        .await;
    let props = Properties {
        user: vec![("site".into(), "north".into())],
        content_type: Some("application/json".into()),
        correlation_data: Some(vec![0xca, 0xfe]),
    };
    device
        .publish_with("t/q0/a", QoS::AtMostOnce, r#"{"id":"abc","v":1}"#, props)
        .await;
    device.publish("t/q0/b", QoS::AtMostOnce, "not json").await;

    let from_dev1 = dev1.take(2).await;
    let payloads: Vec<&[u8]> = from_dev1.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, [b"a1", b"a2"], "per-key order:\n{}", host.log());
    let m = &from_dev1[0];
    assert_eq!(m.routing_key.as_deref(), Some("dev1"));
    assert_eq!(attr(m, "mqtt.topic"), Some("t/dev1/temp"));
    assert_eq!(attr(m, "mqtt.qos"), Some("1"));
    assert_eq!(attr(m, "mqtt.retain"), Some("false"));
    assert_eq!(attr(m, "mqtt.dup"), Some("false"));
    let from_dev2 = dev2.take(1).await;
    assert_eq!(from_dev2.len(), 1);
    assert_eq!(from_dev2[0].routing_key.as_deref(), Some("dev2"));

    let raw = bin.take(1).await;
    assert_eq!(raw.len(), 1, "{}", host.log());
    assert_eq!(
        raw[0].payload.to_vec(),
        binary,
        "binary payload byte for byte"
    );
    assert_eq!(attr(&raw[0], "mqtt.qos"), Some("2"));
    assert_eq!(raw[0].routing_key, None);

    let json = q0.take(1).await;
    assert_eq!(json.len(), 1, "{}", host.log());
    let m = &json[0];
    assert_eq!(m.routing_key.as_deref(), Some("abc"));
    assert_eq!(attr(m, "mqtt.qos"), Some("0"));
    assert_eq!(attr(m, "site"), Some("north"), "MQTT 5 user property");
    assert_eq!(attr(m, "mqtt.content_type"), Some("application/json"));
    assert_eq!(attr(m, "mqtt.correlation_data"), Some("cafe"));

    let bad = dlq.take(1).await;
    assert_eq!(bad.len(), 1, "{}", host.log());
    assert_eq!(&bad[0].payload[..], b"not json");
    let reason = attr(&bad[0], "dlq.error").unwrap_or_default();
    assert!(reason.contains("not valid JSON"), "{reason}");
    assert_eq!(
        attr(&bad[0], "dlq.destination_topic"),
        Some(&*format!("{base}-q0"))
    );
}

/// Numbers `from..to` published by one device on `k/d<i % 10>`, QoS 1.
async fn publish_numbers(device: &Device, from: u64, to: u64) {
    for i in from..to {
        device
            .publish(&format!("k/d{}", i % 10), QoS::AtLeastOnce, i.to_string())
            .await;
    }
}

/// Publish `from..to` in steps of `STEP`, letting the reader catch up after each step: a real
/// broker's new subscription stops delivering once it falls ~256 messages behind (DESIGN §10).
async fn publish_paced(
    device: &Device,
    reader: &mut Reader,
    seen: &mut BTreeMap<u64, u32>,
    from: u64,
    to: u64,
) {
    const STEP: u64 = 50;
    let mut at = from;
    while at < to {
        let next = (at + STEP).min(to);
        publish_numbers(device, at, next).await;
        collect(
            reader,
            seen,
            next.saturating_sub(STEP),
            Duration::from_secs(30),
        )
        .await;
        at = next;
    }
}

/// Count what arrived per number until every one of 0..n did, or `timeout`.
async fn collect(reader: &mut Reader, seen: &mut BTreeMap<u64, u32>, n: u64, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while (seen.len() as u64) < n && tokio::time::Instant::now() < deadline {
        for m in reader.take_for(500, Duration::from_millis(500)).await {
            if let Some(i) = std::str::from_utf8(&m.payload)
                .ok()
                .and_then(|s| s.parse().ok())
            {
                *seen.entry(i).or_default() += 1;
            }
        }
    }
}

/// Mosquitto confirmed all `0..n` to the device and every one reached Danube.
async fn all_arrive(
    device: &Device,
    out: &mut Reader,
    seen: &mut BTreeMap<u64, u32>,
    n: u64,
    arrived_before: usize,
    logs: &str,
) {
    assert!(
        device.wait_confirmed(n, Duration::from_secs(30)).await,
        "Mosquitto confirmed only {} of {n}",
        device.confirmed()
    );
    collect(out, seen, n, Duration::from_secs(90)).await;
    let missing: Vec<u64> = (0..n).filter(|i| !seen.contains_key(i)).take(20).collect();
    assert!(
        missing.is_empty(),
        "{} of {n} arrived ({arrived_before} before the kill); first missing {missing:?}\n{logs}",
        seen.len(),
    );
}

fn numbered(name: &str, base: &str, url: &str) -> HostSpec {
    let config = format!(
        "url = \"{url}\"\nclient_id = \"{name}\"\n\n\
         [[config.mappings]]\nfilter = \"k/#\"\ntopic = \"{base}\"\nqos = 1\nkey = {{ topic_level = 2 }}\n"
    );
    gateway(name, base, "mqtt://127.0.0.1:*", &config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing() {
    const N: u64 = 3000;
    let mosquitto = Mosquitto::start_with(MosquittoOptions {
        max_inflight: 100,
        ..Default::default()
    });
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-kill");
    let mut out = reader(&danube, &base).await;
    let mut host = HostProcess::start(numbered("gw-kill", &base, &mosquitto.url()), danube.url());
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let device = Device::connect(&mosquitto.url(), "device-kill", false).await;
    let mut seen = BTreeMap::new();
    publish_paced(&device, &mut out, &mut seen, 0, N / 3).await;
    assert!(seen.len() as u64 >= N / 3 - 50, "{}", host.log());
    // Killed with records in flight; the device goes on publishing while the host is down.
    publish_numbers(&device, N / 3, N / 3 + 150).await;
    collect(&mut out, &mut seen, N / 3 + 20, Duration::from_secs(30)).await;
    host.kill9().await;
    let arrived_before = seen.len();
    publish_numbers(&device, N / 3 + 150, N / 3 + 200).await;
    let mut host = host.restart();
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    publish_paced(&device, &mut out, &mut seen, N / 3 + 200, N).await;
    all_arrive(&device, &mut out, &mut seen, N, arrived_before, &host.log()).await;
    let duplicates: u32 = seen.values().map(|c| c - 1).sum();
    eprintln!("{N} of {N} arrived, {duplicates} duplicates after kill -9 at {arrived_before}");
}

/// Gateway `i` of a shared subscription group: its own client id (its own persistent
/// session), the same filters, the same Danube topic.
fn shared_member(i: usize, base: &str, url: &str) -> HostSpec {
    let name = format!("gw-share-{i}");
    let config = format!(
        "url = \"{url}\"\nclient_id = \"{name}\"\nprotocol = \"v5\"\nsession_expiry_secs = 3600\n\
         shared_group = \"ingest\"\n\n\
         [[config.mappings]]\nfilter = \"k/#\"\ntopic = \"{base}\"\nqos = 1\nkey = {{ topic_level = 2 }}\n"
    );
    gateway(&name, base, "mqtt://127.0.0.1:*", &config)
}

async fn processed(host: &HostProcess) -> f64 {
    metric_sum(
        &host.metrics().await,
        "danube_connector_messages_processed_total",
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_subscription_gateways_split_the_load_and_survive_kill_9() {
    const N: u64 = 3000;
    let mosquitto = Mosquitto::start_with(MosquittoOptions {
        max_inflight: 100,
        ..Default::default()
    });
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-share");
    let mut out = reader(&danube, &base).await;
    let mut hosts = Vec::new();
    for i in 0..2 {
        let mut host = HostProcess::start(shared_member(i, &base, &mosquitto.url()), danube.url());
        assert!(
            host.wait_ready(Duration::from_secs(30)).await,
            "{}",
            host.log()
        );
        hosts.push(host);
    }
    let device = Device::connect(&mosquitto.url(), "device-share", false).await;
    let mut seen = BTreeMap::new();
    publish_paced(&device, &mut out, &mut seen, 0, N / 3).await;
    let shares = [processed(&hosts[0]).await, processed(&hosts[1]).await];
    assert!(
        shares.iter().all(|&s| s >= (N / 3 / 4) as f64),
        "the group split {} messages as {shares:?}",
        N / 3
    );

    // Killed with messages in flight; the device goes on publishing while it is down.
    publish_numbers(&device, N / 3, N / 3 + 150).await;
    collect(&mut out, &mut seen, N / 3 + 20, Duration::from_secs(30)).await;
    hosts[0].kill9().await;
    let arrived_before = seen.len();
    publish_numbers(&device, N / 3 + 150, N / 3 + 400).await;
    collect(&mut out, &mut seen, N / 3 + 400, Duration::from_secs(10)).await;
    let while_down = seen.len() - arrived_before;
    let survivor_before = processed(&hosts[1]).await;
    let killed = hosts.remove(0);
    let mut restarted = killed.restart();
    assert!(
        restarted.wait_ready(Duration::from_secs(30)).await,
        "{}",
        restarted.log()
    );
    publish_paced(&device, &mut out, &mut seen, N / 3 + 400, N).await;
    let logs = format!("{}\n{}", restarted.log(), hosts[0].log());
    all_arrive(&device, &mut out, &mut seen, N, arrived_before, &logs).await;
    assert!(
        processed(&restarted).await > 0.0,
        "the restarted gateway rejoined the group"
    );
    let duplicates: u32 = seen.values().map(|c| c - 1).sum();
    eprintln!(
        "{N} of {N} arrived, {duplicates} duplicates; {while_down} arrived while one gateway was \
         down (survivor had {survivor_before} processed)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_while_danube_refuses() {
    const N: u64 = 300;
    let danube = Danube::start().await;
    let Some(broker) = danube.test_broker() else {
        eprintln!("skipped: a real broker cannot be told to refuse publishes");
        return;
    };
    let mosquitto = Mosquitto::start();
    let base = unique_topic("mqtt-refused");
    let mut out = reader(&danube, &base).await;
    let mut host = HostProcess::start(
        numbered("gw-refused", &base, &mosquitto.url()),
        danube.url(),
    );
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    broker.set_refuse_publishes(true);
    let device = Device::connect(&mosquitto.url(), "device-refused", false).await;
    publish_numbers(&device, 0, N).await;
    let retried = eventually(Duration::from_secs(30), async || {
        let m = host.metrics().await;
        (metric_sum(&m, "danube_connector_retries_total", &[]) >= 3.0).then_some(())
    })
    .await;
    assert!(retried.is_some(), "no publish retries:\n{}", host.log());
    assert_eq!(broker.messages_in(&base), 0);
    // Had anything been acknowledged to MQTT early, this kill would lose it.
    host.kill9().await;
    broker.set_refuse_publishes(false);
    let mut host = host.restart();
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let mut seen = BTreeMap::new();
    collect(&mut out, &mut seen, N, Duration::from_secs(60)).await;
    let missing: Vec<u64> = (0..N).filter(|i| !seen.contains_key(i)).take(20).collect();
    assert!(
        missing.is_empty(),
        "first missing {missing:?}\n{}",
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outside_the_grant_is_refused() {
    let mosquitto = Mosquitto::start();
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-denied");
    let config = format!(
        "url = \"{}\"\nclient_id = \"gw-denied\"\n\n[[config.mappings]]\nfilter = \"#\"\ntopic = \"{base}\"\n",
        mosquitto.url()
    );
    let mut host = HostProcess::start(
        gateway("gw-denied", &base, "mqtt://10.0.0.1:1883", &config),
        danube.url(),
    );
    let status = host.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(78), "{}", host.log());
    let log = host.log();
    assert!(log.contains("allowed_brokers"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_give_a_clear_error() {
    let mosquitto = Mosquitto::start_with(MosquittoOptions {
        credentials: Some(("gateway".into(), "s3cret".into())),
        ..Default::default()
    });
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-auth");
    let config = format!(
        "url = \"{}\"\nclient_id = \"gw-auth\"\nusername = \"gateway\"\npassword = \"${{MQTT_PASSWORD}}\"\n\n\
         [[config.mappings]]\nfilter = \"#\"\ntopic = \"{base}\"\n",
        mosquitto.url()
    );
    let mut spec = gateway("gw-auth", &base, "mqtt://127.0.0.1:*", &config);
    spec.env.push(("MQTT_PASSWORD".into(), "wrong".into()));
    let mut host = HostProcess::start(spec.clone(), danube.url());
    let status = host.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(78), "{}", host.log());
    let log = host.log();
    assert!(
        log.contains("bad user name or password") || log.contains("not authorized"),
        "{log}"
    );

    spec.env = vec![("MQTT_PASSWORD".into(), "s3cret".into())];
    let mut host = HostProcess::start(spec, danube.url());
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
}
