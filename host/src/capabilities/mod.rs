//! What connectors may import, one unit per capability.
//!
//! Each unit lives in its own folder and implements [`Capability`]: its grant (its
//! `[capabilities.<name>]` section), the imports it serves, how it links, what it opens once
//! per connector and what each instance gets. Adding a capability is one folder and one line
//! in the list below.
//!
//! Deny by default: [`grants::check`] refuses a component that imports a capability its
//! config does not grant, naming the capability and the config key that grants it.

mod registry;
mod unit;

pub mod allowed_hosts;
pub mod grants;
pub mod http;
pub mod inbound_http;
pub mod kafka;
pub mod log;
pub mod metrics;
pub mod mqtt;
pub mod postgres;
pub mod schema;
pub mod schemas;
pub mod state;
pub mod tls;
pub mod topics;
pub mod wasi;

pub use registry::UnitInfo;
pub use unit::{Capability, CapabilityHost, ConnectorContext, GrantKeyError, Granting, NoGrant};

registry::register_units! {
    wasi: wasi::Wasi,
    log: log::Log,
    metrics: metrics::Metrics,
    topics: topics::Topics,
    schemas: schemas::Schemas,
    state: state::State,
    http: http::Http,
    mqtt: mqtt::Mqtt,
    postgres: postgres::Postgres,
    kafka: kafka::Kafka,
    inbound_http: inbound_http::InboundHttp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_is_held_under_its_own_name() {
        for unit in UNITS {
            assert_eq!(
                unit.field, unit.name,
                "the store field must be the unit's NAME"
            );
        }
    }

    #[test]
    fn no_import_is_served_twice() {
        let prefixes: Vec<&str> = UNITS
            .iter()
            .flat_map(|u| u.imports.iter().copied())
            .collect();
        for (i, a) in prefixes.iter().enumerate() {
            for b in &prefixes[i + 1..] {
                assert!(
                    !a.starts_with(b) && !b.starts_with(a),
                    "{a} and {b} overlap"
                );
            }
        }
    }
}
