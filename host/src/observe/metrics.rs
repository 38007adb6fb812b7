//! The host's metric families (names as documented in the README) and per-connector handles
//! with the `connector` label already applied.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

#[derive(Clone)]
pub struct HostMetrics {
    pub registry: Registry,
    received: IntCounterVec,
    processed: IntCounterVec,
    failed: IntCounterVec,
    retries: IntCounterVec,
    dead_lettered: IntCounterVec,
    processing: HistogramVec,
    publish: HistogramVec,
    inflight: IntGaugeVec,
    batch_size: HistogramVec,
    traps: IntCounterVec,
    reloads: IntCounterVec,
    swap_pause: HistogramVec,
    restarts: IntCounterVec,
    memory: IntGaugeVec,
    reconnects: IntCounterVec,
    buffer_bytes: IntGaugeVec,
    buffer_messages: IntGaugeVec,
    buffer_oldest_age: IntGaugeVec,
    buffer_full: IntGaugeVec,
    stalled: IntGaugeVec,
    skipped: IntCounterVec,
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), &["connector"])?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    buckets: Vec<f64>,
) -> prometheus::Result<HistogramVec> {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets),
        &["connector"],
    )?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

impl HostMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let r = Registry::new();
        let secs = vec![
            0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            10.0,
        ];
        let sizes = vec![
            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0, 10000.0, 100000.0,
        ];
        Ok(Self {
            received: counter(
                &r,
                "danube_connector_messages_received_total",
                "Messages received from Danube.",
                &["connector", "topic"],
            )?,
            processed: counter(
                &r,
                "danube_connector_messages_processed_total",
                "Messages the connector delivered and the host acknowledged.",
                &["connector", "topic"],
            )?,
            failed: counter(
                &r,
                "danube_connector_messages_failed_total",
                "Message delivery failures by kind.",
                &["connector", "error_type"],
            )?,
            retries: counter(
                &r,
                "danube_connector_retries_total",
                "Messages handed to the connector again after a retryable failure.",
                &["connector"],
            )?,
            dead_lettered: counter(
                &r,
                "danube_connector_dead_lettered_total",
                "Messages published to a dead-letter topic.",
                &["connector", "topic"],
            )?,
            processing: histogram(
                &r,
                "danube_connector_processing_duration_seconds",
                "Duration of one guest call.",
                secs.clone(),
            )?,
            publish: histogram(
                &r,
                "danube_connector_publish_duration_seconds",
                "Duration of publishing one record to Danube.",
                secs,
            )?,
            inflight: gauge(
                &r,
                "danube_connector_inflight_messages",
                "Messages received and not yet acknowledged.",
            )?,
            batch_size: histogram(
                &r,
                "danube_connector_batch_size",
                "Messages per batch handed to the connector.",
                sizes,
            )?,
            traps: counter(
                &r,
                "danube_connector_guest_traps_total",
                "Guest instances lost to a trap, by kind.",
                &["connector", "kind"],
            )?,
            reloads: counter(
                &r,
                "danube_connector_component_reloads_total",
                "Hot swaps of the connector's component, by result (ok, failed).",
                &["connector", "result"],
            )?,
            swap_pause: histogram(
                &r,
                "danube_connector_swap_pause_seconds",
                "How long processing stood still while a new component took over.",
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                ],
            )?,
            restarts: counter(
                &r,
                "danube_connector_instance_restarts_total",
                "Fresh connector instances started after a trap, a fatal error or a restart request.",
                &["connector"],
            )?,
            memory: gauge(
                &r,
                "danube_connector_guest_memory_bytes",
                "Linear memory held by the connector instance.",
            )?,
            reconnects: counter(
                &r,
                "danube_connector_danube_reconnects_total",
                "Connections to Danube rebuilt after a failure.",
                &["connector"],
            )?,
            buffer_bytes: gauge(
                &r,
                "danube_connector_buffer_bytes",
                "Bytes of messages held in the sink's local buffer.",
            )?,
            buffer_messages: gauge(
                &r,
                "danube_connector_buffer_messages",
                "Messages held in the sink's local buffer.",
            )?,
            buffer_oldest_age: gauge(
                &r,
                "danube_connector_buffer_oldest_age_seconds",
                "Age of the oldest message in the sink's local buffer, by its publish time.",
            )?,
            buffer_full: gauge(
                &r,
                "danube_connector_buffer_full",
                "1 while the sink's local buffer is full and the host takes nothing from Danube.",
            )?,
            stalled: gauge(
                &r,
                "danube_connector_stalled",
                "1 while the broker has messages for the subscription and dispatches none.",
            )?,
            skipped: counter(
                &r,
                "danube_connector_messages_skipped_total",
                "Offsets the broker skipped: never dispatched to this subscription.",
                &["connector", "topic"],
            )?,
            registry: r,
        })
    }

    pub fn connector(&self, name: &str) -> ConnectorMetrics {
        ConnectorMetrics {
            name: name.to_string(),
            host: self.clone(),
            retries: self.retries.with_label_values(&[name]),
            processing: self.processing.with_label_values(&[name]),
            publish: self.publish.with_label_values(&[name]),
            inflight: self.inflight.with_label_values(&[name]),
            batch_size: self.batch_size.with_label_values(&[name]),
            swap_pause: self.swap_pause.with_label_values(&[name]),
            restarts: self.restarts.with_label_values(&[name]),
            memory: self.memory.with_label_values(&[name]),
            reconnects: self.reconnects.with_label_values(&[name]),
            stalled: self.stalled.with_label_values(&[name]),
            buffer: BufferMetrics {
                bytes: self.buffer_bytes.with_label_values(&[name]),
                messages: self.buffer_messages.with_label_values(&[name]),
                oldest_age_seconds: self.buffer_oldest_age.with_label_values(&[name]),
                full: self.buffer_full.with_label_values(&[name]),
            },
        }
    }
}

