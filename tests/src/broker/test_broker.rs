//! The handle tests use to run, stop and restart a broker.

use super::error::BrokerError;
use super::locks::lock;
use super::options::BrokerOptions;
use super::server::{self, Security};
use super::state::BrokerState;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// An in-memory Danube broker serving on a local TCP port.
#[derive(Debug)]
pub struct TestBroker {
    state: Arc<BrokerState>,
    /// The bound address; restarts reuse its port.
    addr: SocketAddr,
    server: Mutex<Option<JoinHandle<()>>>,
    security: Security,
    /// `/metrics` in Prometheus' text format; it keeps serving across stop and restart.
    metrics_addr: SocketAddr,
    metrics: JoinHandle<()>,
}

impl TestBroker {
    /// Starts on 127.0.0.1 with an ephemeral port and default options.
    pub async fn start() -> Result<TestBroker, BrokerError> {
        Self::start_with(BrokerOptions::default()).await
    }

    /// Starts on 127.0.0.1 with an ephemeral port.
    pub async fn start_with(opts: BrokerOptions) -> Result<TestBroker, BrokerError> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), opts).await
    }

    /// Starts on `addr` (port 0 picks a free port).
    pub async fn start_on(
        addr: SocketAddr,
        opts: BrokerOptions,
    ) -> Result<TestBroker, BrokerError> {
        let listener = bind(addr)?;
        let addr = listener
            .local_addr()
            .map_err(|source| BrokerError::Listener { addr, source })?;
        let security = Security::new(opts.tls.as_ref(), opts.token.as_deref())?;
        let state = Arc::new(BrokerState::new(url_for(addr, security.tls()), opts));
        state.set_serving(true);
        let server = server::spawn(listener, &state, &security);
        let metrics_listener = bind(SocketAddr::new(addr.ip(), 0))?;
        let metrics_addr =
            metrics_listener
                .local_addr()
                .map_err(|source| BrokerError::Listener {
                    addr: SocketAddr::new(addr.ip(), 0),
                    source,
                })?;
        let metrics = spawn_metrics(metrics_listener, state.clone());
        Ok(TestBroker {
            state,
            addr,
            server: Mutex::new(Some(server)),
            security,
            metrics_addr,
            metrics,
        })
    }

    /// Where the broker's metrics are served, like a real broker's `--prom-exporter`:
    /// `danube_subscription_lag_messages{topic, subscription}`.
    pub fn metrics_url(&self) -> String {
        format!("{}/metrics", url_for(self.metrics_addr, false))
    }

    /// The URL clients connect to, e.g. `http://127.0.0.1:6650`.
    pub fn url(&self) -> String {
        self.state.url().to_owned()
    }

    /// Stops serving: closes the listener and every connection (open
    /// message streams end), forgets producer and consumer registrations.
    /// Topics, stored messages, subscriptions, cursors and unacked messages
    /// are kept for [`Self::restart`].
    pub async fn stop(&self) {
        self.state.set_serving(false);
        let server = lock(&self.server).take();
        if let Some(server) = server {
            server.abort();
            // Only the cancellation can come back; waiting makes sure the
            // listener is closed when this returns.
            let _ = server.await;
        }
        self.state.forget_clients();
    }

    /// Serves again on the same port with the kept state. Does nothing if
    /// the broker is serving.
    pub async fn restart(&self) -> Result<(), BrokerError> {
        let mut server = lock(&self.server);
        if server.is_none() {
            let listener = bind(self.addr)?;
            self.state.set_serving(true);
            *server = Some(server::spawn(listener, &self.state, &self.security));
        }
        Ok(())
    }

    /// Messages published to a topic (to all its partitions for a
    /// partitioned topic's base name); 0 for an unknown topic.
    pub fn messages_in(&self, topic: &str) -> u64 {
        self.state.messages_in(topic)
    }

    /// Whether a producer has created `topic`.
    pub fn has_topic(&self, topic: &str) -> bool {
        self.state.topic(topic).is_some()
    }

    /// While true, `SendMessage` answers `Status::unavailable`.
    pub fn set_refuse_publishes(&self, refuse: bool) {
        self.state.set_refuse_publishes(refuse);
    }

    /// Consumers of a subscription whose message stream is open. Useful to
    /// wait for a consumer before publishing to a non-reliable topic, or
    /// before relying on how a shared subscription spreads messages.
    pub fn active_consumers(&self, topic: &str, subscription: &str) -> usize {
        self.state.live_streams(topic, subscription)
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.state.set_serving(false);
        if let Some(server) = lock(&self.server).take() {
            server.abort();
        }
        self.metrics.abort();
        self.state.forget_clients();
    }
}

fn spawn_metrics(listener: TcpListener, state: Arc<BrokerState>) -> JoinHandle<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let state = state.clone();
            async move { state.metrics_text() }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// Binds without awaiting so `restart` can hold its lock while binding.
/// std sets SO_REUSEADDR, so the port can be bound again right after a stop.
fn bind(addr: SocketAddr) -> Result<TcpListener, BrokerError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| BrokerError::Listener { addr, source })?;
    TcpListener::from_std(listener).map_err(|source| BrokerError::Listener { addr, source })
}

/// Clients cannot connect to a wildcard address; point them at loopback.
fn url_for(addr: SocketAddr, tls: bool) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}
