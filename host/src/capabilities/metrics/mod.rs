//! `danube:connect/metrics`: metrics a guest declares, exported as
//! `danube_connector_guest_<name>{connector, ...}`.

mod host;

pub use host::{GuestMetricFamilies, MetricsCapability};

use super::{Capability, CapabilityHost, ConnectorContext, Granting, NoGrant};
use wasmtime::component::{HasSelf, Linker};

pub struct Metrics;

impl Capability for Metrics {
    const NAME: &'static str = "metrics";
    const IMPORTS: &'static [&'static str] = &["danube:connect/metrics"];
    const GRANTING: Granting = Granting::Always;
    type Grant = NoGrant;
    type Shared = MetricsCapability;
    type Instance = MetricsCapability;

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut MetricsCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::metrics::add_to_linker::<T, HasSelf<MetricsCapability>>(
            linker, get,
        )
    }

    fn open(
        _: Option<&NoGrant>,
        connector: &ConnectorContext,
    ) -> anyhow::Result<MetricsCapability> {
        Ok(MetricsCapability {
            connector: connector.name.clone(),
            families: connector.metric_families.clone(),
        })
    }

    fn instance(shared: &MetricsCapability) -> MetricsCapability {
        shared.clone()
    }
}
