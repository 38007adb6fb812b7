//! The admin API: list connectors and pause, resume, restart or reload them. JSON in and out;
//! the schema is documented in the README.

use crate::runtime::control::{Action, ControlError};
use crate::supervisor::view::describe;
use crate::supervisor::{ConnectorHandle, Connectors, ReloadError};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus::Registry;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Clone)]
pub struct Admin {
    pub connectors: Arc<Connectors>,
    pub registry: Registry,
    /// Required as `Authorization: Bearer …` on every admin route when set.
    pub token: Option<Arc<str>>,
    /// Without a token, changes are accepted only on a loopback listener.
    pub changes_allowed: bool,
}

pub fn routes(admin: Admin) -> Router {
    Router::new()
        .route("/connectors", get(list))
        .route("/connectors/{name}", get(one))
        .route("/connectors/{name}/{action}", post(act))
        .route_layer(middleware::from_fn_with_state(admin.clone(), authorize))
        .with_state(admin)
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(State(admin): State<Admin>, req: Request, next: Next) -> Response {
    if let Some(token) = &admin.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
            return error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (metrics.admin_token)",
            );
        }
    } else if req.method() != axum::http::Method::GET && !admin.changes_allowed {
        return error(
            StatusCode::FORBIDDEN,
            "the admin API accepts changes on a non-loopback listener only with metrics.admin_token set",
        );
    }
    next.run(req).await
}

async fn list(State(admin): State<Admin>) -> Response {
    let families = admin.registry.gather();
    let all: Vec<_> = admin
        .connectors
        .iter()
        .map(|h| describe(h, &families))
        .collect();
    Json(json!({ "connectors": all })).into_response()
}

fn not_found(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no connector named `{name}`"),
    )
}

async fn one(State(admin): State<Admin>, Path(name): Path<String>) -> Response {
    match admin.connectors.get(&name) {
        Some(h) => Json(describe(h, &admin.registry.gather())).into_response(),
        None => not_found(&name),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReloadBody {
    component: Option<std::path::PathBuf>,
}

async fn act(
    State(admin): State<Admin>,
    Path((name, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(handle) = admin.connectors.get(&name).cloned() else {
        return not_found(&name);
    };
    let command = match action.as_str() {
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "restart" => Action::Restart,
        "reload" => return reload(&admin, &handle, &body).await,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action `{other}`: use pause, resume, restart or reload"),
            );
        }
    };
    match handle.act(command).await {
        Ok(_) => Json(describe(&handle, &admin.registry.gather())).into_response(),
        Err(e) => control_error(e),
    }
}

fn control_error(e: ControlError) -> Response {
    let status = match e {
        ControlError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ControlError::Stopped => StatusCode::CONFLICT,
        ControlError::Pending(_) => StatusCode::ACCEPTED,
    };
    error(status, e)
}

async fn reload(admin: &Admin, handle: &ConnectorHandle, body: &[u8]) -> Response {
    let request: ReloadBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadBody::default()
    } else {
        match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("expected {{\"component\": \"path.wasm\"}} or no body: {e}"),
                );
            }
        }
    };
    match handle.reload(request.component, "admin API").await {
        Ok(report) => Json(json!({
            "connector": describe(handle, &admin.registry.gather()),
            "reload": report,
        }))
        .into_response(),
        Err(ReloadError::Unavailable(e)) => control_error(e),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abcdefgh", b"abcdefgh"));
        assert!(!same_secret(b"abcdefgh", b"abcdefgX"));
        assert!(!same_secret(b"abcdefgh", b"abcdefg"));
    }
}
