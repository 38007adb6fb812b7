//! The MQTT source with the host's embedded server (`[capabilities.mqtt.server]`): devices
//! publish straight to the host, no Mosquitto, and `source_mqtt.wasm` runs unchanged. A QoS 1
//! message is acknowledged to its device only after Danube persisted it, so killing the host
//! loses nothing: the devices reconnect and send again what was not acknowledged.

use danube_connect_tests::harness::danube::Reader;
use danube_connect_tests::harness::host_process::free_port;
use danube_connect_tests::harness::mqtt_client::{Device, DeviceOptions, QoS};
use danube_connect_tests::harness::{Danube, HostProcess, HostSpec, paths, unique_topic};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A gateway whose devices connect to it on `port`, as user `device` / `s3cret`; `k/<key>/…`
/// maps to `base`, keyed by `<key>`, and `j/…` to `base-json`, JSON only. The connector's
/// `url` is not used in server mode.
fn gateway(name: &str, port: u16, base: &str) -> HostSpec {
    let config = format!(
        "[capabilities.mqtt.server]\nbind = \"127.0.0.1:{port}\"\n\
         users = [{{ username = \"device\", password = \"s3cret\" }}]\n\n\
         [config]\nurl = \"mqtt://unused.invalid:1883\"\nclient_id = \"{name}\"\n\n\
         [[config.mappings]]\nfilter = \"k/#\"\ntopic = \"{base}\"\nqos = 1\nkey = {{ topic_level = 2 }}\n\n\
         [[config.mappings]]\nfilter = \"j/#\"\ntopic = \"{base}-json\"\nqos = 1\nvalidate_json = true\n"
    );
    HostSpec::source(
        name,
        paths::component("source_mqtt"),
        &format!("{base}-unmapped"),
        "producers_per_topic = 2",
        &config,
    )
}

fn device_options(v5: bool) -> DeviceOptions {
    DeviceOptions {
        v5,
        persistent: true,
        login: Some(("device".into(), "s3cret".into())),
        queue: 0,
    }
}

/// Every `{"d":<device>,"n":<i>}` record read so far, counted; filled in the background.
#[derive(Clone, Default)]
struct Tally(Arc<Mutex<BTreeMap<(u64, u64), u32>>>);

impl Tally {
    fn start(mut out: Reader) -> Self {
        let tally = Tally::default();
        let filling = tally.clone();
        tokio::spawn(async move {
            loop {
                for m in out.take(500, Duration::from_millis(100)).await {
                    let v: serde_json::Value =
                        serde_json::from_slice(&m.payload).expect("JSON payload");
                    let id = (
                        v["d"].as_u64().expect("device"),
                        v["n"].as_u64().expect("number"),
                    );
                    if let Ok(mut seen) = filling.0.lock() {
                        *seen.entry(id).or_insert(0) += 1;
                    }
                }
            }
        });
        tally
    }

