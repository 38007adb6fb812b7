//! Commands to a running connector. The runtime takes them at batch boundaries (and between
//! retry attempts), so a command never splits a batch between two instances.

use crate::component::sink_instance::SinkFactory;
use crate::component::source_instance::SourceFactory;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub enum Command {
    /// Stop pulling messages; the batch in hand is finished first.
    Pause,
    Resume,
    /// Close the instance and open a fresh one from the same component.
    Restart,
    /// Open an instance of another component; on success it replaces the running one.
    Swap(Replacement),
}

/// The component a swap brings in, of the connector's own role.
pub enum Replacement {
    Sink(Arc<SinkFactory>),
    Source(Arc<SourceFactory>),
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Restart => "restart",
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

pub struct Control {
    pub command: Command,
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

#[derive(Clone)]
pub struct ControlTx(mpsc::Sender<Control>);

pub struct ControlRx(mpsc::Receiver<Control>);

pub fn channel() -> (ControlTx, ControlRx) {
    let (tx, rx) = mpsc::channel(8);
    (ControlTx(tx), ControlRx(rx))
}

impl ControlTx {
    /// Send a command and wait until the runtime applied it, at most `wait`.
    pub async fn send(&self, command: Command, wait: Duration) -> Result<Applied, ControlError> {
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

impl ControlRx {
    /// The next command; never resolves once every sender is gone.
    pub async fn recv(&mut self) -> Control {
        match self.0.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        }
    }
}
