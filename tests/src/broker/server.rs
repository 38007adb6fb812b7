//! Accepts connections and serves HTTP/2 gRPC on them.

use super::error::BrokerError;
use super::options::ServerTls;
use super::service::routes;
use super::state::BrokerState;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// Pause after a failed accept (e.g. out of file descriptors) so the loop
/// does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves until the returned task is aborted. Aborting it drops the
/// listener and every connection at once, which is what a broker going
/// down looks like to clients (unlike a graceful shutdown, which would wait
/// for their streams to finish).
pub(crate) fn spawn(
    listener: TcpListener,
    state: &Arc<BrokerState>,
    security: &Security,
) -> JoinHandle<()> {
    let mut routes = routes(state).into_axum_router();
    if let Some(token) = &security.token {
        let expected: Arc<str> = format!("Bearer {token}").into();
        routes = routes.layer(middleware::from_fn(move |request: Request, next: Next| {
            let expected = expected.clone();
            async move { require_token(&expected, request, next).await }
        }));
    }
    let acceptor = security.acceptor.clone();
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => {
                        // Acks are small request/response round trips.
                        let _ = tcp.set_nodelay(true);
                        let service = TowerToHyperService::new(routes.clone());
                        let acceptor = acceptor.clone();
                        connections.spawn(async move {
                            let http = http2::Builder::new(TokioExecutor::new());
                            // A client going away, or failing the handshake, is not the
                            // broker's error.
                            match acceptor {
                                Some(acceptor) => {
                                    if let Ok(tls) = acceptor.accept(tcp).await {
                                        let _ = http.serve_connection(TokioIo::new(tls), service).await;
                                    }
                                }
                                None => {
                                    let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                                }
                            }
                        });
                    }
                    Err(_) => tokio::time::sleep(ACCEPT_RETRY).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

/// TLS and token checking, prepared once and kept across restarts.
#[derive(Clone, Default)]
pub(crate) struct Security {
    acceptor: Option<TlsAcceptor>,
    token: Option<String>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("tls", &self.acceptor.is_some())
            .field("token", &self.token.is_some())
            .finish()
    }
}

impl Security {
    pub(crate) fn new(tls: Option<&ServerTls>, token: Option<&str>) -> Result<Self, BrokerError> {
        let acceptor = match tls {
            Some(files) => Some(acceptor(files)?),
            None => None,
        };
        Ok(Self {
            acceptor,
            token: token.map(str::to_owned),
        })
    }

    pub(crate) fn tls(&self) -> bool {
        self.acceptor.is_some()
    }
}

fn acceptor(files: &ServerTls) -> Result<TlsAcceptor, BrokerError> {
    // gRPC speaks HTTP/2 only.
    let config = crate::harness::certificates::server_config(&files.cert, &files.key, &[b"h2"])
        .map_err(BrokerError::Tls)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Calls without the expected bearer token are refused as the broker refuses them.
async fn require_token(expected: &str, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if given == Some(expected) {
        return next.run(request).await;
    }
    let status = match given {
        None => tonic::Status::unauthenticated("missing authorization token"),
        Some(_) => tonic::Status::unauthenticated("invalid authorization token"),
    };
    status.into_http()
}
