//! The host's admin API (`/connectors…` on the metrics listener) as a test sees it: a
//! connector's view with typed-ish accessors, and helpers that fail the test with the host log
//! when the host does not answer.

use super::HostProcess;
use super::http;
use serde_json::Value;
use std::path::Path;

/// One connector as `GET /connectors/{name}` describes it.
#[derive(Debug, Clone)]
pub struct View(pub Value);

impl View {
    fn str_at(&self, pointer: &str) -> &str {
        self.0
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.str_at("/name")
    }

    pub fn world(&self) -> &str {
        self.str_at("/world")
    }

    pub fn state(&self) -> &str {
        self.str_at("/state")
    }

    pub fn ready(&self) -> bool {
        self.0.pointer("/ready").and_then(Value::as_bool) == Some(true)
    }

    pub fn component_path(&self) -> &str {
        self.str_at("/component/path")
    }

    pub fn sha256(&self) -> &str {
        self.str_at("/component/sha256")
    }

    /// `counts.<key>`, e.g. `count("restarts")`; 0 when absent.
    pub fn count(&self, key: &str) -> u64 {
        self.0
            .pointer(&format!("/counts/{key}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// `last_error.message`, `None` while `last_error` is null.
    pub fn last_error(&self) -> Option<&str> {
        self.0
            .pointer("/last_error/message")
            .and_then(Value::as_str)
    }
}

/// An admin answer: status, the raw body and the body as JSON (`Null` if it is not JSON).
#[derive(Debug, Clone)]
pub struct AdminReply {
    pub status: u16,
    pub text: String,
    pub json: Value,
}

impl AdminReply {
    fn new(status: u16, text: String) -> Self {
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self { status, text, json }
    }

    /// The `error` message of a failed call, or "".
    pub fn error(&self) -> &str {
        self.json.get("error").and_then(Value::as_str).unwrap_or("")
    }

    /// The connector of a 200 answer: the body itself, or its `connector` member (reload).
    pub fn view(&self) -> View {
        View(self.json.get("connector").unwrap_or(&self.json).clone())
    }
}

impl HostProcess {
    pub async fn admin_get(&self, path: &str) -> AdminReply {
        let (status, text) = http::get_with(&self.admin_url(path), self.admin_token.as_deref())
            .await
            .unwrap_or_else(|| panic!("GET {path}: no answer\n{}", self.log()));
        AdminReply::new(status, text)
    }

    pub async fn admin_post(&self, path: &str, body: Option<&str>) -> AdminReply {
        let (status, text) = http::post(&self.admin_url(path), body, self.admin_token.as_deref())
            .await
            .unwrap_or_else(|| panic!("POST {path}: no answer\n{}", self.log()));
        AdminReply::new(status, text)
    }

    /// `GET /connectors`, every view.
    pub async fn connectors(&self) -> Vec<View> {
        let reply = self.admin_get("/connectors").await;
        assert_eq!(reply.status, 200, "GET /connectors: {}", reply.text);
        reply
            .json
            .get("connectors")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("GET /connectors has no list: {}", reply.text))
            .iter()
            .cloned()
            .map(View)
            .collect()
    }

    /// `GET /connectors/{name}`, which must answer 200.
    pub async fn connector(&self, name: &str) -> View {
        let reply = self.admin_get(&format!("/connectors/{name}")).await;
        assert_eq!(
            reply.status,
            200,
            "GET /connectors/{name}: {}\n{}",
            reply.text,
            self.log()
        );
        reply.view()
    }

    /// `POST /connectors/{name}/{action}` (`pause`, `resume`, `restart`), which must answer 200.
    pub async fn control(&self, name: &str, action: &str) -> View {
        let reply = self
            .admin_post(&format!("/connectors/{name}/{action}"), None)
            .await;
        assert_eq!(
            reply.status,
            200,
            "POST /connectors/{name}/{action}: {}\n{}",
            reply.text,
            self.log()
        );
        reply.view()
    }

    /// `POST /connectors/{name}/reload`, from `component` or (None) the current path.
    pub async fn reload(&self, name: &str, component: Option<&Path>) -> AdminReply {
        let body =
            component.map(|c| serde_json::json!({ "component": c.to_string_lossy() }).to_string());
        self.admin_post(&format!("/connectors/{name}/reload"), body.as_deref())
            .await
    }
}
