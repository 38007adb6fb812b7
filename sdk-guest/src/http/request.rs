//! Building an outgoing request.

use std::time::Duration;

use super::{HttpError, Response};

/// HTTP request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    /// The method name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

/// Default for [`Request::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`Request::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// An HTTP request, sent with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
}

impl Request {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(Method::Patch, url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    /// Appends a header; repeated names are sent as repeated fields. `content-length` is
    /// set from the body automatically.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Upper bound for the whole exchange: connecting, sending, waiting for the response
    /// and reading its body (default 30 s). Also passed to the host as the connect,
    /// first-byte and between-bytes timeouts.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Response body bytes kept; the rest is not read and [`Response::truncated`] is set
    /// (default 4 MiB).
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers added so far.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Sends the request and reads the whole response, blocking until done or timed out.
    /// Any status code is a successful exchange; only a missing response is an error.
    pub fn send(self) -> Result<Response, HttpError> {
        super::transport::send(self)
    }

    /// [`Request::send`] with `body` in place of the request's own body, read where it lies:
    /// for a large body the caller still needs afterwards (a batch it may have to resend in
    /// parts), this saves a copy of it.
    pub fn send_borrowed(self, body: &[u8]) -> Result<Response, HttpError> {
        super::transport::send_borrowed(self, body)
    }

    /// Headers as sent with `body`: the caller's plus `content-length` for requests that carry
    /// a body.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn wire_headers(&self, body: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut headers: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length"))
            .cloned()
            .collect();
        let has_body =
            !body.is_empty() || matches!(self.method, Method::Post | Method::Put | Method::Patch);
        if has_body {
            headers.push((
                "content-length".to_string(),
                body.len().to_string().into_bytes(),
            ));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_derived_from_the_body() {
        let r = Request::post("http://h/")
            .header("Content-Length", "999")
            .header("x-a", "1")
            .body(b"abc".to_vec());
        let h = r.wire_headers(&r.body);
        assert_eq!(
            h,
            vec![
                ("x-a".to_string(), b"1".to_vec()),
                ("content-length".to_string(), b"3".to_vec())
            ]
        );
        assert!(Request::get("http://h/").wire_headers(&[]).is_empty());
        assert_eq!(
            Request::post("http://h/").wire_headers(&[]),
            vec![("content-length".to_string(), b"0".to_vec())]
        );
    }
}
