//! Connector-defined Prometheus metrics, exported by the host as
//! `danube_connector_guest_<name>` with a `connector` label added.
//!
//! Outside WebAssembly (unit tests) these are no-ops.

/// Adds `value` to the counter `name`.
pub fn counter_add(name: &str, value: u64, labels: &[(&str, &str)]) {
    imp::counter_add(name, value, &owned(labels));
}

/// Sets the gauge `name` to `value`.
pub fn gauge_set(name: &str, value: f64, labels: &[(&str, &str)]) {
    imp::gauge_set(name, value, &owned(labels));
}

/// Records one observation of `value` in the histogram `name`.
pub fn histogram_observe(name: &str, value: f64, labels: &[(&str, &str)]) {
    imp::histogram_observe(name, value, &owned(labels));
}

fn owned(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

#[cfg(target_arch = "wasm32")]
use crate::bindings::sink::danube::connect::metrics as imp;

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub fn counter_add(_: &str, _: u64, _: &[(String, String)]) {}
    pub fn gauge_set(_: &str, _: f64, _: &[(String, String)]) {}
    pub fn histogram_observe(_: &str, _: f64, _: &[(String, String)]) {}
}
