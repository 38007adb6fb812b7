//! Outgoing connections through an HTTP proxy where one is configured: the grant's `proxy`,
//! else `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` from the environment. A proxied connection
//! is a CONNECT tunnel, so TLS still runs end to end between the host and the endpoint.

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where requests go: straight, or through a proxy chosen per destination.
#[derive(Clone)]
pub struct ProxyConnector {
    direct: HttpConnector,
    proxies: Option<Arc<Matcher>>,
}

/// The proxy settings of a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxySetting {
    /// `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (or their lowercase forms), if set.
    FromEnvironment,
    /// Every request through this proxy, except the hosts of `no_proxy`.
    Explicit {
        url: String,
        no_proxy: String,
    },
    Off,
}

impl ProxyConnector {
    pub fn new(direct: HttpConnector, setting: &ProxySetting) -> Self {
        let proxies = match setting {
            ProxySetting::FromEnvironment => Some(Matcher::from_env()),
            ProxySetting::Explicit { url, no_proxy } => Some(
                Matcher::builder()
                    .all(url.clone())
                    .no(no_proxy.clone())
                    .build(),
            ),
            ProxySetting::Off => None,
        };
        Self {
            direct,
            proxies: proxies.map(Arc::new),
        }
    }
}

impl Service<http::Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let intercept = self.proxies.as_ref().and_then(|m| m.intercept(&dst));
        let mut direct = self.direct.clone();
        match intercept {
            Some(via) => {
                let mut tunnel = Tunnel::new(via.uri().clone(), direct);
                if let Some(auth) = via.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move {
                    std::future::poll_fn(|cx| tunnel.poll_ready(cx)).await?;
                    Ok(tunnel.call(dst).await?)
                })
            }
            None => Box::pin(async move { Ok(direct.call(dst).await?) }),
        }
    }
}
