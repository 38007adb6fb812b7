//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! ```no_run
//! use std::time::Duration;
//! use danube_connect_sdk::http::{HttpError, Request};
//!
//! fn notify() -> Result<bool, HttpError> {
//!     let response = Request::post("https://example.com/hook")
//!         .header("content-type", "application/json")
//!         .body(br#"{"hello":"world"}"#.to_vec())
//!         .timeout(Duration::from_secs(5))
//!         .send()?;
//!     Ok(response.is_success())
//! }
//! ```
//!
//! The host only lets requests through to the hosts on the connector's allow-list; any
//! other host fails with [`HttpError::Denied`]. Outside WebAssembly `send` always fails
//! with [`HttpError::Other`], so keep request building and response handling testable
//! apart from sending.

mod error;
mod request;
mod response;
mod retry;
mod transport;
mod url;

pub use error::HttpError;
pub use request::{Method, Request};
pub use response::Response;
pub use retry::{
    DEFAULT_FATAL_ON_STATUS, DEFAULT_MAX_RETRY_AFTER_MS, Outcome, Rejection, RetryPolicy,
    retry_after_ms,
};

/// Sends `requests` concurrently and returns their outcomes in the same order. Every
/// request is started (head and body handed to the host) before any response is awaited,
/// so the total time is close to that of the slowest request rather than the sum.
pub fn send_all(requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
    transport::send_all(requests)
}

/// Checks that `url` is an absolute `http`/`https` URL this client can send to; the error
/// says what is wrong. Meant for validating configuration in `open`.
pub fn check_url(url: &str) -> Result<(), String> {
    url::parse(url).map(|_| ())
}
