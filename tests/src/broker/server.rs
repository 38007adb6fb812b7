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
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
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
    let fail = |what: &str, e: &dyn std::fmt::Display| BrokerError::Tls(format!("{what}: {e}"));
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| fail("reading the certificate", &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail("reading the certificate", &e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| fail("reading the key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail("the certificate and key", &e))?;
    // gRPC speaks HTTP/2 only.
    config.alpn_protocols = vec![b"h2".to_vec()];
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
