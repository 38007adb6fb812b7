//! `danube-connect-host bench`: drives a sink component with synthetic batches, without
//! Danube, to measure the connector's own ceiling.

use crate::component::SinkInstance;
use crate::component::sink_instance::SinkFactory;
use crate::wit::Message;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub messages: usize,
    pub batch_size: usize,
    pub payload_bytes: usize,
    pub attributes: usize,
    pub with_key: bool,
}

impl BenchSpec {
    /// The batches in words, to name the figures: "batches of 500 × 256 B, key + 3 attributes".
    pub fn label(&self) -> String {
        let mut label = format!("batches of {} × {} B", self.batch_size, self.payload_bytes);
        match (self.with_key, self.attributes) {
            (false, 0) => {}
            (true, 0) => label.push_str(", key"),
            (false, n) => label.push_str(&format!(", {n} attributes")),
            (true, n) => label.push_str(&format!(", key + {n} attributes")),
        }
        label
    }
}

#[derive(Debug)]
pub struct BenchResult {
    pub messages: usize,
    pub elapsed: Duration,
    pub failed_batches: usize,
}

impl BenchResult {
    pub fn per_second(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn ns_per_message(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.messages.max(1) as f64
    }
}

/// A batch of synthetic messages; JSON payloads padded to the requested size.
pub fn synthetic_batch(spec: &BenchSpec, first_offset: u64) -> Vec<Message> {
    (0..spec.batch_size as u64)
        .map(|i| {
            let offset = first_offset + i;
            let head = format!("{{\"id\":{offset},\"pad\":\"");
            let pad = spec.payload_bytes.saturating_sub(head.len() + 2);
            let payload = format!("{head}{}\"}}", "x".repeat(pad)).into_bytes();
            Message {
                topic: "/default/bench".into(),
                offset,
                publish_time_us: 1_700_000_000_000_000 + offset,
                producer_name: "bench".into(),
                key: spec.with_key.then(|| format!("key-{}", offset % 64)),
                attributes: (0..spec.attributes)
                    .map(|a| (format!("attr{a}"), format!("value{a}")))
                    .collect(),
                payload,
                schema: None,
            }
        })
        .collect()
}

/// Call `process` until `spec.messages` went through. The same batch is reused so the figure
/// is the connector's cost, not the benchmark's allocations.
pub async fn run_component(
    factory: Arc<SinkFactory>,
    spec: &BenchSpec,
) -> anyhow::Result<BenchResult> {
    let mut instance = SinkInstance::new(factory);
    instance.ensure_open().await?;
    let batch = synthetic_batch(spec, 0);
    // Warm up caches, connections and the instance's memory.
    instance
        .process(&batch)
        .await?
        .map_err(|e| anyhow::anyhow!("warm-up batch failed: {e:?}"))?;
    let batches = spec.messages.div_ceil(spec.batch_size);
    let mut failed_batches = 0;
    let started = Instant::now();
    for _ in 0..batches {
        if instance.process(&batch).await?.is_err() {
            failed_batches += 1;
        }
    }
    let elapsed = started.elapsed();
    instance.close().await?;
    Ok(BenchResult {
        messages: batches * spec.batch_size,
        elapsed,
        failed_batches,
    })
}

/// The same loop over a native function doing what the pass-through component does (sum the
/// payload bytes), to price the Wasm boundary.
pub fn run_native_passthrough(spec: &BenchSpec) -> BenchResult {
    let batch = synthetic_batch(spec, 0);
    let batches = spec.messages.div_ceil(spec.batch_size);
    let started = Instant::now();
    let mut total = 0u64;
    for _ in 0..batches {
        total = total.wrapping_add(native_passthrough(std::hint::black_box(&batch)));
    }
    std::hint::black_box(total);
    BenchResult {
        messages: batches * spec.batch_size,
        elapsed: started.elapsed(),
        failed_batches: 0,
    }
}

fn native_passthrough(batch: &[Message]) -> u64 {
    batch
        .iter()
        .map(|m| m.payload.iter().map(|&b| b as u64).sum::<u64>())
        .sum()
}

/// Appends one figure to `path` as a JSON line, `{"name":…,"value":…,"unit":…}`: the shape the
/// benchmark binaries record, which `make bench` gathers into one table.
pub fn append_figure(path: &Path, name: &str, value: f64, unit: &str) -> std::io::Result<()> {
    let line = serde_json::json!({ "name": name, "value": value, "unit": unit });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write per line, so lines from several processes never interleave.
    file.write_all(format!("{line}\n").as_bytes())
}
