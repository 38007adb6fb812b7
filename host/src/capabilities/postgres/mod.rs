//! `danube:connect/postgres`: SQL sessions and logical replication streams for connectors
//! granted `[capabilities.postgres]`.
//!
//! SQL runs on tokio-postgres; replication on pgwire-replication, whose worker answers the
//! server's keepalives and reports progress on its own, also while the connector is not
//! receiving, and reports as flushed only the LSN the connector confirmed.

mod access;
mod errors;
mod grant;
mod host;
mod replication;
mod sql;

pub use access::PostgresAccess;
pub use grant::{PostgresGrant, TlsMode};
pub use host::{PostgresCapability, PostgresConnection, PostgresReplication};

use super::{Capability, CapabilityHost, ConnectorContext, GrantKeyError, Granting};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub struct Postgres;

impl Capability for Postgres {
    const NAME: &'static str = "postgres";
    const IMPORTS: &'static [&'static str] = &["danube:connect/postgres"];
    const GRANTING: Granting = Granting::BySection;
    type Grant = PostgresGrant;
    /// The connector's name and, when granted, its access (allow-list, TLS, buffer bound).
    type Shared = (Arc<str>, Option<Arc<PostgresAccess>>);
    type Instance = PostgresCapability;

    fn validate(grant: &PostgresGrant) -> Result<(), GrantKeyError> {
        grant::validate(grant)
    }

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut PostgresCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::postgres::add_to_linker::<T, HasSelf<PostgresCapability>>(
            linker, get,
        )
    }

    fn open(
        grant: Option<&PostgresGrant>,
        connector: &ConnectorContext,
    ) -> anyhow::Result<Self::Shared> {
        let access = match grant {
            Some(g) => Some(Arc::new(
                PostgresAccess::new(g, |p| connector.resolve(p)).map_err(anyhow::Error::msg)?,
            )),
            None => None,
        };
        Ok((connector.name.clone(), access))
    }

    fn instance((name, access): &Self::Shared) -> PostgresCapability {
        PostgresCapability::new(name.clone(), access.clone())
    }
}
