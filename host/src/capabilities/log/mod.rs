//! `danube:connect/log`: guest log lines become host tracing events tagged with the connector.

mod host;

pub use host::LogCapability;

use super::{Capability, CapabilityHost, ConnectorContext, Granting, NoGrant};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub struct Log;

impl Capability for Log {
    const NAME: &'static str = "log";
    const IMPORTS: &'static [&'static str] = &["danube:connect/log"];
    const GRANTING: Granting = Granting::Always;
    type Grant = NoGrant;
    type Shared = Arc<str>;
    type Instance = LogCapability;

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut LogCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::log::add_to_linker::<T, HasSelf<LogCapability>>(
            linker, get,
        )
    }

    fn open(_: Option<&NoGrant>, connector: &ConnectorContext) -> anyhow::Result<Arc<str>> {
        Ok(connector.name.clone())
    }

    fn instance(connector: &Arc<str>) -> LogCapability {
        LogCapability {
            connector: connector.clone(),
        }
    }
}
