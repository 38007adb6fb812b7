//! Moving records: check Danube is there, poll, route and queue every record on a producer
//! lane, and take the lanes' acknowledgements, committing whatever became persisted.

use super::SourceRuntime;
use super::route::Router;
use super::schema::schema_of;
use crate::component::GuestFailure;
use crate::component::source_instance::Source;
use crate::danube::dead_letter::attr::{self, error_type};
use crate::danube::lane::{LaneEvent, Outgoing};
use crate::danube::{Publisher, PublisherSettings, connection};
use crate::runtime::control::Control;
use crate::runtime::lifecycle::{self, Stop};
use crate::runtime::shutdown::Shutdown;
use crate::runtime::status::State;
use crate::wit::{GuestError, Record};
use futures::FutureExt;
use std::time::{Duration, Instant};

/// What ended a wait while records are in flight.
enum Woken {
    Event(LaneEvent),
    Command(Control<Source>),
    Shutdown,
}

impl SourceRuntime {
    pub(super) async fn produce(&mut self, shutdown: &mut Shutdown) -> Stop {
        if let Err(stop) = self.reach_danube(shutdown).await {
            return stop;
        }
        if let Err(stop) = self.resolve_schema(shutdown).await {
            return stop;
        }
        let mut publisher = Publisher::new(
            PublisherSettings {
                lanes: self.lanes.clone(),
                lanes_per_topic: self.source.producers_per_topic,
                keep_unkeyed_order: self.source.keep_unkeyed_order,
                default_partitions: self.source.partitions,
                lane_queue: self.source.max_in_flight,
            },
            self.partitions.clone(),
        );
        tracing::info!(
            connector = self.life.name,
            topic = self.source.topic,
            producers_per_topic = self.source.producers_per_topic,
            "producing"
        );
        let stop = self.pump(&mut publisher, shutdown).await;
        // Commit what Danube already has before the instance closes; the rest is handed
        // over again by the external system.
        let until = Instant::now() + self.timeouts.call;
        self.drain(&mut publisher, until, shutdown).await;
        let abandoned = self.inflight.records();
        if abandoned > 0 {
            tracing::warn!(
                connector = self.life.name,
                records = abandoned,
                "stopping with records not yet persisted: their positions stay uncommitted"
            );
        }
        self.inflight = Default::default();
        self.life.metrics.inflight.set(0);
        stop
    }

    /// One connection up front: records polled while Danube is down would only wait.
    async fn reach_danube(&mut self, shutdown: &mut Shutdown) -> Result<(), Stop> {
        let mut failures = 0u32;
        loop {
            match connection::connect(&self.broker, self.timeouts).await {
                Ok(_) => {
                    self.life.status.set_connected(true);
                    return Ok(());
                }
                Err(e) => {
                    self.life.status.set_connected(false);
                    self.life.set_state(State::Reconnecting);
                    let delay = self.reconnect.delay(failures, None);
                    failures += 1;
                    tracing::warn!(
                        connector = self.life.name,
                        "cannot reach Danube: {e}; retrying in {delay:?}"
                    );
                    lifecycle::pause_for(self, delay, shutdown).await?;
                }
            }
        }
    }

