//! A subscription that stops being dispatched to must not go unnoticed. A v0.15 broker stops
//! dispatching for good to a reliable subscription that fell far enough behind its producers;
//! from the consumer's side that looks like an idle topic. The broker's own gauge
//! `danube_subscription_lag_messages` tells the two apart: received nothing for
//! `stall_after_ms`, holding nothing back, and the broker reports messages waiting that did
//! not fall since its previous look means stalled. (On a shared, key-shared or failover
//! subscription the lag also counts what other consumers hold; while they make progress it
//! falls, and this consumer receiving nothing is not a stall.) The connector is then reported `stalled` (admin API, `/readyz`, a gauge, the log)
//! and one fresh connection and subscription is tried.

use crate::danube::lag::LagProbe;
use crate::observe::ConnectorMetrics;
use crate::runtime::status::{State, Status};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

#[derive(Clone)]
pub struct StallSettings {
    pub probe: LagProbe,
    pub topics: Vec<String>,
    pub subscription: String,
    pub after: Duration,
    /// Through the local buffer, a full buffer is what holds messages back.
    pub buffered: bool,
}

/// Watches while it lives; the task stops when this is dropped.
pub struct StallWatch(JoinHandle<()>);

impl Drop for StallWatch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl StallWatch {
    /// `resubscribe` is notified once per stall: the sink loop then rebuilds its connection.
    pub fn spawn(
        settings: StallSettings,
        connector: String,
        metrics: ConnectorMetrics,
        status: Status,
        resubscribe: Arc<Notify>,
    ) -> Self {
        let watch = Watch {
            settings,
            connector,
            metrics,
            status,
            resubscribe,
        };
        Self(tokio::spawn(watch.run()))
    }
}

struct Watch {
    settings: StallSettings,
    connector: String,
    metrics: ConnectorMetrics,
    status: Status,
    resubscribe: Arc<Notify>,
}

/// Where a stall episode stands.
enum Episode {
    Flowing,
    /// Reported; a fresh subscription was asked for at `since`.
    Resubscribed {
        since: Instant,
    },
    /// The fresh subscription did not help either.
    Stuck,
}

impl Watch {
    async fn run(self) {
        let tick =
            (self.settings.after / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let mut received = self.metrics.received_total();
        let mut quiet_since = Instant::now();
        let mut episode = Episode::Flowing;
        let mut probe_failed = false;
        // The lag read at the previous look within this quiet spell.
        let mut last_lag: Option<u64> = None;
        loop {
            tokio::time::sleep(tick).await;
            let now = Instant::now();
            let total = self.metrics.received_total();
            let moved = total != received;
            if moved || !self.waiting_on_the_broker() {
                received = total;
                quiet_since = now;
                last_lag = None;
                if moved && !matches!(episode, Episode::Flowing) {
                    self.resumed();
                    episode = Episode::Flowing;
                }
                continue;
            }
            if now - quiet_since < self.settings.after {
                continue;
            }
            let s = &self.settings;
            let lag = match s.probe.lag(&s.topics, &s.subscription).await {
                Ok(lag) => {
                    probe_failed = false;
                    lag
                }
                Err(e) => {
                    if !probe_failed {
                        tracing::warn!(
                            connector = self.connector,
                            "cannot read the broker's subscription lag: {e}"
                        );
                    }
                    probe_failed = true;
                    continue;
                }
            };
            let lag = lag.unwrap_or(0);
            let falling = last_lag.is_none_or(|before| lag < before);
            last_lag = Some(lag);
            match (lag, &episode) {
                (0, Episode::Flowing) => {}
                (0, _) => {
                    self.resumed();
                    episode = Episode::Flowing;
                }
                (_, Episode::Flowing) if falling => {}
                (waiting, Episode::Flowing) => {
                    self.stalled(waiting, quiet_since.elapsed());
                    self.resubscribe.notify_one();
                    episode = Episode::Resubscribed { since: now };
                }
                (waiting, Episode::Resubscribed { since }) if now - *since >= s.after => {
                    tracing::error!(
                        connector = self.connector,
                        waiting,
                        "a fresh connection and subscription did not resume dispatching; the \
                         subscription stays stalled (run the sink with [sink.buffer] so it \
                         never falls that far behind)"
                    );
                    episode = Episode::Stuck;
                }
                _ => {}
            }
        }
    }

    /// Nothing received says something only while the host holds nothing back itself.
    fn waiting_on_the_broker(&self) -> bool {
        let state = self.status.state();
        if !matches!(state, State::Running | State::Stalled) {
            return false;
        }
        if self.settings.buffered {
            self.metrics.buffer.full.get() == 0
        } else {
            self.metrics.inflight.get() <= 0
        }
    }

    fn stalled(&self, waiting: u64, quiet: Duration) {
        let why = format!(
            "the broker reports {waiting} messages waiting for subscription `{}` but has \
             dispatched none for {:.0} s",
            self.settings.subscription,
            quiet.as_secs_f64()
        );
        tracing::error!(
            connector = self.connector,
            "subscription stalled: {why}. A Danube v0.15 broker stops dispatching to a reliable \
             subscription that fell far behind its producers; raise `dispatch: \
             max_unacked_messages` in the broker's config file, or give the sink a durable \
             local buffer ([sink.buffer]) so it keeps up. Trying a fresh connection and \
             subscription"
        );
        self.status.record_error(format!("stalled: {why}"));
        self.status.set_stalled(Some(why));
        self.metrics.stalled.set(1);
    }

    fn resumed(&self) {
        tracing::info!(connector = self.connector, "the subscription flows again");
        self.status.set_stalled(None);
        self.metrics.stalled.set(0);
    }
}
