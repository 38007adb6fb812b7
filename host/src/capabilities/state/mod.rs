//! `danube:connect/state`: a small durable key/value store per connector (a redb file),
//! granted by `[capabilities.state]`.

mod host;

pub use host::StateCapability;

use super::{Capability, CapabilityHost, ConnectorContext, Granting};
use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use wasmtime::component::{HasSelf, Linker};

/// `[capabilities.state]`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateGrant {
    /// Database file; defaults to `<config dir>/<connector name>.state.redb`.
    pub path: Option<PathBuf>,
}

pub struct State;

impl Capability for State {
    const NAME: &'static str = "state";
    const IMPORTS: &'static [&'static str] = &["danube:connect/state"];
    const GRANTING: Granting = Granting::BySection;
    type Grant = StateGrant;
    /// One database per connector, opened once: redb allows a single writer per file.
    type Shared = StateCapability;
    type Instance = StateCapability;

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut StateCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::state::add_to_linker::<T, HasSelf<StateCapability>>(
            linker, get,
        )
    }

    fn open(
        grant: Option<&StateGrant>,
        connector: &ConnectorContext,
    ) -> anyhow::Result<StateCapability> {
        let Some(grant) = grant else {
            return Ok(StateCapability::denied());
        };
        let path = match &grant.path {
            Some(p) => connector.resolve(p),
            None => connector.resolve(Path::new(&format!("{}.state.redb", connector.name))),
        };
        StateCapability::open(&path)
            .with_context(|| format!("opening state database {}", path.display()))
    }

    fn instance(shared: &StateCapability) -> StateCapability {
        shared.clone()
    }
}