    async fn pump(&mut self, publisher: &mut Publisher, shutdown: &mut Shutdown) -> Stop {
        let mut poll_failures = 0u32;
        loop {
            if let Err(stop) = self.settle(publisher, shutdown).await {
                return stop;
            }
            if shutdown.requested() {
                return Stop::Shutdown;
            }
            if let Some(control) = self.deferred.take() {
                // Restart and swap wait for the records in flight to be committed.
                if !self.inflight.is_empty() {
                    self.deferred = Some(control);
                    if let Err(stop) = self.wait(publisher, shutdown).await {
                        return stop;
                    }
                    continue;
                }
                self.apply_command(control).await;
                continue;
            }
            if let Some(control) = self.life.control.recv().now_or_never() {
                self.apply_command(control).await;
                continue;
            }
            let room = self
                .source
                .max_in_flight
                .saturating_sub(self.inflight.records());
            // Wait for room for a worthwhile batch rather than polling a few records at a time.
            let wanted = self.batch_size.min(self.source.max_in_flight / 2).max(1);
            let full = !self.inflight.is_empty() && room < wanted;
            if self.life.paused || full {
                if let Err(stop) = self.wait(publisher, shutdown).await {
                    return stop;
                }
                continue;
            }
            self.life.set_state(State::Running);
            if let Err(stop) = self.open_for_poll(shutdown).await {
                return stop;
            }
            // Wait inside the connector only when nothing is in flight; otherwise come back
            // at once to commit what the lanes finish.
            let idle = self.inflight.is_empty();
            let timeout = if idle {
                Duration::from_millis(self.source.poll_interval_ms)
            } else {
                Duration::ZERO
            };
            let max = self.batch_size.min(room).min(u32::MAX as usize) as u32;
            let started = Instant::now();
            let timer = self.life.metrics.processing.start_timer();
            let polled = self.instance.poll(max, timeout.as_millis() as u32).await;
            timer.observe_duration();
            let records = match polled {
                Ok(Ok(records)) => {
                    poll_failures = 0;
                    self.life.consecutive_traps = 0;
                    records
                }
                Ok(Err(e)) => {
                    if let Err(stop) = self.poll_failed(e, poll_failures, shutdown).await {
                        return stop;
                    }
                    poll_failures += 1;
                    continue;
                }
                Err(failure) => {
                    if let Err(stop) = self.guest_failed(failure, shutdown).await {
                        return stop;
                    }
                    continue;
                }
            };
            if !records.is_empty() {
                if let Err(stop) = self.dispatch(records, publisher, shutdown).await {
                    return stop;
                }
                continue;
            }
            if !idle {
                if let Err(stop) = self.wait(publisher, shutdown).await {
                    return stop;
                }
            } else if let Some(rest) = timeout.checked_sub(started.elapsed()) {
                // A connector that does not wait for data must not make this loop spin.
                if let Err(stop) = lifecycle::pause_for(self, rest, shutdown).await {
                    return stop;
                }
            }
        }
    }

    async fn open_for_poll(&mut self, shutdown: &mut Shutdown) -> Result<(), Stop> {
        match self.life.ensure_open(&mut self.instance).await {
            Ok(()) => Ok(()),
            Err(failure) => self.guest_failed(failure, shutdown).await,
        }
    }

    /// A trap or an `open` refusal: the instance is gone, and with it the right to commit
    /// the positions it handed out (the external system hands those records over again).
    pub(super) async fn guest_failed(
        &mut self,
        failure: GuestFailure,
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        match failure {
            GuestFailure::Open(GuestError::Retryable(retry)) => {
                let what = format!("connector cannot open yet: {}", retry.message);
                lifecycle::back_off_after_trap(self, &what, shutdown).await
            }
            GuestFailure::Open(e) => Err(Stop::Fatal(format!("connector refused to open: {e:?}"))),
            GuestFailure::Trap { kind, message } => {
                self.life.metrics.trap(kind.label());
                self.life.status.set_open(false);
                let what = format!("guest trapped ({}): {message}", kind.label());
                lifecycle::back_off_after_trap(self, &what, shutdown).await
            }
        }
    }

    async fn poll_failed(
        &mut self,
        error: GuestError,
        failures: u32,
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        let (reason, after) = match error {
            GuestError::Fatal(m) | GuestError::Config(m) => return Err(Stop::Fatal(m)),
            GuestError::Retryable(r) => (r.message, r.after_ms),
            // Nothing to dead-letter: a bad record is marked on the record itself.
            GuestError::InvalidData(m) => (format!("invalid data: {m}"), None),
        };
        self.life.metrics.failed("retryable", 1);
        self.life.metrics.retries.inc();
        let delay = self
            .retry
            .delay(failures, after.map(|ms| Duration::from_millis(ms.into())));
        if failures == 0 {
            tracing::warn!(
                connector = self.life.name,
                "poll failed: {reason}; retrying in {delay:?}"
            );
            self.life
                .status
                .record_error(format!("poll failed: {reason}"));
        }
        lifecycle::pause_for(self, delay, shutdown).await
    }

