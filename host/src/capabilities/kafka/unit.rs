//! The unit: grant, imports, linking, what a connector opens and what an instance holds.

use super::access::KafkaAccess;
use super::grant::{self, KafkaGrant};
use super::host::{self, KafkaCapability};
use crate::capabilities::{Capability, CapabilityHost, ConnectorContext, GrantKeyError, Granting};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub struct Kafka;

impl Capability for Kafka {
    const NAME: &'static str = super::NAME;
    const IMPORTS: &'static [&'static str] = super::IMPORTS;
    const GRANTING: Granting = Granting::BySection;
    type Grant = KafkaGrant;
    /// The connector's name and, when granted, its access (allow-list, TLS files).
    type Shared = (Arc<str>, Option<Arc<KafkaAccess>>);
    type Instance = KafkaCapability;

    fn validate(grant: &KafkaGrant) -> Result<(), GrantKeyError> {
        grant::validate(grant)
    }

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut KafkaCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::kafka::add_to_linker::<T, HasSelf<KafkaCapability>>(
            linker, get,
        )
    }

    fn open(
        grant: Option<&KafkaGrant>,
        connector: &ConnectorContext,
    ) -> anyhow::Result<Self::Shared> {
        let access = match grant {
            Some(g) => Some(Arc::new(
                KafkaAccess::new(g, |p| connector.resolve(p)).map_err(anyhow::Error::msg)?,
            )),
            None => None,
        };
        Ok((connector.name.clone(), access))
    }

    fn instance((name, access): &Self::Shared) -> KafkaCapability {
        KafkaCapability::new(name.clone(), access.clone())
    }
}
