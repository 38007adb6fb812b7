//! What a client is told: a refusal with its reason, or how many records Danube persisted.

use danube_connect_sdk::inbound_http::Response;

/// A request answered at once with a 4xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Refusal {
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn response(&self) -> Response {
        let mut response = Response::text(self.status, self.reason.as_str());
        response.headers.extend(self.headers.iter().cloned());
        response
    }
}

/// The 200 of a request whose `records` records are persisted.
pub fn accepted(records: usize) -> Response {
    Response::json(200, &serde_json::json!({ "records": records }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_carries_its_reason_and_headers() {
        let r = Refusal::new(405, "use POST")
            .with_header("allow", "POST")
            .response();
        assert_eq!(r.status, 405);
        assert_eq!(r.body, b"use POST");
        assert!(r.headers.contains(&("allow".into(), "POST".into())));
    }

    #[test]
    fn accepted_counts_the_records() {
        let r = accepted(3);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &br#"{"records":3}"#[..])
        );
    }
}