#[derive(Clone)]
pub struct ConnectorMetrics {
    name: String,
    host: HostMetrics,
    pub retries: IntCounter,
    pub processing: Histogram,
    pub publish: Histogram,
    pub inflight: IntGauge,
    pub batch_size: Histogram,
    pub swap_pause: Histogram,
    pub restarts: IntCounter,
    pub memory: IntGauge,
    pub reconnects: IntCounter,
    pub stalled: IntGauge,
    pub buffer: BufferMetrics,
}

/// The gauges of a sink's local buffer (`[sink] buffer`).
#[derive(Clone)]
pub struct BufferMetrics {
    pub bytes: IntGauge,
    pub messages: IntGauge,
    pub oldest_age_seconds: IntGauge,
    pub full: IntGauge,
}

impl ConnectorMetrics {
    pub fn received(&self, topic: &str, n: u64) {
        self.host
            .received
            .with_label_values(&[&self.name, topic])
            .inc_by(n);
    }

    /// Messages received from Danube so far, over every topic.
    pub fn received_total(&self) -> u64 {
        use prometheus::core::Collector;
        self.host
            .received
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .filter(|m| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == "connector" && l.value() == self.name)
            })
            .map(|m| m.get_counter().value() as u64)
            .sum()
    }

    pub fn skipped(&self, topic: &str, n: u64) {
        self.host
            .skipped
            .with_label_values(&[&self.name, topic])
            .inc_by(n);
    }

    pub fn processed(&self, topic: &str, n: u64) {
        self.host
            .processed
            .with_label_values(&[&self.name, topic])
            .inc_by(n);
    }

    pub fn failed(&self, error_type: &str, n: u64) {
        self.host
            .failed
            .with_label_values(&[&self.name, error_type])
            .inc_by(n);
    }

    pub fn dead_lettered(&self, topic: &str) {
        self.host
            .dead_lettered
            .with_label_values(&[&self.name, topic])
            .inc();
    }

    pub fn reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.host
            .reloads
            .with_label_values(&[&self.name, result])
            .inc();
    }

    pub fn trap(&self, kind: &str) {
        self.host.traps.with_label_values(&[&self.name, kind]).inc();
    }
}
