//! What typed records cost per message, on one core (see BENCHMARKS.md, "Typed records"):
//!
//! - JSON Schema validation as the host does it for `[source.schema]` (parse the payload,
//!   check it against the compiled schema), for valid and invalid records;
//! - Avro datum → JSON as sinks with `decode = "auto"` do it (the SDK's decoder);
//! - beside them, the pass-through work every JSON payload already gets (parsing it once).

use danube_connect_sdk::decode::avro_to_json;
use danube_connect_tests::bench_args::num;
use danube_connect_tests::bench_figures::record;
use danube_connect_tests::harness::typed::{ORDER_V1, avro, order_datum};
use std::hint::black_box;
use std::time::Instant;

const ORDER_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "id": { "type": "integer" }, "item": { "type": "string" }, "price": { "type": "number" },
    "gift": { "type": ["string", "null"] }, "raw": { "type": "string" }
  },
  "required": ["id", "item", "price"]
}"#;

fn order_json(id: u64) -> Vec<u8> {
    format!(
        "{{\"id\":{id},\"item\":\"sku-{id}\",\"price\":{}.25,\"gift\":\"for {id}\",\"raw\":\"AQL/\"}}",
        id % 1000
    )
    .into_bytes()
}

/// Runs `f` over `inputs` `rounds` times; messages per second and ns per message.
fn measure(rounds: u64, inputs: &[Vec<u8>], mut f: impl FnMut(&[u8]) -> bool) -> (f64, f64) {
    let started = Instant::now();
    let mut ok = 0u64;
    for _ in 0..rounds {
        for input in inputs {
            ok += u64::from(black_box(f(black_box(input))));
        }
    }
    black_box(ok);
    let n = rounds * inputs.len() as u64;
    let secs = started.elapsed().as_secs_f64();
    (n as f64 / secs, secs * 1e9 / n as f64)
}

fn main() {
    let rounds = num("--rounds", 200);
    let inputs: Vec<Vec<u8>> = (0..1000).map(order_json).collect();
    let bad: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("{{\"id\":\"{i}\",\"item\":7}}").into_bytes())
        .collect();
    let schema: serde_json::Value = serde_json::from_str(ORDER_SCHEMA).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let v1 = avro(ORDER_V1);
    let datums: Vec<Vec<u8>> = (0..1000).map(|i| order_datum(&v1, i, None)).collect();

    println!(
        "{} messages per case, ~{} B JSON / ~{} B Avro",
        rounds * 1000,
        inputs[0].len(),
        datums[0].len()
    );
    let report = |name: &str, (rate, ns): (f64, f64)| {
        println!("{name:<44} {rate:>12.0} msgs/s {ns:>8.0} ns/msg");
        record(&format!("typed records: {name}"), ns, "ns/msg");
    };
    report(
        "pass-through (parse the JSON payload once)",
        measure(rounds, &inputs, |p| {
            serde_json::from_slice::<serde_json::Value>(p).is_ok()
        }),
    );
    let validate = |p: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(p).is_ok_and(|v| validator.is_valid(&v))
    };
    report(
        "JSON Schema validate, valid records",
        measure(rounds, &inputs, validate),
    );
    report(
        "JSON Schema validate + reasons, invalid records",
        measure(rounds, &bad, |p| {
            let v: serde_json::Value = serde_json::from_slice(p).unwrap_or_default();
            validator.iter_errors(&v).take(5).count() > 0
        }),
    );
    report(
        "Avro datum -> JSON (decode = \"auto\")",
        measure(rounds, &datums, |p| avro_to_json(&v1, p).is_ok()),
    );
}
