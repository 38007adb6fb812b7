//! The one shape every capability has (after Spin's factors): a grant read from its own
//! `[capabilities.<name>]` section, the WIT imports it answers to, how it links, what it opens
//! once per connector and what each new instance gets.

use super::metrics::GuestMetricFamilies;
use crate::config::ConnectorConfig;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::Linker;
use wasmtime_wasi::WasiView;
use wasmtime_wasi_http::WasiHttpView;

/// How a capability is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granting {
    /// Always: it reaches nothing outside the connector (logs, metrics, clocks).
    Always,
    /// Only with its `[capabilities.<name>]` section (deny by default).
    BySection,
}

/// A capability unit. Registered once, in the list in `capabilities/mod.rs`.
pub trait Capability: 'static {
    /// Its section name (`[capabilities.<NAME>]`) and the store field that holds it.
    const NAME: &'static str;
    /// Prefixes (without version) of the component imports it serves.
    const IMPORTS: &'static [&'static str];
    const GRANTING: Granting;

    /// Its section, as the user writes it. `Always` units take [`NoGrant`].
    type Grant: DeserializeOwned + schemars::JsonSchema;
    /// Opened once per connector and shared by every instance, restart and swap (pools,
    /// databases, connections).
    type Shared: Send + Sync;
    /// What one instance's store holds.
    type Instance: Send + 'static;

    /// Checks serde cannot express; the error names the key inside the section.
    fn validate(_grant: &Self::Grant) -> Result<(), GrantKeyError> {
        Ok(())
    }

    /// Add its imports to the linker; `get` finds its [`Capability::Instance`] in the store.
    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut Self::Instance,
    ) -> wasmtime::Result<()>;

    /// Prepare what the connector's instances share. `grant` is `None` when the section is
    /// absent: the unit then refuses every call (the import check stops such components
    /// before they run).
    fn open(
        grant: Option<&Self::Grant>,
        connector: &ConnectorContext,
    ) -> anyhow::Result<Self::Shared>;

    fn instance(shared: &Self::Shared) -> Self::Instance;
}

/// The section of an always-granted capability: there is none.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoGrant {}

/// A key inside a grant that serde accepted but the unit refuses.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct GrantKeyError {
    /// Relative to the section, e.g. `allowed_hosts[2]`.
    pub key: String,
    pub message: String,
}

impl GrantKeyError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// What a unit may know about the connector it opens for.
pub struct ConnectorContext<'a> {
    pub name: Arc<str>,
    pub config: &'a ConnectorConfig,
    /// Guest metric families, shared by every connector of the process.
    pub metric_families: &'a GuestMetricFamilies,
}

impl ConnectorContext<'_> {
    /// A path from the config, resolved against the config file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        self.config.resolve(p)
    }
}

/// What the store type must offer the units: WASI and wasi-http views (their linkers need
/// them) and a way to reach every unit's instance state.
pub trait CapabilityHost: WasiView + WasiHttpView + Send + 'static {
    fn capabilities(&mut self) -> &mut super::Instances;
}
