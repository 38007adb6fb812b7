//! Typed messages into a webhook: the HTTP sink with `decode = "auto"` sends Avro payloads as
//! JSON, decoded with the schema version each message names (a new version needs no
//! restart); a payload its schema cannot read is dead-lettered with the reason.

use apache_avro::types::{Record, Value};
use danube_client::{Producer, SchemaType};
use danube_connect_tests::harness::{Pipeline, Receiver, eventually, unique_topic};
use std::time::Duration;

const ORDER_V1: &str = r#"{"type":"record","name":"Order","fields":[
  {"name":"id","type":"long"},
  {"name":"item","type":"string"},
  {"name":"price","type":"double"},
  {"name":"gift","type":["null","string"],"default":null},
  {"name":"raw","type":"bytes"}
]}"#;

/// v1 and a field with a default: a compatible new version.
const ORDER_V2: &str = r#"{"type":"record","name":"Order","fields":[
  {"name":"id","type":"long"},
  {"name":"item","type":"string"},
  {"name":"price","type":"double"},
  {"name":"gift","type":["null","string"],"default":null},
  {"name":"raw","type":"bytes"},
  {"name":"channel","type":"string","default":"web"}
]}"#;

fn datum(schema: &apache_avro::Schema, id: i64, channel: Option<&str>) -> Vec<u8> {
    let mut r = Record::new(schema).expect("a record schema");
    r.put("id", id);
    r.put("item", format!("sku-{id}"));
    r.put("price", id as f64 + 0.25);
    let gift = if id % 2 == 0 {
        Value::Union(1, Box::new(Value::String(format!("for {id}"))))
    } else {
        Value::Union(0, Box::new(Value::Null))
    };
    r.put("gift", gift);
    r.put("raw", Value::Bytes(vec![id as u8, 0xff]));
    if let Some(channel) = channel {
        r.put("channel", channel);
    }
    apache_avro::to_avro_datum(schema, r).expect("encode")
}

fn expected(id: i64, channel: Option<&str>) -> serde_json::Value {
    use base64::Engine;
    let mut v = serde_json::json!({
        "id": id,
        "item": format!("sku-{id}"),
        "price": id as f64 + 0.25,
        "gift": if id % 2 == 0 { serde_json::json!(format!("for {id}")) } else { serde_json::Value::Null },
        "raw": base64::engine::general_purpose::STANDARD.encode([id as u8, 0xff]),
    });
    if let Some(channel) = channel {
        v["channel"] = channel.into();
    }
    v
}

async fn typed_producer(p: &Pipeline, subject: &str, version: u32) -> Producer {
    let client = p.danube.client().await;
    let mut producer = client
        .new_producer()
        .with_topic(&p.topic)
        .with_name(format!("avro-{}", unique_topic("p").replace('/', "_")))
        .with_schema_version(subject, version)
        .with_reliable_dispatch()
        .build()
        .expect("producer config");
    producer.create().await.expect("typed producer");
    producer
}

async fn register(p: &Pipeline, subject: &str, definition: &str) {
    p.danube
        .client()
        .await
        .schema()
        .register_schema(subject)
        .with_type(SchemaType::Avro)
        .with_schema_data(definition.as_bytes().to_vec())
        .execute()
        .await
        .expect("registered");
}

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
    let subject = format!("{}-value", unique_topic("orders").replace('/', "_"));
    register(&p, &subject, ORDER_V1).await;
    let v1 = apache_avro::Schema::parse_str(ORDER_V1).expect("v1");
    let producer = typed_producer(&p, &subject, 1).await;

    let mut want = Vec::new();
    for id in 0..40 {
        producer
            .send(datum(&v1, id, None), None)
            .await
            .expect("send");
        want.push(expected(id, None));
        if id == 20 {
            // Truncated: the schema cannot read it.
            let mut corrupt = datum(&v1, 999, None);
            corrupt.truncate(corrupt.len() - 3);
            producer.send(corrupt, None).await.expect("send corrupt");
        }
    }
    // A new, compatible version: the running sink decodes it with the version it names.
    register(&p, &subject, ORDER_V2).await;
    let v2 = apache_avro::Schema::parse_str(ORDER_V2).expect("v2");
    let producer_v2 = typed_producer(&p, &subject, 2).await;
    for id in 40..50 {
        producer_v2
            .send(datum(&v2, id, Some("store")), None)
            .await
            .expect("send v2");
        want.push(expected(id, Some("store")));
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
    let reason = dead[0]
        .attributes
        .get("dlq.error")
        .cloned()
        .unwrap_or_default();
    assert!(
        reason.contains("does not decode with schema") && reason.contains(" v1"),
        "{reason}"
    );
    let mut corrupt = datum(&v1, 999, None);
    corrupt.truncate(corrupt.len() - 3);
    assert_eq!(dead[0].payload, corrupt, "dead-lettered as published");
}
