//! `/metrics`, `/healthz` and `/readyz` on the configured address.

use super::Health;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use std::net::SocketAddr;

#[derive(Clone)]
struct AppState {
    registry: Registry,
    health: Health,
}

/// Bind now (so a taken port fails start-up with a clear error), serve in the background.
pub async fn serve(
    bind: SocketAddr,
    registry: Registry,
    health: Health,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { registry, health });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("metrics server stopped: {e}");
        }
    });
    Ok(local)
}

async fn metrics(
    State(s): State<AppState>,
) -> (StatusCode, [(&'static str, &'static str); 1], Vec<u8>) {
    let mut buf = Vec::new();
    let status = match TextEncoder::new().encode(&s.registry.gather(), &mut buf) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, [("content-type", "text/plain; version=0.0.4")], buf)
}

async fn readyz(State(s): State<AppState>) -> (StatusCode, String) {
    match s.health.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n".into()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}
