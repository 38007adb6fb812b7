//! The sink role: `process` a batch of Danube messages.

use super::instance::{Factory, Instance, guarded};
use crate::role::Role;
use crate::wit::{BatchError, Message};

pub use super::instance::{GuestFailure, InstanceSettings, TrapKind};

pub struct Sink;

pub type SinkFactory = Factory<Sink>;
pub type SinkInstance = Instance<Sink>;

super::instance::role_exports!(Sink, sink, Role::Sink);

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
