//! One keep-alive connection pool per connector (http and https), instead of a new TCP
//! connection per request.

use super::proxy::{ProxyConnector, ProxySetting};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::WasiBody;

pub type Connector = hyper_rustls::HttpsConnector<ProxyConnector>;

#[derive(Clone)]
pub struct PooledClient {
    pub(super) client: Client<Connector, WasiBody>,
    /// Ceiling for connect and first-byte timeouts; a guest may ask for less.
    pub(super) timeout: Duration,
}

impl PooledClient {
    /// `tls` says whom HTTPS endpoints must prove to be (and who the host is, for mTLS);
    /// `proxy` where connections go first.
    pub fn new(
        timeout: Duration,
        max_idle_per_host: usize,
        tls: Arc<rustls::ClientConfig>,
        proxy: &ProxySetting,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(ProxyConnector::new(http, proxy));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Self { client, timeout }
    }
}
