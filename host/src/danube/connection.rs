use danube_client::DanubeClient;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DanubeError {
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("{what} failed: {source}")]
    Client {
        what: String,
        source: danube_client::errors::DanubeError,
    },
    #[error("{0}")]
    Closed(String),
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

/// A fresh client: after a broker restart the old one's cached channels are useless.
pub async fn connect(url: &str, timeouts: Timeouts) -> Result<DanubeClient, DanubeError> {
    timeouts
        .run(
            || format!("connecting to Danube at {url}"),
            DanubeClient::builder().service_url(url).build(),
        )
        .await
}
