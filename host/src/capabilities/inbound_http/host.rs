//! The WIT side of `danube:connect/inbound-http`. An instance remembers which requests it
//! took and has not answered; when it goes (trap, restart, swap, stop) those get 503 with
//! `Retry-After` at once, so their clients send them again instead of waiting for a timeout.

use super::Endpoint;
use super::inbox::{Answer, InboundRequest};
use bindings::danube::connect::inbound_http as wit;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Host bindings of the `inbound-http` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world inbound-http { import danube:connect/inbound-http@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/inbound-http",
        imports: { default: async },
    });
}

pub struct InboundHttpCapability {
    connector: Arc<str>,
    /// `None`: not granted (the import check normally stops such a component at load).
    endpoint: Option<Arc<Endpoint>>,
    /// Taken by this instance and not answered yet.
    taken: HashSet<u64>,
}

impl InboundHttpCapability {
    pub fn new(connector: Arc<str>, endpoint: Option<Arc<Endpoint>>) -> Self {
        Self {
            connector,
            endpoint,
            taken: HashSet::new(),
        }
    }
}

impl Drop for InboundHttpCapability {
    fn drop(&mut self) {
        let Some(endpoint) = &self.endpoint else {
            return;
        };
        if !self.taken.is_empty() {
            tracing::debug!(
                connector = %self.connector,
                requests = self.taken.len(),
                "connector instance gone: its unanswered requests get 503"
            );
        }
        for id in self.taken.drain() {
            let mut answer = Answer::text(
                503,
                "the connector restarted before this request was persisted; send it again",
            );
            answer.headers.push(("retry-after".into(), "1".into()));
            endpoint.inbox.answer(id, answer);
        }
    }
}

fn request(r: InboundRequest) -> wit::Request {
    wit::Request {
        id: r.id,
        method: r.method,
        path: r.path,
        headers: r.headers,
        body: r.body,
        client: r.client,
        received_at_ms: r.received_at_ms,
    }
}

impl wit::Host for InboundHttpCapability {
    async fn receive(&mut self, max: u32, timeout_ms: u32) -> Result<Vec<wit::Request>, String> {
        let Some(endpoint) = self.endpoint.clone() else {
            return Err(format!(
                "inbound HTTP is not granted to connector {}: add [capabilities.inbound_http]",
                self.connector
            ));
        };
        endpoint.listen().await?;
        let taken = endpoint
            .inbox
            .take(max as usize, Duration::from_millis(timeout_ms.into()))
            .await;
        self.taken.extend(taken.iter().map(|r| r.id));
        Ok(taken.into_iter().map(request).collect())
    }

    async fn respond(&mut self, id: u64, response: wit::Response) {
        if !self.taken.remove(&id) {
            return;
        }
        if let Some(endpoint) = &self.endpoint {
            endpoint.inbox.answer(
                id,
                Answer {
                    status: response.status,
                    headers: response.headers,
                    body: response.body,
                },
            );
        }
    }
}