    fn seen(&self) -> BTreeMap<(u64, u64), u32> {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn distinct(&self) -> u64 {
        self.0.lock().map(|s| s.len() as u64).unwrap_or_default()
    }

    /// Waits until `n` distinct records were read, or `wait` passed.
    async fn wait_for(&self, n: u64, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while self.distinct() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// How far devices may run ahead of the reader. A real broker stops dispatching to a
/// subscription that falls far behind its producers, so there the test keeps within 150; the
/// test broker has no such cliff, so there the devices publish as fast as they can (a burst).
fn ahead(danube: &Danube) -> u64 {
    if danube.test_broker().is_some() {
        u64::MAX / 2
    } else {
        150
    }
}

/// Device `d` publishes `{"d":d,"n":i}` for `from..to`, never more than `ahead` messages
/// (counted over all devices in `sent`) ahead of what was read.
async fn publish_paced(
    device: &Device,
    d: u64,
    from: u64,
    to: u64,
    tally: &Tally,
    sent: &AtomicU64,
    ahead: u64,
) {
    for i in from..to {
        while sent.load(Ordering::Relaxed) >= tally.distinct() + ahead {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sent.fetch_add(1, Ordering::Relaxed);
        device
            .publish(
                &format!("k/d{d}-{}/reading", i % 4),
                QoS::AtLeastOnce,
                format!("{{\"d\":{d},\"n\":{i}}}"),
            )
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_devices_publish_straight_to_the_host() {
    const N: u64 = 5_000;
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-server");
    let tally = Tally::start(danube.reader(&base).await);
    let port = free_port();
    let host = HostProcess::started(gateway("gw-server", port, &base), danube.url()).await;
    let url = format!("mqtt://127.0.0.1:{port}");

    let sent = Arc::new(AtomicU64::new(0));
    let ahead = ahead(&danube);
    let mut senders = Vec::new();
    for d in 0..4u64 {
        // Two speak MQTT 3.1.1, two MQTT 5.
        // Nothing disconnects here, so the devices may queue (see `DeviceOptions::queue`).
        let options = DeviceOptions {
            queue: 1000,
            ..device_options(d >= 2)
        };
        let device = Device::connect_with(&url, &format!("dev-{d}"), options).await;
        let (tally, sent) = (tally.clone(), sent.clone());
        senders.push(tokio::spawn(async move {
            publish_paced(&device, d, 0, N, &tally, &sent, ahead).await;
            let confirmed = device.wait_confirmed(N, Duration::from_secs(180)).await;
            (confirmed, device.confirmed())
        }));
    }
    for s in senders {
        let (all, confirmed) = s.await.expect("device");
        assert!(all, "{confirmed} of {N} acknowledged\n{}", host.log());
    }
    tally.wait_for(4 * N, Duration::from_secs(60)).await;
    let seen = tally.seen();
    assert_eq!(seen.len() as u64, 4 * N, "{}", host.log());
    let duplicates: u32 = seen.values().map(|c| c - 1).sum();
    assert_eq!(duplicates, 0, "no reconnect, so no copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_devices_send_again_and_nothing_is_lost() {
    const N: u64 = 3_000;
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-server-kill");
    let tally = Tally::start(danube.reader(&base).await);
    let port = free_port();
    let mut host = HostProcess::started(gateway("gw-server-kill", port, &base), danube.url()).await;
    let url = format!("mqtt://127.0.0.1:{port}");

    let sent = Arc::new(AtomicU64::new(0));
    let ahead = ahead(&danube);
    let mut devices = Vec::new();
    for d in 0..2u64 {
        let device =
            Device::connect_with(&url, &format!("kill-dev-{d}"), device_options(d == 1)).await;
        publish_paced(&device, d, 0, N / 3, &tally, &sent, ahead).await;
        devices.push(device);
    }
    tally.wait_for(N / 3, Duration::from_secs(30)).await;
    host.kill9().await;
    let before = tally.distinct();
    // The devices go on publishing (up to the pacing window) while the host is down; they keep
    // what is not acknowledged.
    let publishing: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(d, device)| {
            let (tally, sent) = (tally.clone(), sent.clone());
            tokio::spawn(async move {
                publish_paced(&device, d as u64, N / 3, N, &tally, &sent, ahead).await;
                device
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut host = host.restart();
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    let mut devices = Vec::new();
    for p in publishing {
        devices.push(p.await.expect("device"));
    }
    tally.wait_for(2 * N, Duration::from_secs(120)).await;
    let seen = tally.seen();
    let missing: BTreeSet<(u64, u64)> = (0..2u64)
        .flat_map(|d| (0..N).map(move |i| (d, i)))
        .filter(|k| !seen.contains_key(k))
        .collect();
    let confirmed: Vec<u64> = devices.iter().map(Device::confirmed).collect();
    assert!(
        missing.is_empty(),
        "{} missing, first {:?}; acknowledged to the devices: {confirmed:?}\n{}",
        missing.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        host.log()
    );
    let duplicates: u32 = seen.values().map(|c| c - 1).sum();
    eprintln!(
        "{} of {} arrived, {duplicates} duplicates after kill -9 at {before}",
        seen.len(),
        2 * N
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_with_bad_credentials_is_refused() {
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-server-auth");
    let tally = Tally::start(danube.reader(&base).await);
    let port = free_port();
    let host = HostProcess::started(gateway("gw-server-auth", port, &base), danube.url()).await;
    let url = format!("mqtt://127.0.0.1:{port}");
    let intruder = Device::connect_with(
        &url,
        "intruder",
        DeviceOptions {
            v5: false,
            persistent: false,
            login: Some(("device".into(), "wrong".into())),
            queue: 0,
        },
    )
    .await;
    // A refused client never takes the message off its (unbuffered) queue.
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        intruder.publish("k/x/reading", QoS::AtLeastOnce, "{\"d\":9,\"n\":1}"),
    )
    .await;
    let good = Device::connect_with(&url, "good", device_options(true)).await;
    good.publish("k/y/reading", QoS::AtLeastOnce, "{\"d\":1,\"n\":1}")
        .await;
    assert!(
        good.wait_confirmed(1, Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    tally.wait_for(2, Duration::from_secs(3)).await;
    assert_eq!(
        tally.seen().keys().copied().collect::<Vec<_>>(),
        [(1, 1)],
        "only the good device's message"
    );
    assert_eq!(intruder.confirmed(), 0);
    assert!(
        host.log().contains("bad username or password"),
        "{}",
        host.log()
    );
}

/// An MQTT 5 device whose payload the mapping refuses (not JSON) is told so in its PUBACK
/// (0x99, payload format invalid) after the message was dead-lettered; a 3.1.1 device, whose
/// protocol has no such code, gets a plain PUBACK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_payload_is_refused_with_a_reason_under_mqtt_5() {
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-server-invalid");
    let mut json = danube.reader(&format!("{base}-json")).await;
    let mut dead = danube.reader(&format!("{base}-json-dlq")).await;
    let port = free_port();
    let host = HostProcess::started(gateway("gw-server-invalid", port, &base), danube.url()).await;
    let url = format!("mqtt://127.0.0.1:{port}");
    let v5 = Device::connect_with(&url, "v5-device", device_options(true)).await;
    let v311 = Device::connect_with(&url, "v311-device", device_options(false)).await;
    v5.publish("j/a", QoS::AtLeastOnce, "not json").await;
    v5.publish("j/b", QoS::AtLeastOnce, "{\"d\":5,\"n\":1}")
        .await;
    v311.publish("j/c", QoS::AtLeastOnce, "not json either")
        .await;
    assert!(
        v5.wait_confirmed(2, Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    assert!(
        v311.wait_confirmed(1, Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    assert_eq!(v5.reasons(), ["PayloadFormatInvalid"]);
    let good = json.take(2, Duration::from_secs(5)).await;
    assert_eq!(good.len(), 1);
    let bad = dead.take(3, Duration::from_secs(10)).await;
    assert_eq!(
        bad.len(),
        2,
        "both invalid payloads are in the dead-letter topic"
    );
}

/// With the grant's certificate and key the server speaks MQTT over TLS: `mosquitto_pub`
/// trusting the CA gets its PUBACK (it exits 0 only then) and the record is in Danube.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_over_tls_with_the_grants_certificate() {
    let dir = tempfile::tempdir().expect("tmp");
    let certs = danube_connect_tests::harness::certificates::make(dir.path());
    let danube = Danube::start().await;
    let base = unique_topic("mqtt-server-tls");
    let tally = Tally::start(danube.reader(&base).await);
    let port = free_port();
    let mut spec = gateway("gw-server-tls", port, &base);
    spec.extra = spec.extra.replace(
        "[capabilities.mqtt.server]\n",
        &format!(
            "[capabilities.mqtt.server]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
            certs.server_cert.display(),
            certs.server_key.display()
        ),
    );
    let host = HostProcess::started(spec, danube.url()).await;
    let ca = certs.ca.display().to_string();
    mosquitto_pub(
        port,
        &[
            "-q",
            "1",
            "-V",
            "mqttv5",
            "-i",
            "tls-device",
            "--cafile",
            &ca,
        ],
        "k/tls/reading",
        "{\"d\":7,\"n\":7}",
        &host,
    );
    tally.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(tally.seen().keys().copied().collect::<Vec<_>>(), [(7, 7)]);
}

/// QoS 2 end to end with `mosquitto_pub` (it exits 0 only after PUBCOMP); a device silent
/// for 1.5 × its keep-alive is disconnected; over `max_connections` a device is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_2_keep_alive_and_the_connection_limit() {
    use rumqttc::mqttbytes::v4;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let danube = Danube::start().await;
    let base = unique_topic("mqtt-server-limits");
    let tally = Tally::start(danube.reader(&base).await);
    let port = free_port();
    let mut spec = gateway("gw-server-limits", port, &base);
    spec.extra = spec.extra.replace(
        "[capabilities.mqtt.server]\n",
        "[capabilities.mqtt.server]\nmax_connections = 2\n",
    );
    let host = HostProcess::started(spec, danube.url()).await;

    mosquitto_pub(
        port,
        &["-q", "2", "-i", "qos2-device"],
        "k/q2/reading",
        "{\"d\":2,\"n\":2}",
        &host,
    );
    tally.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(tally.seen().keys().copied().collect::<Vec<_>>(), [(2, 2)]);

    // A client that connects with a keep-alive of 3 s and then says nothing.
    let mut connect = v4::Connect::new("silent");
    connect.keep_alive = 3;
    connect.set_login("device", "s3cret");
    let mut bytes = bytes::BytesMut::new();
    v4::Packet::Connect(connect)
        .write(&mut bytes, 1 << 20)
        .expect("CONNECT");
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    silent.write_all(&bytes).await.expect("send CONNECT");
    let mut connack = [0u8; 4];
    silent.read_exact(&mut connack).await.expect("CONNACK");
    assert_eq!(connack, [0x20, 2, 0, 0], "accepted");
    let connected = tokio::time::Instant::now();

    // Meanwhile two devices fill the limit of two connections: the silent one and a second;
    // a third is refused.
    let second = Device::connect_with(&url_of(port), "second", device_options(false)).await;
    second
        .publish("k/s/reading", QoS::AtLeastOnce, "{\"d\":3,\"n\":1}")
        .await;
    assert!(second.wait_confirmed(1, Duration::from_secs(10)).await);
    // Its message waits in its queue while the server refuses it.
    let options = DeviceOptions {
        queue: 10,
        ..device_options(false)
    };
    let third = Device::connect_with(&url_of(port), "third", options).await;
    third
        .publish("k/t/reading", QoS::AtLeastOnce, "{\"d\":4,\"n\":1}")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(third.confirmed(), 0, "the third device is over the limit");

    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut rest)).await;
    let after = connected.elapsed();
    assert!(closed.is_ok(), "the silent client is disconnected");
    assert!(
        after >= Duration::from_millis(4400),
        "not before 1.5 × keep-alive: {after:?}"
    );
    // Once the silent one is gone there is room: the third device gets through.
    assert!(
        third.wait_confirmed(1, Duration::from_secs(20)).await,
        "{}",
        host.log()
    );
}

/// `mosquitto_pub` of `message` to `topic` as user `device`; it exits 0 only once the message
/// was acknowledged (PUBACK, or PUBCOMP with QoS 2).
fn mosquitto_pub(port: u16, options: &[&str], topic: &str, message: &str, host: &HostProcess) {
    let published = std::process::Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-u", "device", "-P", "s3cret"])
        .args(options)
        .args(["-t", topic, "-m", message])
        .output()
        .expect("mosquitto_pub (Debian package mosquitto-clients)");
    assert!(
        published.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&published.stderr),
        host.log()
    );
}

fn url_of(port: u16) -> String {
    format!("mqtt://127.0.0.1:{port}")
}

/// Danube refusing publishes for seconds while devices publish a burst: no device gets a
/// PUBACK meanwhile; once Danube takes them again every message arrives and is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_while_danube_refuses() {
    const N: u64 = 500;
    let danube = Danube::start().await;
    let Some(broker) = danube.test_broker() else {
        eprintln!("skipped: a real broker cannot be told to refuse publishes");
        return;
    };
    let base = unique_topic("mqtt-server-away");
    let tally = Tally::start(danube.reader(&base).await);
    let port = free_port();
    let host = HostProcess::started(gateway("gw-server-away", port, &base), danube.url()).await;
    let options = DeviceOptions {
        queue: 1000,
        ..device_options(true)
    };
    let device = Device::connect_with(&url_of(port), "away-device", options).await;
    broker.set_refuse_publishes(true);
    let sent = AtomicU64::new(0);
    publish_paced(&device, 1, 0, N, &tally, &sent, u64::MAX / 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(device.confirmed(), 0, "acknowledged before Danube had it");
    assert_eq!(broker.messages_in(&base), 0);
    broker.set_refuse_publishes(false);
    assert!(
        device.wait_confirmed(N, Duration::from_secs(60)).await,
        "{} of {N} acknowledged\n{}",
        device.confirmed(),
        host.log()
    );
    tally.wait_for(N, Duration::from_secs(30)).await;
    assert_eq!(tally.seen().len() as u64, N);
}
