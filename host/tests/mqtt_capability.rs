//! The MQTT capability against a real Mosquitto: protocols, QoS levels, properties, manual
//! acknowledgement, refusals, and reconnecting after the broker restarts.

use danube_connect_host::capabilities::mqtt::MqttGrant;
use danube_connect_host::capabilities::mqtt::{
    ConnectSpec, Delivery, MqttAccess, MqttError, Protocol, Session,
};
use danube_connect_tests::harness::mosquitto::{Mosquitto, MosquittoOptions};
use danube_connect_tests::harness::mqtt_client::{Device, Properties, QoS};
use std::time::{Duration, Instant};

fn spec(url: &str, client_id: &str, protocol: Protocol) -> ConnectSpec {
    ConnectSpec {
        url: url.into(),
        client_id: client_id.into(),
        username: None,
        password: None,
        protocol,
        clean_session: false,
        keep_alive: Duration::from_secs(30),
        session_expiry_secs: Some(3600),
        receive_maximum: None,
        timeout: Duration::from_secs(5),
    }
}

/// Receive until `n` deliveries arrived or 10 s passed.
async fn receive_n(s: &mut Session, n: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n && Instant::now() < deadline {
        if let Ok(batch) = s.receive(n - out.len(), Duration::from_millis(200)).await {
            out.extend(batch);
        }
    }
    out
}

