//! The sink role: `process` a batch of Danube messages.

use super::instance::{Factory, Instance, RoleExports, guarded};
use super::store::GuestState;
use crate::role::Role;
use crate::wit::{BatchError, GuestError, Message, sink};
use wasmtime::Store;
use wasmtime::component::{Instance as WasmInstance, InstancePre};

pub use super::instance::{GuestFailure, InstanceSettings, TrapKind};

pub struct Sink;

pub type SinkFactory = Factory<Sink>;
pub type SinkInstance = Instance<Sink>;

impl RoleExports for Sink {
    type Indices = sink::GuestIndices;
    type Guest = sink::Guest;
    const ROLE: Role = Role::Sink;

    fn indices(pre: &InstancePre<GuestState>) -> wasmtime::Result<Self::Indices> {
        sink::GuestIndices::new(pre)
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

impl SinkInstance {
    /// Hand a batch to the guest. A trap drops the instance; the next call starts a fresh one.
    pub async fn process(
        &mut self,
        batch: &[Message],
    ) -> Result<Result<(), BatchError>, GuestFailure> {
        let (live, deadline) = self.begin().await?;
        let result = guarded(deadline, live.guest.call_process(&mut live.store, batch)).await;
        self.finish(result)
    }
}
