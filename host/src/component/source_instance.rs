//! The source role: `poll` for records, `commit` the positions Danube persisted.

use super::instance::{Factory, Instance, RoleExports, guarded};
use super::store::GuestState;
use crate::role::Role;
use crate::wit::{GuestError, Position, Record, source};
use wasmtime::Store;
use wasmtime::component::{Instance as WasmInstance, InstancePre};

pub use super::instance::GuestFailure;

pub struct Source;

pub type SourceFactory = Factory<Source>;
pub type SourceInstance = Instance<Source>;

impl RoleExports for Source {
    type Indices = source::GuestIndices;
    type Guest = source::Guest;
    const ROLE: Role = Role::Source;

    fn indices(pre: &InstancePre<GuestState>) -> wasmtime::Result<Self::Indices> {
        source::GuestIndices::new(pre)
    }

    fn load(
        indices: &Self::Indices,
        store: &mut Store<GuestState>,
        instance: &WasmInstance,
    ) -> wasmtime::Result<Self::Guest> {
        indices.load(store, instance)
    }

    fn open<'a>(
        guest: &'a Self::Guest,
        store: &'a mut Store<GuestState>,
        config: &'a str,
    ) -> impl Future<Output = wasmtime::Result<Result<(), GuestError>>> + Send + 'a {
        guest.call_open(store, config)
    }

    fn close<'a>(
        guest: &'a Self::Guest,
        store: &'a mut Store<GuestState>,
    ) -> impl Future<Output = wasmtime::Result<Result<(), GuestError>>> + Send + 'a {
        guest.call_close(store)
    }
}

impl SourceInstance {
    /// Up to `max` records, the guest waiting at most `timeout_ms` for the first one.
    pub async fn poll(
        &mut self,
        max: u32,
        timeout_ms: u32,
    ) -> Result<Result<Vec<Record>, GuestError>, GuestFailure> {
        let (live, deadline) = self.begin().await?;
        let result = guarded(
            deadline,
            live.guest.call_poll(&mut live.store, max, timeout_ms),
        )
        .await;
        self.finish(result)
    }

    /// Hand back positions whose records Danube persisted.
    pub async fn commit(
        &mut self,
        positions: &[Position],
    ) -> Result<Result<(), GuestError>, GuestFailure> {
        let (live, deadline) = self.begin().await?;
        let result = guarded(deadline, live.guest.call_commit(&mut live.store, positions)).await;
        self.finish(result)
    }
}
