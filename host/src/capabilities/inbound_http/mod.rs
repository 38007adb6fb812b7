//! `danube:connect/inbound-http`: HTTP requests pushed to the host, for source connectors
//! granted `[capabilities.inbound_http]` (a webhook endpoint).
//!
//! The host owns the listener, its TLS and its limits (413, 429, 503 before a request
//! reaches the connector); the connector takes requests in batches and answers each, a source
//! only once Danube persisted its records. The listener starts with the connector's first
//! `receive`, so `validate` and a stopped connector hold no port, and it lives as long as the
//! connector: restarts and swaps keep it, and requests wait in its inbox meanwhile.

mod grant;
mod host;
mod inbox;
mod listener;
mod rate;

pub use grant::{InboundHttpGrant, RateLimit};
pub use host::InboundHttpCapability;

use super::{Capability, CapabilityHost, ConnectorContext, GrantKeyError, Granting, tls};
use inbox::Inbox;
use listener::{Limits, Listener};
use rate::RateLimiter;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use wasmtime::component::{HasSelf, Linker};

pub struct InboundHttp;

impl Capability for InboundHttp {
    const NAME: &'static str = "inbound_http";
    const IMPORTS: &'static [&'static str] = &["danube:connect/inbound-http"];
    const GRANTING: Granting = Granting::BySection;
    type Grant = InboundHttpGrant;
    /// The connector's name and, when granted, its endpoint.
    type Shared = (Arc<str>, Option<Arc<Endpoint>>);
    type Instance = InboundHttpCapability;

    fn validate(grant: &InboundHttpGrant) -> Result<(), GrantKeyError> {
        grant::validate(grant)
    }

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut InboundHttpCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::inbound_http::add_to_linker::<
            T,
            HasSelf<InboundHttpCapability>,
        >(linker, get)
    }

    fn open(
        grant: Option<&InboundHttpGrant>,
        connector: &ConnectorContext,
    ) -> anyhow::Result<Self::Shared> {
        let endpoint = match grant {
            Some(g) => Some(Arc::new(Endpoint::new(connector, g)?)),
            None => None,
        };
        Ok((connector.name.clone(), endpoint))
    }

    fn instance((name, endpoint): &Self::Shared) -> InboundHttpCapability {
        InboundHttpCapability::new(name.clone(), endpoint.clone())
    }
}

/// One connector's listener and inbox, shared by its instances.
pub struct Endpoint {
    address: SocketAddr,
    inbox: Arc<Inbox>,
    /// Until the first `receive`: what the listener will serve with.
    listener: Arc<Listener>,
    serving: tokio::sync::OnceCell<JoinHandle<()>>,
}

impl Endpoint {
    fn new(connector: &ConnectorContext, grant: &InboundHttpGrant) -> anyhow::Result<Self> {
        let address = grant.address().map_err(anyhow::Error::msg)?;
        let tls = match (&grant.tls_cert_file, &grant.tls_key_file) {
            (Some(cert), Some(key)) => {
                let config = tls::server_config(&connector.resolve(cert), &connector.resolve(key))
                    .map_err(|e| anyhow::anyhow!("capabilities.inbound_http: {e}"))?;
                Some(tokio_rustls::TlsAcceptor::from(config))
            }
            _ => None,
        };
        let inbox = Arc::new(Inbox::default());
        let listener = Arc::new(Listener {
            connector: connector.name.clone(),
            requests: listener::requests_family(connector.metric_families.registry()),
            inbox: inbox.clone(),
            limits: Limits {
                max_body_bytes: grant.max_body_bytes,
                max_pending: grant.max_pending,
                response_timeout: Duration::from_millis(grant.response_timeout_ms),
                rate: grant.rate_limit.map(RateLimiter::new),
            },
            tls,
        });
        Ok(Self {
            address,
            inbox,
            listener,
            serving: tokio::sync::OnceCell::new(),
        })
    }

    /// Binds and starts serving on the first call; later calls return at once.
    async fn listen(&self) -> Result<(), String> {
        // Every poll asks; after the first success this is a plain read.
        self.serving
            .get_or_try_init(|| async {
                let socket = tokio::net::TcpListener::bind(self.address)
                    .await
                    .map_err(|e| format!("binding {}: {e}", self.address))?;
                let bound = socket.local_addr().map_or(self.address, |a| a);
                tracing::info!(
                    connector = %self.listener.connector,
                    address = %bound,
                    tls = self.listener.tls.is_some(),
                    "listening for HTTP requests"
                );
                Ok::<_, String>(tokio::spawn(self.listener.clone().serve(socket)))
            })
            .await
            .map(|_| ())
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(task) = self.serving.take() {
            task.abort();
        }
        // Connections still open get 503 at once for what waits and for anything new.
        self.inbox.close();
    }
}