    /// Route every record and queue it on its lane; the batch's positions wait in `inflight`.
    async fn dispatch(
        &mut self,
        records: Vec<Record>,
        publisher: &mut Publisher,
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        let n = records.len();
        let positions = records.iter().filter_map(|r| r.position.clone()).collect();
        let Some(instance) = self.instance.id() else {
            return Ok(());
        };
        let batch = self.inflight.open(n, positions, instance);
        self.life.metrics.batch_size.observe(n as f64);
        self.life.metrics.inflight.add(n as i64);
        let router = Router {
            connector: &self.life.name,
            default_topic: &self.source.topic,
            dead_letter_topic: self.dead_letter_topic.as_deref(),
        };
        for mut record in records {
            let own = match record.schema.take() {
                Some(r) => Some(schema_of(&mut self.record_schemas, &self.schemas, r).await),
                None => None,
            };
            let marked = record.attributes.iter().any(|(k, _)| k == attr::ERROR);
            let reason = match (&own, self.schema.as_deref()) {
                _ if marked => None,
                (Some(Err(why)), _) => Some(why.clone()),
                (None, Some(schema)) => schema.check(&record.payload).err(),
                _ => None,
            };
            if let Some(reason) = reason {
                record.attributes.push((attr::ERROR.into(), reason));
            }
            let routed = router.route(&mut record);
            self.life.metrics.received(&routed.topic, 1);
            if routed.dead_letter {
                self.life.metrics.failed(error_type::INVALID_DATA, 1);
                self.life.metrics.dead_lettered(&routed.topic);
                tracing::warn!(
                    connector = self.life.name,
                    dead_letter_topic = routed.topic,
                    "dead-lettered (invalid_data): {}",
                    routed
                        .attributes
                        .get(attr::ERROR)
                        .map_or("", String::as_str)
                );
            }
            // Dead-lettered records are not of the schema: they go without its reference.
            let schema = match own {
                _ if routed.dead_letter => None,
                Some(own) => own.ok(),
                None => self.schema_ref.clone(),
            };
            let outgoing = Outgoing {
                batch,
                key: routed.key,
                attributes: routed.attributes,
                payload: record.payload.into(),
                schema,
            };
            tokio::select! {
                biased;
                _ = shutdown.wait() => return Err(Stop::Shutdown),
                _ = async {
                    if let Some(parent) = &routed.parent {
                        publisher.create_first(parent).await;
                    }
                    publisher.send(&routed.topic, outgoing).await
                } => {}
            }
        }
        Ok(())
    }

    /// Wait for the next lane event or command; events are taken as they come.
    async fn wait(
        &mut self,
        publisher: &mut Publisher,
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        let woken = tokio::select! {
            _ = shutdown.wait() => Woken::Shutdown,
            c = self.life.control.recv() => Woken::Command(c),
            e = publisher.events().recv() => match e {
                Some(e) => Woken::Event(e),
                None => return Err(Stop::Fatal("the publisher stopped".into())),
            },
        };
        match woken {
            Woken::Shutdown => Err(Stop::Shutdown),
            Woken::Command(c) => {
                self.apply_command(c).await;
                Ok(())
            }
            Woken::Event(e) => {
                self.on_lane_event(e);
                Ok(())
            }
        }
    }

    /// Take every lane event already there, then commit whatever became persisted.
    async fn settle(
        &mut self,
        publisher: &mut Publisher,
        shutdown: &mut Shutdown,
    ) -> Result<(), Stop> {
        while let Ok(e) = publisher.events().try_recv() {
            self.on_lane_event(e);
        }
        self.commit_persisted(shutdown).await
    }

    /// Wait until nothing is in flight, or `until` passes, committing as records persist.
    async fn drain(&mut self, publisher: &mut Publisher, until: Instant, shutdown: &mut Shutdown) {
        let deadline = tokio::time::Instant::from_std(until);
        loop {
            if self.settle(publisher, shutdown).await.is_err() || self.inflight.is_empty() {
                return;
            }
            match tokio::time::timeout_at(deadline, publisher.events().recv()).await {
                Ok(Some(e)) => self.on_lane_event(e),
                Ok(None) | Err(_) => return,
            }
        }
    }

    fn on_lane_event(&mut self, event: LaneEvent) {
        match event {
            LaneEvent::Published { batch, topic, took } => {
                self.inflight.persisted(batch);
                let m = &self.life.metrics;
                m.processed(&topic, 1);
                m.publish.observe(took.as_secs_f64());
                m.inflight.dec();
                if !self.life.status.connected() {
                    self.life.status.set_connected(true);
                    self.life.set_state(State::Running);
                    tracing::info!(connector = self.life.name, topic = %topic, "publishing again");
                }
            }
            LaneEvent::Failed {
                topic,
                error,
                retry_in,
                attempt,
            } => {
                self.life.metrics.retries.inc();
                self.life.metrics.failed("retryable", 1);
                self.life.status.set_connected(false);
                self.life.set_state(State::Reconnecting);
                self.life
                    .status
                    .record_error(format!("publishing to {topic}: {error}"));
                // The first failure and then every tenth, so an outage does not flood the log.
                if attempt == 1 || attempt % 10 == 0 {
                    tracing::warn!(
                        connector = self.life.name,
                        topic = %topic,
                        attempt,
                        "publish failed: {error}; retrying in {retry_in:?} with a new producer"
                    );
                }
            }
        }
    }
}
