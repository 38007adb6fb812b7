//! Commands to a running connector. The runtime takes them at batch boundaries (and between
//! retry attempts), so a command never splits a batch between two instances.

use crate::component::instance::{Factory, RoleExports};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What an operator asks of a connector of either role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop pulling messages; the batch in hand is finished first.
    Pause,
    Resume,
    /// Close the instance and open a fresh one from the same component.
    Restart,
}

/// A command to a connector of role `R`: an action, or a swap to another component of the
/// same role (a factory of the other role does not type-check).
pub enum Command<R: RoleExports> {
    Act(Action),
    /// Open an instance of another component; on success it replaces the running one.
    Swap(Arc<Factory<R>>),
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Restart => "restart",
        }
    }
}

impl<R: RoleExports> Command<R> {
    /// The same command again, for another instance of the connector.
    pub fn duplicate(&self) -> Self {
        match self {
            Command::Act(action) => Command::Act(*action),
            Command::Swap(factory) => Command::Swap(factory.clone()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Command::Act(action) => action.name(),
            Command::Swap(_) => "reload",
        }
    }
}

/// What the runtime did with a command.
#[derive(Debug)]
pub enum Applied {
    Done,
    /// The new instance took over after processing stood still for `pause`.
    Swapped {
        pause: Duration,
    },
}

pub struct Control<R: RoleExports> {
    pub command: Command<R>,
    pub reply: oneshot::Sender<Result<Applied, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    Refused(String),
    #[error("the connector has stopped")]
    Stopped,
    #[error(
        "the connector did not reach a batch boundary within {0:?}; the command stays queued and applies there"
    )]
    Pending(Duration),
}

pub struct ControlTx<R: RoleExports>(mpsc::Sender<Control<R>>);

impl<R: RoleExports> Clone for ControlTx<R> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

pub struct ControlRx<R: RoleExports>(mpsc::Receiver<Control<R>>);

pub fn channel<R: RoleExports>() -> (ControlTx<R>, ControlRx<R>) {
    let (tx, rx) = mpsc::channel(8);
    (ControlTx(tx), ControlRx(rx))
}

impl<R: RoleExports> ControlTx<R> {
    /// Send a command and wait until the runtime applied it, at most `wait`.
    pub async fn send(&self, command: Command<R>, wait: Duration) -> Result<Applied, ControlError> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(Control { command, reply })
            .await
            .map_err(|_| ControlError::Stopped)?;
        match tokio::time::timeout(wait, answer).await {
            Err(_) => Err(ControlError::Pending(wait)),
            Ok(Err(_)) => Err(ControlError::Stopped),
            Ok(Ok(result)) => result.map_err(ControlError::Refused),
        }
    }
}

impl<R: RoleExports> ControlRx<R> {
    /// The next command; never resolves once every sender is gone.
    pub async fn recv(&mut self) -> Control<R> {
        match self.0.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        }
    }
}
