//! The unit in a host built without the `kafka` feature: the grant is read and checked as
//! usual, and opening it says what is missing.

use super::grant::{self, KafkaGrant};
use crate::capabilities::{Capability, CapabilityHost, ConnectorContext, GrantKeyError, Granting};
use wasmtime::component::Linker;

pub struct Kafka;

impl Capability for Kafka {
    const NAME: &'static str = super::NAME;
    const IMPORTS: &'static [&'static str] = super::IMPORTS;
    const GRANTING: Granting = Granting::BySection;
    type Grant = KafkaGrant;
    type Shared = ();
    type Instance = ();

    fn validate(grant: &KafkaGrant) -> Result<(), GrantKeyError> {
        grant::validate(grant)
    }

    fn link<T: CapabilityHost>(
        _: &mut Linker<T>,
        _: fn(&mut T) -> &mut (),
    ) -> wasmtime::Result<()> {
        Ok(())
    }

    fn open(grant: Option<&KafkaGrant>, _: &ConnectorContext) -> anyhow::Result<()> {
        match grant {
            Some(_) => anyhow::bail!(
                "this danube-connect-host was built without Kafka support (cargo feature `kafka`)"
            ),
            None => Ok(()),
        }
    }

    fn instance(_: &()) {}
}
