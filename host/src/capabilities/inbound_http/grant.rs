//! `[capabilities.inbound_http]`: where the host listens for a connector, and the limits it
//! enforces before a request reaches the connector.

use super::super::GrantKeyError;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundHttpGrant {
    /// `address:port` to listen on, e.g. `0.0.0.0:8080`.
    pub bind: String,
    /// PEM certificate chain and key: with both, the listener speaks HTTPS only.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Largest request body; a larger one is answered 413 without reaching the connector.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Requests received and not yet answered; past this the host answers 503 with
    /// `Retry-After` at once.
    #[serde(default = "default_max_pending")]
    pub max_pending: usize,
    /// A request the connector has not answered this long after it arrived (not yet
    /// persisted) gets 503 with `Retry-After`; its client sends it again.
    #[serde(default = "default_response_timeout")]
    pub response_timeout_ms: u64,
    /// Requests per second each client IP may send (token bucket); over it, 429.
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: f64,
    /// Requests a quiet client may send at once; `per_second` (at least 1) when absent.
    pub burst: Option<f64>,
}

fn default_max_body() -> usize {
    1 << 20
}

fn default_max_pending() -> usize {
    1024
}

fn default_response_timeout() -> u64 {
    10_000
}

impl InboundHttpGrant {
    pub fn address(&self) -> Result<SocketAddr, String> {
        self.bind
            .parse()
            .map_err(|e| format!("\"{}\" is not an address:port ({e})", self.bind))
    }
}

pub(super) fn validate(grant: &InboundHttpGrant) -> Result<(), GrantKeyError> {
    grant.address().map_err(|m| GrantKeyError::new("bind", m))?;
    if grant.tls_cert_file.is_some() != grant.tls_key_file.is_some() {
        return Err(GrantKeyError::new(
            "tls_key_file",
            "tls_cert_file and tls_key_file go together",
        ));
    }
    if grant.max_body_bytes == 0 {
        return Err(GrantKeyError::new("max_body_bytes", "must be at least 1"));
    }
    if grant.max_pending == 0 {
        return Err(GrantKeyError::new("max_pending", "must be at least 1"));
    }
    if grant.response_timeout_ms == 0 {
        return Err(GrantKeyError::new(
            "response_timeout_ms",
            "must be at least 1",
        ));
    }
    if let Some(limit) = grant.rate_limit {
        if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
            return Err(GrantKeyError::new(
                "rate_limit.per_second",
                "must be a number above 0",
            ));
        }
        if limit.burst.is_some_and(|b| !(b.is_finite() && b >= 1.0)) {
            return Err(GrantKeyError::new("rate_limit.burst", "must be at least 1"));
        }
    }
    Ok(())
}
