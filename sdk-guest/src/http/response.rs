//! A response read in full.

/// Status, headers and body of a response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    pub(crate) truncated: bool,
}

impl Response {
    /// A response built by hand, e.g. to unit-test response handling.
    pub fn new(status: u16, headers: Vec<(String, Vec<u8>)>, body: Vec<u8>) -> Self {
        Response {
            status,
            headers,
            body,
            truncated: false,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// All headers in the order received.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The body (at most the request's `max_response_bytes`).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Takes the body.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Whether the body was longer than `max_response_bytes` and cut.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_ignores_case() {
        let r = Response::new(204, vec![("Retry-After".into(), b"5".to_vec())], Vec::new());
        assert!(r.is_success());
        assert_eq!(r.header("retry-after"), Some("5"));
        assert_eq!(r.header("x"), None);
    }
}
