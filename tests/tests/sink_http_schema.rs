//! Typed messages into a webhook: the HTTP sink with `decode = "auto"` sends Avro payloads as
//! JSON, decoded with the schema version each message names (a new version needs no
//! restart); a payload its schema cannot read is dead-lettered with the reason.

#![cfg(feature = "typed")]

use danube_client::SchemaType;
use danube_connect_tests::harness::danube::attribute;
use danube_connect_tests::harness::typed::{
    ORDER_V1, ORDER_V2, avro, order_datum, order_json, register, subject, typed_producer,
};
use danube_connect_tests::harness::{Pipeline, Receiver, eventually};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_is_delivered_as_json_field_by_field_and_corrupt_payloads_are_dead_lettered() {
    let receiver = Receiver::start().await;
    let config = format!(
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\nbody = \"ndjson\"\ndecode = \"auto\"\n",
        receiver.url("/orders")
    );
    let p = Pipeline::start("avro-hook", "sink_http", &config).await;
    let mut dlq = p.danube.reader(&format!("{}-dlq", p.topic)).await;
    let subject = subject("orders");
    register(&p.danube, &subject, SchemaType::Avro, ORDER_V1).await;
    let v1 = avro(ORDER_V1);
    let producer = typed_producer(&p.danube, &p.topic, &subject, 1).await;

    let mut want = Vec::new();
    let mut corrupt = order_datum(&v1, 999, None);
    corrupt.truncate(corrupt.len() - 3);
    for id in 0..40 {
        producer
            .send(order_datum(&v1, id, None), None)
            .await
            .expect("send");
        want.push(order_json(id, None));
        if id == 20 {
            // Truncated: the schema cannot read it.
            producer
                .send(corrupt.clone(), None)
                .await
                .expect("send corrupt");
        }
    }
    // A new, compatible version: the running sink decodes it with the version it names.
    register(&p.danube, &subject, SchemaType::Avro, ORDER_V2).await;
    let v2 = avro(ORDER_V2);
    let producer_v2 = typed_producer(&p.danube, &p.topic, &subject, 2).await;
    for id in 40..50 {
        producer_v2
            .send(order_datum(&v2, id, Some("store")), None)
            .await
            .expect("send v2");
        want.push(order_json(id, Some("store")));
    }

    let got = eventually(Duration::from_secs(60), async || {
        let lines: Vec<serde_json::Value> = receiver
            .accepted()
            .iter()
            .flat_map(|r| {
                r.body
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_slice(l).expect("every line is JSON"))
                    .collect::<Vec<_>>()
            })
            .collect();
        (lines.len() >= want.len()).then_some(lines)
    })
    .await
    .unwrap_or_else(|| panic!("not everything arrived\n{}", p.host.log()));
    assert_eq!(got, want, "decoded field by field, in order");

    let dead = dlq.take(1, Duration::from_secs(30)).await;
    assert_eq!(dead.len(), 1, "{}", p.host.log());
    let reason = attribute(&dead[0], "dlq.error");
    assert!(
        reason.contains("does not decode with schema") && reason.contains(" v1"),
        "{reason}"
    );
    assert_eq!(dead[0].payload, corrupt, "dead-lettered as published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_payloads_are_checked_against_the_schema_they_name() {
    let receiver = Receiver::start().await;
    let config = format!(
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\nbody = \"ndjson\"\ndecode = \"auto\"\n",
        receiver.url("/events")
    );
    let p = Pipeline::start("json-hook", "sink_http", &config).await;
    let mut dlq = p.danube.reader(&format!("{}-dlq", p.topic)).await;
    let subject = subject("events");
    let schema = r#"{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"#;
    register(&p.danube, &subject, SchemaType::JsonSchema, schema).await;
    let producer = typed_producer(&p.danube, &p.topic, &subject, 1).await;
    for body in [r#"{"id":1}"#, r#"{"id":"two"}"#, r#"{"id":3}"#] {
        producer
            .send(body.as_bytes().to_vec(), None)
            .await
            .expect("send");
    }
    let got = eventually(Duration::from_secs(60), async || {
        let lines: Vec<String> = receiver
            .accepted()
            .iter()
            .flat_map(|r| {
                String::from_utf8_lossy(&r.body)
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        (lines.len() >= 2).then_some(lines)
    })
    .await
    .unwrap_or_else(|| panic!("nothing arrived\n{}", p.host.log()));
    assert_eq!(
        got,
        [r#"{"id":1}"#, r#"{"id":3}"#],
        "valid payloads, as they are"
    );
    let dead = dlq.take(1, Duration::from_secs(30)).await;
    assert_eq!(dead.len(), 1, "{}", p.host.log());
    let reason = attribute(&dead[0], "dlq.error");
    assert!(
        reason.contains("does not match schema") && reason.contains("/id"),
        "{reason}"
    );
}
