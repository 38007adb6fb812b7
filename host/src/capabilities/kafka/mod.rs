//! `danube:connect/kafka`: consumer-group members and idempotent producers for connectors
//! granted `[capabilities.kafka]`, on librdkafka (its bundled, recent build).
//!
//! Offsets are committed only when the connector commits, so a source commits what Danube
//! persisted and nothing more; a producer reports each record's outcome, so a sink acks what
//! Kafka acked and dead-letters what Kafka will never take.

mod access;
mod cluster;
mod consumer;
mod context;
mod errors;
mod grant;
mod host;
mod producer;
mod settings;

pub use access::KafkaAccess;
pub use grant::KafkaGrant;
pub use host::{KafkaCapability, KafkaConsumer, KafkaProducer};

use super::{Capability, CapabilityHost, ConnectorContext, GrantKeyError, Granting};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub struct Kafka;

impl Capability for Kafka {
    const NAME: &'static str = "kafka";
    const IMPORTS: &'static [&'static str] = &["danube:connect/kafka"];
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
