//! The source role: `poll` for records, `commit` the positions Danube persisted.

use super::instance::{Factory, Instance, guarded};
use crate::role::Role;
use crate::wit::{GuestError, Position, Record};

pub use super::instance::GuestFailure;

pub struct Source;

pub type SourceFactory = Factory<Source>;
pub type SourceInstance = Instance<Source>;

super::instance::role_exports!(Source, source, Role::Source);

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
