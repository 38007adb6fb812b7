//! Typed messages for the schema tests: an Avro `Order` record in two compatible versions,
//! its encoding, the JSON a sink should make of it, and registering and producing with
//! danube-client as any typed application would.

use super::{Danube, unique_topic};
use apache_avro::types::{Record, Value};
use danube_client::{Producer, SchemaType};

pub const ORDER_V1: &str = r#"{"type":"record","name":"Order","fields":[
  {"name":"id","type":"long"},
  {"name":"item","type":"string"},
  {"name":"price","type":"double"},
  {"name":"gift","type":["null","string"],"default":null},
  {"name":"raw","type":"bytes"}
]}"#;

/// v1 and a field with a default: a compatible new version.
pub const ORDER_V2: &str = r#"{"type":"record","name":"Order","fields":[
  {"name":"id","type":"long"},
  {"name":"item","type":"string"},
  {"name":"price","type":"double"},
  {"name":"gift","type":["null","string"],"default":null},
  {"name":"raw","type":"bytes"},
  {"name":"channel","type":"string","default":"web"}
]}"#;

pub fn avro(definition: &str) -> apache_avro::Schema {
    apache_avro::Schema::parse_str(definition).expect("an Avro schema")
}

fn gift(id: i64) -> Option<String> {
    (id % 2 == 0).then(|| format!("for {id}"))
}

/// Order `id` as a bare Avro datum; `channel` only for v2.
pub fn order_datum(schema: &apache_avro::Schema, id: i64, channel: Option<&str>) -> Vec<u8> {
    let mut r = Record::new(schema).expect("a record schema");
    r.put("id", id);
    r.put("item", format!("sku-{id}"));
    r.put("price", id as f64 + 0.25);
    let gift = match gift(id) {
        Some(g) => Value::Union(1, Box::new(Value::String(g))),
        None => Value::Union(0, Box::new(Value::Null)),
    };
    r.put("gift", gift);
    r.put("raw", Value::Bytes(vec![id as u8, 0xff]));
    if let Some(channel) = channel {
        r.put("channel", channel);
    }
    apache_avro::to_avro_datum(schema, r).expect("encode")
}

/// Order `id` as JSON, bytes in base64, as a decoding sink delivers it.
pub fn order_json(id: i64, channel: Option<&str>) -> serde_json::Value {
    use base64::Engine;
    let mut v = serde_json::json!({
        "id": id,
        "item": format!("sku-{id}"),
        "price": id as f64 + 0.25,
        "gift": gift(id),
        "raw": base64::engine::general_purpose::STANDARD.encode([id as u8, 0xff]),
    });
    if let Some(channel) = channel {
        v["channel"] = channel.into();
    }
    v
}

/// Registers `definition` under `subject`; its schema id.
pub async fn register(danube: &Danube, subject: &str, kind: SchemaType, definition: &str) -> u64 {
    danube
        .client()
        .await
        .schema()
        .register_schema(subject)
        .with_type(kind)
        .with_schema_data(definition.as_bytes().to_vec())
        .execute()
        .await
        .unwrap_or_else(|e| panic!("registering {subject}: {e}"))
}

/// A reliable producer on `topic` publishing under version `version` of `subject`.
pub async fn typed_producer(danube: &Danube, topic: &str, subject: &str, version: u32) -> Producer {
    let client = danube.client().await;
    let mut producer = client
        .new_producer()
        .with_topic(topic)
        .with_name(format!("typed-{}", unique_topic("p").replace('/', "_")))
        .with_schema_version(subject, version)
        .with_reliable_dispatch()
        .build()
        .expect("producer config");
    producer.create().await.expect("typed producer");
    producer
}

/// A subject name of its own for one test.
pub fn subject(name: &str) -> String {
    format!("{}-value", unique_topic(name).replace('/', "_"))
}

/// A definition as registered: danube-broker v0.15 returns it wrapped in its own type
/// (`{"JsonSchema": {"raw_schema": …}}`), the test broker as the real one does.
pub fn registered_definition(bytes: &[u8]) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_slice(bytes).expect("a JSON definition");
    let raw = value
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|inner| inner.get("raw_schema"))
        .and_then(|r| r.as_str());
    match raw {
        Some(raw) => serde_json::from_str(raw).expect("the raw schema is JSON"),
        None => value,
    }
}
