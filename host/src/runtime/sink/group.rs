//! A concurrent sink (`[sink] concurrency = N`) runs N sink loops, one per instance of the
//! component, as one connector: commands go to every instance, the first instance to end
//! with an error stops the others, and the shared subscription is closed after the last.

use super::lanes::LaneHub;
use super::{SetupError, SinkRuntime};
use crate::component::SinkInstance;
use crate::component::sink_instance::{Sink, SinkFactory};
use crate::config::{ConnectorConfig, SinkSection};
use crate::runtime::control::{self, Applied, Control, ControlRx, ControlTx};
use crate::runtime::lifecycle::{Exit, Hosting};
use crate::runtime::shutdown::{self, Shutdown};
use futures::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// How long one instance may take to reach a batch boundary and apply a command; the
/// operator's own wait (admin API, SIGHUP) is shorter and reports the command as pending.
const INSTANCE_COMMAND_WAIT: Duration = Duration::from_secs(3600);

pub struct SinkGroup {
    lanes: Vec<SinkRuntime>,
    hub: Arc<LaneHub>,
    control: ControlRx<Sink>,
    lane_control: Vec<ControlTx<Sink>>,
}

impl SinkGroup {
    pub fn new(
        config: &ConnectorConfig,
        sink: SinkSection,
        factory: Arc<SinkFactory>,
        hosting: Hosting<Sink>,
    ) -> Result<Self, SetupError> {
        let hub = LaneHub::new(sink.concurrency);
        let mut lanes = Vec::with_capacity(hub.lanes());
        let mut lane_control = Vec::with_capacity(hub.lanes());
        for index in 0..hub.lanes() {
            let (tx, rx) = control::channel();
            let lane_hosting = Hosting {
                control: rx,
                status: hosting.status.clone(),
                metrics: hosting.metrics.clone(),
                standalone: hosting.standalone,
            };
            let instance = SinkInstance::new(factory.clone());
            let runtime = SinkRuntime::new(config, sink.clone(), instance, lane_hosting)?;
            lanes.push(runtime.in_lane(index, hub.clone()));
            lane_control.push(tx);
        }
        Ok(Self {
            lanes,
            hub,
            control: hosting.control,
            lane_control,
        })
    }

    pub async fn run(self, mut shutdown: Shutdown) -> Exit {
        let (stop_lanes, lanes_shutdown) = shutdown::channel();
        let commands = tokio::spawn(fan_out(self.control, self.lane_control));
        let mut running = JoinSet::new();
        for lane in self.lanes {
            running.spawn(lane.run(lanes_shutdown.clone()));
        }
        let mut exit = None;
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = shutdown.wait(), if !stopping => {
                    stopping = true;
                    stop_lanes.trigger();
                }
                done = running.join_next() => match done {
                    None => break,
                    Some(Ok(Exit::Shutdown)) => {}
                    Some(Ok(failed)) => {
                        exit.get_or_insert(failed);
                        stopping = true;
                        stop_lanes.trigger();
                    }
                    Some(Err(e)) => {
                        exit.get_or_insert(Exit::Fatal(format!("a sink instance's task failed: {e}")));
                        stopping = true;
                        stop_lanes.trigger();
                    }
                },
            }
        }
        commands.abort();
        self.hub.close().await;
        exit.unwrap_or(Exit::Shutdown)
    }
}

/// Every command goes to every instance, which applies it at its own batch boundary; the
/// answer is the first refusal, or done (a swap reports its longest pause).
async fn fan_out(mut control: ControlRx<Sink>, lanes: Vec<ControlTx<Sink>>) {
    loop {
        let Control { command, reply } = control.recv().await;
        let sent = lanes
            .iter()
            .map(|lane| lane.send(command.duplicate(), INSTANCE_COMMAND_WAIT));
        let mut answer = Ok(Applied::Done);
        for (index, result) in join_all(sent).await.into_iter().enumerate() {
            answer = match (answer, result) {
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(format!("instance {index}: {e}")),
                (Ok(Applied::Swapped { pause: a }), Ok(Applied::Swapped { pause: b })) => {
                    Ok(Applied::Swapped { pause: a.max(b) })
                }
                (Ok(Applied::Done), Ok(applied)) | (Ok(applied), Ok(Applied::Done)) => Ok(applied),
            };
        }
        let _ = reply.send(answer);
    }
}
