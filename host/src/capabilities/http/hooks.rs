//! The wasi-http send hook: allow-list check, then the pooled client with bounded timeouts.

use super::{AllowList, PooledClient};
use http_body_util::BodyExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub struct HttpCapability {
    pub connector: Arc<str>,
    pub allow: AllowList,
    pub client: Option<PooledClient>,
}

impl HttpCapability {
    pub fn denied(connector: Arc<str>) -> Self {
        Self {
            connector,
            allow: AllowList::default(),
            client: None,
        }
    }
}

type ResponseIo = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl WasiHttpHooks for HttpCapability {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, ResponseIo), Error>> + Send>
    {
        let client = match &self.client {
            Some(c) if self.allow.allows(request.uri()) => c.clone(),
            _ => {
                tracing::warn!(
                    connector = &*self.connector,
                    uri = %request.uri(),
                    "outgoing HTTP request denied: host not in capabilities.http.allowed_hosts"
                );
                return Box::new(async { Err(Error::HttpRequestDenied) });
            }
        };
        Box::new(async move {
            let first_byte = bounded(options.and_then(|o| o.first_byte_timeout), client.timeout);
            let response = tokio::time::timeout(first_byte, client.client.request(request))
                .await
                .map_err(|_| Error::ConnectionReadTimeout)?
                .map_err(classify)?;
            let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as ResponseIo))
        })
    }
}

fn bounded(asked: Option<Duration>, ceiling: Duration) -> Duration {
    asked.map_or(ceiling, |d| d.min(ceiling))
}

fn classify(e: hyper_util::client::legacy::Error) -> Error {
    if e.is_connect() {
        let text = format!("{e:?}");
        // TLS runs inside the connector: name a refused certificate rather than "unavailable".
        if text.contains("InvalidCertificate") || text.contains("invalid peer certificate") {
            return Error::TlsCertificateError;
        }
        if text.contains("AlertReceived") || text.contains("HandshakeFailure") {
            return Error::TlsProtocolError;
        }
        if text.contains("ConnectionRefused") {
            return Error::ConnectionRefused;
        }
        if text.contains("timed out") || text.contains("TimedOut") {
            return Error::ConnectionTimeout;
        }
        if text.contains("dns error") {
            return Error::DnsError {
                rcode: None,
                info_code: None,
            };
        }
        return Error::DestinationUnavailable;
    }
    match std::error::Error::source(&e).and_then(|s| s.downcast_ref::<hyper::Error>()) {
        Some(h) if h.is_incomplete_message() => Error::HttpResponseIncomplete,
        Some(_) => Error::ConnectionTerminated,
        None => Error::InternalError(Some(e.to_string())),
    }
}
