//! A connector's running totals for the admin API, read from the Prometheus registry so the
//! two never disagree.

use prometheus::proto::{Metric, MetricFamily};
use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub received: u64,
    pub processed: u64,
    pub failed: u64,
    pub dead_lettered: u64,
    pub retries: u64,
    pub traps: u64,
    pub restarts: u64,
    pub reloads: u64,
    pub reload_failures: u64,
}

fn label<'a>(m: &'a Metric, name: &str) -> Option<&'a str> {
    m.get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value())
}

/// Totals of `connector` in `families` (one `Registry::gather`, shared by every connector
/// a response describes).
pub fn counts(families: &[MetricFamily], connector: &str) -> Counts {
    let mut c = Counts::default();
    for family in families {
        let name = family.name();
        for m in family.get_metric() {
            if label(m, "connector") != Some(connector) {
                continue;
            }
            let slot = match name {
                "danube_connector_messages_received_total" => &mut c.received,
                "danube_connector_messages_processed_total" => &mut c.processed,
                "danube_connector_messages_failed_total" => &mut c.failed,
                "danube_connector_dead_lettered_total" => &mut c.dead_lettered,
                "danube_connector_retries_total" => &mut c.retries,
                "danube_connector_guest_traps_total" => &mut c.traps,
                "danube_connector_instance_restarts_total" => &mut c.restarts,
                "danube_connector_component_reloads_total" => match label(m, "result") {
                    Some("ok") => &mut c.reloads,
                    _ => &mut c.reload_failures,
                },
                _ => continue,
            };
            *slot += m.get_counter().value() as u64;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::HostMetrics;

    #[test]
    fn sums_only_the_named_connector() {
        let host = HostMetrics::new().expect("metrics");
        let a = host.connector("a");
        let b = host.connector("b");
        a.received("/default/x", 3);
        a.received("/default/y", 2);
        b.received("/default/x", 7);
        a.reload(true);
        a.reload(false);
        a.reload(false);
        a.restarts.inc();
        let families = host.registry.gather();
        let c = counts(&families, "a");
        assert_eq!(c.received, 5);
        assert_eq!((c.reloads, c.reload_failures, c.restarts), (1, 2, 1));
        assert_eq!(counts(&families, "b").received, 7);
    }
}
