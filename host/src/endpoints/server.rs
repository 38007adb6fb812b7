//! `/metrics`, `/healthz`, `/readyz` and the admin API on the configured address.

use super::admin::{self, Admin};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus::{Encoder, TextEncoder};
use std::net::SocketAddr;

/// Paths orchestrators probe; deployment manifests are checked against them.
pub const METRICS_PATH: &str = "/metrics";
pub const LIVENESS_PATH: &str = "/healthz";
pub const READINESS_PATH: &str = "/readyz";

/// Bind now (so a taken port fails start-up with a clear error), serve in the background.
pub async fn serve(bind: SocketAddr, admin: Admin) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route(METRICS_PATH, get(metrics))
        .route(LIVENESS_PATH, get(|| async { "ok\n" }))
        .route(READINESS_PATH, get(readyz))
        .with_state(admin.clone())
        .merge(admin::routes(admin));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("metrics server stopped: {e}");
        }
    });
    Ok(local)
}

async fn metrics(
    State(s): State<Admin>,
) -> (StatusCode, [(&'static str, &'static str); 1], Vec<u8>) {
    let mut buf = Vec::new();
    let status = match TextEncoder::new().encode(&s.registry.gather(), &mut buf) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, [("content-type", "text/plain; version=0.0.4")], buf)
}

async fn readyz(State(s): State<Admin>) -> (StatusCode, String) {
    match s.connectors.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n".into()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}
