//! The source loop: `poll` → publish every record (several producers per topic, by key) →
//! wait for Danube's acknowledgements → `commit` the positions in poll order. The next poll
//! runs while earlier records are still in flight, up to `source.max_in_flight` records.
//! Nothing is committed before Danube persisted it, and no record is skipped: a failed
//! publish is retried on a rebuilt producer until it succeeds.

mod commit;
mod inflight;
mod pump;
mod route;
mod schema;
mod steer;

use super::lifecycle::{self, Lifecycle, Steer, Stop};
use super::shutdown::Shutdown;
use crate::backoff::Backoff;
use crate::capabilities::schemas::SchemaAccess;
use crate::capabilities::topics::TopicPartitions;
use crate::client::direct::Direct;
use crate::component::SourceInstance;
use crate::component::source_instance::{Source, SourceFactory};
use crate::config::{ConnectorConfig, DispatchStrategy, SourceSection};
use crate::danube::SchemaRef;
use crate::danube::lane::LaneSettings;
use crate::danube::shared_client::SharedClient;
use crate::danube::{Broker, Timeouts};
use crate::runtime::control::Control;
use crate::schemas::Resolved;
use inflight::InFlight;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use super::lifecycle::{Exit, Hosting};

pub struct SourceRuntime {
    broker: Broker,
    source: SourceSection,
    dead_letter_topic: Option<String>,
    timeouts: Timeouts,
    batch_size: usize,
    max_retries: u32,
    retry: Backoff,
    reconnect: Backoff,
    lanes: Arc<LaneSettings>,
    partitions: TopicPartitions,
    instance: SourceInstance,
    inflight: InFlight,
    /// `[source.schema]`'s file, resolved against the config file's folder.
    schema_file: Option<PathBuf>,
    /// The schema records are published under, once resolved, and its reference.
    schema: Option<Arc<Resolved>>,
    schema_ref: Option<Arc<SchemaRef>>,
    /// The registry as the connector's `schemas` capability reaches it, and the references
    /// records named so far.
    schemas: Arc<SchemaAccess>,
    record_schemas: HashMap<(u64, u32), Arc<SchemaRef>>,
    /// A restart or swap asked for while records were in flight: applied once they are
    /// committed, since their positions belong to the running instance.
    deferred: Option<Control<Source>>,
    life: Lifecycle<Source>,
}

impl Steer for SourceRuntime {
    type Role = Source;

    fn life(&mut self) -> &mut Lifecycle<Source> {
        &mut self.life
    }

    fn parts(&mut self) -> (&mut Lifecycle<Source>, &mut SourceInstance) {
        (&mut self.life, &mut self.instance)
    }

    fn apply(&mut self, control: Control<Source>) -> impl Future<Output = bool> + Send {
        self.apply_command(control)
    }

    fn swap(
        &mut self,
        factory: Arc<SourceFactory>,
    ) -> impl Future<Output = Result<Duration, String>> + Send {
        self.swap_in(factory)
    }

    fn work<'a>(
        &'a mut self,
        shutdown: &'a mut Shutdown,
    ) -> impl Future<Output = Stop> + Send + 'a {
        self.produce(shutdown)
    }
}

impl SourceRuntime {
    pub fn new(
        config: &ConnectorConfig,
        source: SourceSection,
        instance: SourceInstance,
        partitions: TopicPartitions,
        schemas: Arc<SchemaAccess>,
        hosting: Hosting<Source>,
    ) -> Self {
        let r = &config.runtime;
        let d = &config.danube;
        let timeouts = Timeouts {
            call: Duration::from_millis(d.call_timeout_ms),
        };
        let reconnect = Backoff {
            base: Duration::from_millis(d.reconnect_backoff_ms),
            max: Duration::from_millis(d.reconnect_max_backoff_ms),
        };
        let schema_file = source
            .schema
            .as_ref()
            .and_then(|s| s.file.as_deref())
            .map(|f| config.resolve(f));
        Self {
            broker: Broker::from_config(config),
            schema_file,
            schema: None,
            schema_ref: None,
            schemas,
            record_schemas: HashMap::new(),
            lanes: Arc::new(LaneSettings {
                connector: config.connector.name.clone(),
                client: SharedClient::new(Broker::from_config(config), timeouts),
                timeouts,
                reliable: source.dispatch_strategy == DispatchStrategy::Reliable,
                backoff: reconnect,
                sends_in_flight: source.sends_in_flight,
                // Unreadable TLS files fail the client's own connection with their cause.
                direct: Direct::new(&Broker::from_config(config)).ok().map(Arc::new),
            }),
            source,
            dead_letter_topic: r.dead_letter_topic.clone(),
            timeouts,
            batch_size: r.batch_size,
            max_retries: r.max_retries,
            retry: Backoff {
                base: Duration::from_millis(r.retry_backoff_ms),
                max: Duration::from_millis(r.max_backoff_ms),
            },
            reconnect,
            partitions,
            instance,
            inflight: InFlight::default(),
            deferred: None,
            life: Lifecycle::new(config, hosting),
        }
    }

    pub async fn run(self, shutdown: Shutdown) -> Exit {
        lifecycle::run(self, shutdown).await
    }
}