async fn qos_levels_and_payloads(protocol: Protocol) {
    let broker = Mosquitto::start();
    let access = MqttAccess::allow_all("test");
    let mut s = Session::connect(&access, spec(&broker.url(), "reader", protocol))
        .await
        .expect("connect");
    let granted = s
        .subscribe(vec![("sensors/+/temp".into(), 2), ("raw/#".into(), 1)])
        .await
        .expect("subscribe");
    assert_eq!(granted, vec![2, 1]);
    let device = Device::connect(&broker.url(), "device", protocol == Protocol::V5).await;
    let binary: Vec<u8> = (0..=255u8).collect();
    device
        .publish("sensors/a/temp", QoS::AtMostOnce, "q0")
        .await;
    device
        .publish("sensors/b/temp", QoS::AtLeastOnce, "q1")
        .await;
    device
        .publish("sensors/c/temp", QoS::ExactlyOnce, "q2")
        .await;
    device
        .publish_with(
            "raw/x/y",
            QoS::AtLeastOnce,
            binary.clone(),
            Properties {
                user: vec![("site".into(), "north".into())],
                content_type: Some("application/octet-stream".into()),
                correlation_data: Some(vec![1, 2, 3]),
            },
        )
        .await;
    let got = receive_n(&mut s, 4).await;
    assert_eq!(got.len(), 4, "{}", broker.log());
    let by_topic = |t: &str| got.iter().find(|d| d.topic == t).expect(t);
    assert_eq!(by_topic("sensors/a/temp").qos, 0);
    assert_eq!(
        by_topic("sensors/a/temp").ack_id,
        0,
        "QoS 0 has nothing to ack"
    );
    assert_eq!(by_topic("sensors/b/temp").qos, 1);
    assert_eq!(by_topic("sensors/c/temp").qos, 2);
    assert_eq!(by_topic("sensors/c/temp").payload, b"q2");
    let raw = by_topic("raw/x/y");
    assert_eq!(raw.payload, binary, "payload byte for byte");
    assert!(!raw.retain);
    assert_ne!(raw.ack_id, 0);
    if protocol == Protocol::V5 {
        assert_eq!(
            raw.user_properties,
            vec![("site".to_string(), "north".to_string())]
        );
        assert_eq!(
            raw.content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(raw.correlation_data.as_deref(), Some(&[1u8, 2, 3][..]));
    } else {
        assert!(raw.user_properties.is_empty());
    }
    let ids: Vec<u64> = got.iter().map(|d| d.ack_id).collect();
    s.ack(&ids).await.expect("ack");
}

#[tokio::test]
async fn mqtt_311_qos_levels_and_binary_payloads() {
    qos_levels_and_payloads(Protocol::V311).await;
}

#[tokio::test]
async fn mqtt_5_properties_reach_the_connector() {
    qos_levels_and_payloads(Protocol::V5).await;
}

#[tokio::test]
async fn only_unacknowledged_messages_are_redelivered() {
    let broker = Mosquitto::start();
    let access = MqttAccess::allow_all("test");
    let mut s = Session::connect(&access, spec(&broker.url(), "keeper", Protocol::V311))
        .await
        .expect("connect");
    s.subscribe(vec![("jobs/#".into(), 1)])
        .await
        .expect("subscribe");
    let device = Device::connect(&broker.url(), "device", false).await;
    for i in 0..10 {
        device
            .publish("jobs/x", QoS::AtLeastOnce, format!("{i}"))
            .await;
    }
    let got = receive_n(&mut s, 10).await;
    assert_eq!(got.len(), 10);
    let acked: Vec<u64> = got[..5].iter().map(|d| d.ack_id).collect();
    s.ack(&acked).await.expect("ack");
    // The acks travel through the event loop: give it a moment before leaving.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(s);
    let mut again = Session::connect(&access, spec(&broker.url(), "keeper", Protocol::V311))
        .await
        .expect("reconnect");
    let redelivered = receive_n(&mut again, 5).await;
    let mut payloads: Vec<String> = redelivered
        .iter()
        .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
        .collect();
    payloads.sort();
    assert_eq!(payloads, ["5", "6", "7", "8", "9"]);
    let more = again
        .receive(10, Duration::from_millis(500))
        .await
        .expect("receive");
    assert!(more.is_empty(), "acknowledged messages came back");
}

/// A connector that lets the buffer fill and then acknowledges more than it holds must not
/// wait forever: acks are written even while the buffer is full.
#[tokio::test]
async fn acks_flow_while_the_buffer_is_full() {
    let broker = Mosquitto::start_with(MosquittoOptions {
        max_inflight: 0,
        ..Default::default()
    });
    let access = MqttAccess::allow_all("test").with_max_buffered(8);
    let mut s = Session::connect(&access, spec(&broker.url(), "slow", Protocol::V311))
        .await
        .expect("connect");
    s.subscribe(vec![("flood/#".into(), 1)])
        .await
        .expect("subscribe");
    let device = Device::connect(&broker.url(), "flooder", false).await;
    let n = 3000;
    for i in 0..n {
        device
            .publish("flood/x", QoS::AtLeastOnce, format!("{i}"))
            .await;
    }
    device.wait_confirmed(n, Duration::from_secs(30)).await;
    // Everything is at the broker or in the socket; the buffer is full. Take and acknowledge
    // in batches larger than the buffer, holding acks back like a slow pipeline would.
    let mut seen = std::collections::HashSet::new();
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < n as usize && Instant::now() < deadline {
        let batch = tokio::time::timeout(
            Duration::from_secs(5),
            s.receive(100, Duration::from_millis(200)),
        )
        .await
        .expect("receive returns")
        .expect("receive");
        for d in batch {
            seen.insert(String::from_utf8_lossy(&d.payload).into_owned());
            held.push(d.ack_id);
        }
        if held.len() >= 200 {
            tokio::time::timeout(Duration::from_secs(5), s.ack(&held))
                .await
                .expect("ack does not wait on the full buffer")
                .expect("ack");
            held.clear();
        }
    }
    assert_eq!(seen.len(), n as usize, "{}", broker.log());
}

#[tokio::test]
async fn refusals_are_clear_and_quick() {
    let broker = Mosquitto::start_with(MosquittoOptions {
        credentials: Some(("gw".into(), "right".into())),
        ..Default::default()
    });
    let access = MqttAccess::allow_all("test");
    let mut wrong = spec(&broker.url(), "c1", Protocol::V311);
    wrong.username = Some("gw".into());
    wrong.password = Some("wrong".into());
    let started = Instant::now();
    match Session::connect(&access, wrong.clone()).await {
        Err(MqttError::Refused(m)) => assert!(
            m.contains("bad user name or password") || m.contains("not authorized"),
            "{m}"
        ),
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut right = wrong.clone();
    right.password = Some("right".into());
    let mut s = Session::connect(&access, right)
        .await
        .expect("right password");
    assert!(matches!(
        s.subscribe(vec![("a/#/b".into(), 1)]).await,
        Err(MqttError::Invalid(_))
    ));

    let closed = format!("mqtt://127.0.0.1:{}", broker.port() + 1);
    assert!(matches!(
        Session::connect(&access, spec(&closed, "c2", Protocol::V311)).await,
        Err(MqttError::Connection(_))
    ));

    let grant = toml::from_str(r#"allowed_brokers = ["mqtt://10.0.0.1:1883"]"#).expect("grant");
    let narrow = MqttAccess::new("gw".into(), &grant, |p| p.to_path_buf()).expect("access");
    match Session::connect(&narrow, spec(&broker.url(), "c3", Protocol::V311)).await {
        Err(MqttError::Denied(m)) => assert!(m.contains("allowed_brokers"), "{m}"),
        other => panic!("expected denied, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn reconnects_and_resubscribes_after_the_broker_restarts() {
    let mut broker = Mosquitto::start();
    let access = MqttAccess::allow_all("test");
    let mut s = Session::connect(&access, spec(&broker.url(), "survivor", Protocol::V311))
        .await
        .expect("connect");
    s.subscribe(vec![("after/#".into(), 1)])
        .await
        .expect("subscribe");
    let device = Device::connect(&broker.url(), "d-before", false).await;
    device.publish("after/x", QoS::AtLeastOnce, "before").await;
    let before = receive_n(&mut s, 1).await;
    assert_eq!(before.len(), 1);
    drop(device);
    broker.restart();
    // Mosquitto kept nothing, so the session must subscribe again by itself.
    let device = Device::connect(&broker.url(), "d-after", false).await;
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.is_empty() && Instant::now() < deadline {
        device.publish("after/x", QoS::AtLeastOnce, "after").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Ok(batch) = s.receive(10, Duration::from_millis(100)).await {
            got.extend(batch);
        }
    }
    assert!(
        got.iter().any(|d| d.payload == b"after"),
        "nothing after the restart:\n{}",
        broker.log()
    );
    // An id from before the restart belongs to a dead connection: skipped, no error.
    s.ack(&[before[0].ack_id])
        .await
        .expect("stale ack is skipped");
}

/// `mqtts` with the CA and client certificate from the grant: connects, subscribes and
/// receives; without the client certificate, or trusting only the public roots, it is refused.
#[tokio::test]
async fn mutual_tls_with_files_from_the_grant() {
    let broker = Mosquitto::start_with(MosquittoOptions {
        tls: true,
        ..Default::default()
    });
    let tls = broker.tls().expect("a TLS listener").clone();
    let url = format!("mqtts://127.0.0.1:{}", tls.port);
    let grant = |ca: bool, client: bool| MqttGrant {
        allowed_brokers: vec!["mqtts://127.0.0.1:*".into()],
        ca_file: ca.then(|| tls.ca.clone()),
        client_cert_file: client.then(|| tls.client_cert.clone()),
        client_key_file: client.then(|| tls.client_key.clone()),
        max_buffered: 100,
        server: None,
    };
    let access =
        |g: MqttGrant| MqttAccess::new("tls".into(), &g, |p| p.to_path_buf()).expect("grant");

    let mut s = Session::connect(
        &access(grant(true, true)),
        spec(&url, "tls-reader", Protocol::V311),
    )
    .await
    .expect("mutual TLS connects");
    s.subscribe(vec![("secure/#".into(), 1)])
        .await
        .expect("subscribe");
    let device = Device::connect(&broker.url(), "plain-device", false).await;
    device
        .publish("secure/a", QoS::AtLeastOnce, "over tls")
        .await;
    let got = receive_n(&mut s, 1).await;
    assert_eq!(got.len(), 1, "{}", broker.log());
    assert_eq!(got[0].payload, b"over tls");

    let started = Instant::now();
    let no_cert = Session::connect(
        &access(grant(true, false)),
        spec(&url, "no-cert", Protocol::V311),
    )
    .await;
    assert!(
        no_cert.is_err(),
        "a broker requiring a client certificate let us in"
    );
    let public_roots = Session::connect(
        &access(grant(false, true)),
        spec(&url, "roots", Protocol::V311),
    )
    .await;
    match public_roots {
        Err(MqttError::Connection(m)) => assert!(m.to_lowercase().contains("certificate"), "{m}"),
        Err(other) => panic!("expected a certificate error, got {other:?}"),
        Ok(_) => panic!("a certificate from an unknown CA was trusted"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "refusals must not hang"
    );
}
