//! The sink loop: receive → batch → `process` → ack, with retries, dead-lettering,
//! instance restarts, reconnection, and commands (pause, restart, hot swap) taken at batch
//! boundaries. Nothing is acknowledged before the connector reported it delivered or it
//! reached the dead-letter topic.

mod buffer;
mod group;
mod inbound;
mod lanes;
mod pump;
mod stall;
mod steer;

pub use buffer::BufferError;
pub use group::SinkGroup;

use super::batcher::BatchPolicy;
use super::lifecycle::{self, Lifecycle, Steer, Stop};
use super::shutdown::Shutdown;
use crate::backoff::Backoff;
use crate::component::SinkInstance;
use crate::component::sink_instance::{Sink, SinkFactory};
use crate::config::{ConnectorConfig, SinkSection};
use crate::danube::lag::LagProbe;
use crate::danube::{Broker, Timeouts};
use crate::runtime::control::Control;
use buffer::DiskBuffer;
use lanes::LaneHub;
use stall::StallSettings;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub use super::lifecycle::{Exit, Hosting};

pub struct SinkRuntime {
    broker: Broker,
    sink: SinkSection,
    dead_letter_topic: Option<String>,
    /// The durable local buffer, when `[sink] buffer` asks for one.
    buffer: Option<Arc<DiskBuffer>>,
    /// Stall detection, when the broker's metrics are known.
    stall: Option<StallSettings>,
    /// Notified by the stall watch: rebuild the connection and subscription.
    resubscribe: Arc<Notify>,
    timeouts: Timeouts,
    policy: BatchPolicy,
    max_retries: u32,
    max_guest_traps: u32,
    retry: Backoff,
    reconnect: Backoff,
    instance: SinkInstance,
    life: Lifecycle<Sink>,
    /// One of the instances of a concurrent sink (`[sink] concurrency`).
    lane: Option<LaneSeat>,
}

/// Where a lane of a concurrent sink sits: its index at the hub, and the generation of the
/// shared subscription it last had a share of.
struct LaneSeat {
    index: usize,
    hub: Arc<LaneHub>,
    generation: Option<u64>,
}

impl Steer for SinkRuntime {
    type Role = Sink;

    fn life(&mut self) -> &mut Lifecycle<Sink> {
        &mut self.life
    }

    fn parts(&mut self) -> (&mut Lifecycle<Sink>, &mut SinkInstance) {
        (&mut self.life, &mut self.instance)
    }

    fn apply(&mut self, control: Control<Sink>) -> impl Future<Output = bool> + Send {
        lifecycle::apply_command(self, control)
    }

    fn swap(
        &mut self,
        factory: Arc<SinkFactory>,
    ) -> impl Future<Output = Result<Duration, String>> + Send {
        self.swap_in(factory)
    }

    fn work<'a>(
        &'a mut self,
        shutdown: &'a mut Shutdown,
    ) -> impl Future<Output = Stop> + Send + 'a {
        self.consume(shutdown)
    }
}

/// Why a sink runtime could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Buffer(#[from] BufferError),
    #[error("{0}")]
    MetricsUrl(String),
}

impl SinkRuntime {
    pub fn new(
        config: &ConnectorConfig,
        sink: SinkSection,
        instance: SinkInstance,
        hosting: Hosting<Sink>,
    ) -> Result<Self, SetupError> {
        let r = &config.runtime;
        let d = &config.danube;
        let stall = match &d.metrics_url {
            Some(url) if sink.stall_after_ms > 0 => Some(StallSettings {
                probe: LagProbe::new(url, Duration::from_millis(d.call_timeout_ms))
                    .map_err(SetupError::MetricsUrl)?,
                topics: sink.topics.clone(),
                subscription: sink.subscription.clone(),
                after: Duration::from_millis(sink.stall_after_ms),
                buffered: sink.buffer.is_some(),
            }),
            _ => None,
        };
        let buffer = match &sink.buffer {
            Some(b) => {
                let default = format!("{}.buffer.redb", config.connector.name);
                let path = config.resolve(b.path.as_deref().unwrap_or(Path::new(&default)));
                Some(Arc::new(DiskBuffer::open(&path, b.max_bytes)?))
            }
            None => None,
        };
        Ok(Self {
            broker: Broker::from_config(config),
            sink,
            buffer,
            stall,
            resubscribe: Arc::default(),
            dead_letter_topic: r.dead_letter_topic.clone(),
            timeouts: Timeouts {
                call: Duration::from_millis(d.call_timeout_ms),
            },
            policy: BatchPolicy {
                max_size: r.batch_size,
                max_wait: Duration::from_millis(r.batch_timeout_ms),
                linger: Duration::from_millis(r.linger_ms),
            },
            max_retries: r.max_retries,
            max_guest_traps: r.max_guest_traps,
            retry: Backoff {
                base: Duration::from_millis(r.retry_backoff_ms),
                max: Duration::from_millis(r.max_backoff_ms),
            },
            reconnect: Backoff {
                base: Duration::from_millis(d.reconnect_backoff_ms),
                max: Duration::from_millis(d.reconnect_max_backoff_ms),
            },
            instance,
            life: Lifecycle::new(config, hosting),
            lane: None,
        })
    }

    /// This runtime is lane `index` of the concurrent sink behind `hub`.
    fn in_lane(mut self, index: usize, hub: Arc<LaneHub>) -> Self {
        self.lane = Some(LaneSeat {
            index,
            hub,
            generation: None,
        });
        self
    }

    pub async fn run(self, shutdown: Shutdown) -> Exit {
        lifecycle::run(self, shutdown).await
    }
}
