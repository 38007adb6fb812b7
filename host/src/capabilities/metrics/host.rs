//! `danube:connect/metrics`: metrics a guest declares, exported as
//! `danube_connector_guest_<name>{connector, ...}`.
//!
//! A metric's label names are fixed by its first use; a later use with other labels is
//! logged and ignored, since Prometheus cannot mix label sets under one name.

/// Host bindings of the `metrics` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world metrics { import danube:connect/metrics@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/metrics",
    });
}

use bindings::danube::connect::metrics::Host;
use prometheus::{CounterVec, GaugeVec, HistogramOpts, HistogramVec, Opts, Registry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

enum Family {
    Counter(CounterVec, Vec<String>),
    Gauge(GaugeVec, Vec<String>),
    Histogram(HistogramVec, Vec<String>),
}

/// Shared by every instance of every connector in the process, so an instance restart reuses
/// the families it registered before.
#[derive(Clone)]
pub struct GuestMetricFamilies {
    registry: Registry,
    families: Arc<Mutex<HashMap<String, Family>>>,
}

impl GuestMetricFamilies {
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            families: Arc::default(),
        }
    }

    /// The process's registry, for a capability's own host-side metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

#[derive(Clone)]
pub struct MetricsCapability {
    pub connector: Arc<str>,
    pub families: GuestMetricFamilies,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl MetricsCapability {
    fn record(&self, kind: Kind, name: &str, labels: &[(String, String)], value: f64) {
        let full = format!("danube_connector_guest_{}", sanitize(name));
        let mut label_names: Vec<String> = labels.iter().map(|(k, _)| sanitize(k)).collect();
        label_names.retain(|k| k != "connector");
        let mut values: Vec<&str> = vec![&self.connector];
        values.extend(
            labels
                .iter()
                .filter(|(k, _)| k != "connector")
                .map(|(_, v)| v.as_str()),
        );
        let Ok(mut families) = self.families.families.lock() else {
            return;
        };
        if !families.contains_key(&full) {
            match register(&self.families.registry, kind, &full, &label_names) {
                Ok(f) => {
                    families.insert(full.clone(), f);
                }
                Err(e) => {
                    tracing::warn!(
                        connector = &*self.connector,
                        metric = full,
                        "cannot register guest metric: {e}"
                    );
                    return;
                }
            }
        }
        let ok = match (families.get(&full), kind) {
            (Some(Family::Counter(c, names)), Kind::Counter) if *names == label_names => c
                .get_metric_with_label_values(&values)
                .map(|m| m.inc_by(value))
                .is_ok(),
            (Some(Family::Gauge(g, names)), Kind::Gauge) if *names == label_names => g
                .get_metric_with_label_values(&values)
                .map(|m| m.set(value))
                .is_ok(),
            (Some(Family::Histogram(h, names)), Kind::Histogram) if *names == label_names => h
                .get_metric_with_label_values(&values)
                .map(|m| m.observe(value))
                .is_ok(),
            _ => false,
        };
        if !ok {
            tracing::warn!(
                connector = &*self.connector,
                metric = full,
                "guest metric used with another type or label set than at its first use; ignored"
            );
        }
    }
}

fn register(
    registry: &Registry,
    kind: Kind,
    name: &str,
    labels: &[String],
) -> prometheus::Result<Family> {
    let mut all: Vec<&str> = vec!["connector"];
    all.extend(labels.iter().map(String::as_str));
    let help = "Declared by the connector component.";
    let family = match kind {
        Kind::Counter => {
            let c = CounterVec::new(Opts::new(name, help), &all)?;
            registry.register(Box::new(c.clone()))?;
            Family::Counter(c, labels.to_vec())
        }
        Kind::Gauge => {
            let g = GaugeVec::new(Opts::new(name, help), &all)?;
            registry.register(Box::new(g.clone()))?;
            Family::Gauge(g, labels.to_vec())
        }
        Kind::Histogram => {
            let h = HistogramVec::new(HistogramOpts::new(name, help), &all)?;
            registry.register(Box::new(h.clone()))?;
            Family::Histogram(h, labels.to_vec())
        }
    };
    Ok(family)
}

impl Host for MetricsCapability {
    fn counter_add(&mut self, name: String, value: u64, labels: Vec<(String, String)>) {
        self.record(Kind::Counter, &name, &labels, value as f64);
    }

    fn gauge_set(&mut self, name: String, value: f64, labels: Vec<(String, String)>) {
        self.record(Kind::Gauge, &name, &labels, value);
    }

    fn histogram_observe(&mut self, name: String, value: f64, labels: Vec<(String, String)>) {
        self.record(Kind::Histogram, &name, &labels, value);
    }
}
