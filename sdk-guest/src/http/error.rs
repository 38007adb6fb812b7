//! Why a request failed, sorted by what a connector should do about it.

use super::RetryPolicy;
use crate::Error;

/// A request that produced no HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The host refused the destination: it is not on the connector's allow-list.
    #[error(
        "request to {url} denied by the host: its host is not in the connector's allowed hosts"
    )]
    Denied { url: String },
    /// Connecting, waiting for the response or reading the body took longer than allowed.
    #[error("request to {url} timed out: {detail}")]
    Timeout { url: String, detail: String },
    /// DNS failure, connection refused or reset, TLS handshake failure.
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    /// The request could not be built: bad URL, method or header.
    #[error("invalid request to {url}: {detail}")]
    InvalidRequest { url: String, detail: String },
    /// Anything else, e.g. a protocol error or a response cut short.
    #[error("request to {url} failed: {detail}")]
    Other { url: String, detail: String },
}

impl HttpError {
    /// The URL of the failed request.
    pub fn url(&self) -> &str {
        match self {
            HttpError::Denied { url }
            | HttpError::Timeout { url, .. }
            | HttpError::Connect { url, .. }
            | HttpError::InvalidRequest { url, .. }
            | HttpError::Other { url, .. } => url,
        }
    }
}

impl From<HttpError> for Error {
    /// As [`RetryPolicy::default`] decides: denied → fatal (retrying cannot help), invalid
    /// request → invalid data, everything else → retryable.
    fn from(e: HttpError) -> Self {
        match RetryPolicy::default()
            .decide_error(&e)
            .result(e.to_string())
        {
            Err(error) => error,
            // Not reached: a request without a response is never delivered.
            Ok(()) => Error::retryable(e.to_string()),
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn from_code(url: &str, code: wasip2::http::types::ErrorCode) -> HttpError {
    use wasip2::http::types::ErrorCode as C;
    let url = url.to_string();
    let detail = format!("{code:?}");
    let detail = detail.trim_start_matches("ErrorCode::").to_string();
    match code {
        C::HttpRequestDenied => HttpError::Denied { url },
        C::DnsTimeout
        | C::ConnectionTimeout
        | C::ConnectionReadTimeout
        | C::ConnectionWriteTimeout
        | C::HttpResponseTimeout => HttpError::Timeout { url, detail },
        C::DnsError(_)
        | C::DestinationNotFound
        | C::DestinationUnavailable
        | C::DestinationIpProhibited
        | C::DestinationIpUnroutable
        | C::ConnectionRefused
        | C::ConnectionTerminated
        | C::ConnectionLimitReached
        | C::TlsProtocolError
        | C::TlsCertificateError
        | C::TlsAlertReceived(_) => HttpError::Connect { url, detail },
        C::HttpRequestLengthRequired
        | C::HttpRequestBodySize(_)
        | C::HttpRequestMethodInvalid
        | C::HttpRequestUriInvalid
        | C::HttpRequestUriTooLong
        | C::HttpRequestHeaderSectionSize(_)
        | C::HttpRequestHeaderSize(_) => HttpError::InvalidRequest { url, detail },
        _ => HttpError::Other { url, detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_connector_errors() {
        let denied = HttpError::Denied {
            url: "https://x/".into(),
        };
        let e = Error::from(denied);
        assert!(matches!(&e, Error::Fatal(m) if m.contains("https://x/")));
        let t = HttpError::Timeout {
            url: "u".into(),
            detail: "d".into(),
        };
        assert!(Error::from(t).is_retryable());
    }
}
