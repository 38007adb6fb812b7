//! `danube:connect/schemas`: the schema registry of the Danube broker the connector already
//! uses. Always granted: it reaches nothing the host does not reach for the connector anyway
//! (a secured broker's token governs who may register).

mod access;
mod host;

pub use access::{Fetched, SchemaAccess};
pub use host::SchemasCapability;

use super::{Capability, CapabilityHost, ConnectorContext, Granting, NoGrant};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub struct Schemas;

impl Capability for Schemas {
    const NAME: &'static str = "schemas";
    const IMPORTS: &'static [&'static str] = &["danube:connect/schemas"];
    const GRANTING: Granting = Granting::Always;
    type Grant = NoGrant;
    /// One client and one cache per connector, for every instance, restart and swap.
    type Shared = Arc<SchemaAccess>;
    type Instance = SchemasCapability;

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut SchemasCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::schemas::add_to_linker::<T, HasSelf<SchemasCapability>>(
            linker, get,
        )
    }

    fn open(_: Option<&NoGrant>, connector: &ConnectorContext) -> anyhow::Result<Self::Shared> {
        Ok(Arc::new(SchemaAccess::new(connector.config)))
    }

    fn instance(shared: &Self::Shared) -> SchemasCapability {
        SchemasCapability::new(shared.clone())
    }
}
