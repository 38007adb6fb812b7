use crate::config::ConnectorConfig;
use danube_client::DanubeClient;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DanubeError {
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("{what} failed: {}", causes(source))]
    Client {
        what: String,
        source: danube_client::errors::DanubeError,
    },
    #[error("{0}")]
    Closed(String),
}

/// An error and its causes, without repeats: a TLS failure reads "transport error: … invalid
/// peer certificate: UnknownIssuer" rather than "transport error: transport error".
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let more = cause.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = cause.source();
    }
    text
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub call: Duration,
}

impl Timeouts {
    /// Run one client call with the configured bound, naming it in the error. `what` is only
    /// built on failure: acks run this once per message.
    pub async fn run<T>(
        &self,
        what: impl FnOnce() -> String,
        call: impl Future<Output = Result<T, danube_client::errors::DanubeError>>,
    ) -> Result<T, DanubeError> {
        match tokio::time::timeout(self.call, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) => Err(DanubeError::Client {
                what: what(),
                source,
            }),
            Err(_) => Err(DanubeError::Timeout {
                what: what(),
                after: self.call,
            }),
        }
    }
}

/// How to reach the broker: its URL, TLS and token. Every client, producer and ack of a
/// connector uses the same.
#[derive(Debug, Clone)]
pub struct Broker {
    pub url: String,
    /// CA of the broker's certificate, with the host's own certificate and key for mTLS.
    pub tls: Option<BrokerTls>,
    pub token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BrokerTls {
    pub ca: PathBuf,
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl Broker {
    /// From `[danube]`, paths resolved against the config file.
    pub fn from_config(config: &ConnectorConfig) -> Self {
        let d = &config.danube;
        let resolve = |p: &PathBuf| config.resolve(p);
        Self {
            url: d.service_url.clone(),
            tls: d.tls_ca.as_ref().map(|ca| BrokerTls {
                ca: resolve(ca),
                identity: d
                    .tls_cert
                    .as_ref()
                    .map(resolve)
                    .zip(d.tls_key.as_ref().map(resolve)),
            }),
            token: d.token.clone(),
        }
    }

    /// A plain broker at `url`, for tools and tests.
    pub fn plain(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            tls: None,
            token: None,
        }
    }
}

/// A fresh client: after a broker restart the old one's cached channels are useless.
pub async fn connect(broker: &Broker, timeouts: Timeouts) -> Result<DanubeClient, DanubeError> {
    let url = &broker.url;
    let what = || format!("connecting to Danube at {url}");
    let mut builder = DanubeClient::builder().service_url(url);
    let tls = match &broker.tls {
        Some(BrokerTls {
            ca,
            identity: Some((cert, key)),
        }) => builder.with_mtls(ca, cert, key),
        Some(BrokerTls { ca, identity: None }) => builder.with_tls(ca),
        None => Ok(builder),
    };
    builder = tls.map_err(|source| DanubeError::Client {
        what: format!("reading the TLS files for {url}"),
        source,
    })?;
    if let Some(token) = &broker.token {
        builder = builder.with_token(token);
    }
    timeouts.run(what, builder.build()).await
}
