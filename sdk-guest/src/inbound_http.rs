//! HTTP requests pushed to the host (`danube:connect/inbound-http`), for source connectors
//! granted `[capabilities.inbound_http]`. The host listens; a connector takes requests in
//! batches, turns each into records and answers it with [`respond`]: at once when it refuses
//! it, and in `commit` (once Danube persisted its records) when it accepts it.
//!
//! ```ignore
//! use danube_connect_sdk::inbound_http::{self, Response};
//! for request in inbound_http::receive(100, 500)? {
//!     inbound_http::respond(request.id, &Response::text(401, "missing token"));
//! }
//! ```

use crate::Error;
pub use crate::bindings::source::danube::connect::inbound_http::{Request, Response};

/// Up to `max` requests, waiting at most `timeout_ms` for the first one. The first call
/// starts the host's listener; when it cannot listen (address in use, not permitted) the
/// error is retryable, so the host backs off and tries again.
pub fn receive(max: u32, timeout_ms: u32) -> Result<Vec<Request>, Error> {
    crate::bindings::source::danube::connect::inbound_http::receive(max, timeout_ms)
        .map_err(|m| Error::retryable(format!("cannot listen for HTTP requests: {m}")))
}

/// Answer request `id`; an id answered already, or given up on by the host, is ignored.
pub fn respond(id: u64, response: &Response) {
    crate::bindings::source::danube::connect::inbound_http::respond(id, response)
}

impl Request {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}

impl Response {
    /// A plain-text answer.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.into().into_bytes(),
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }
}
