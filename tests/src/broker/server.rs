//! Accepts connections and serves HTTP/2 gRPC on them.

use super::service::routes;
use super::state::BrokerState;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Pause after a failed accept (e.g. out of file descriptors) so the loop
/// does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves until the returned task is aborted. Aborting it drops the
/// listener and every connection at once, which is what a broker going
/// down looks like to clients (unlike a graceful shutdown, which would wait
/// for their streams to finish).
pub(crate) fn spawn(listener: TcpListener, state: &Arc<BrokerState>) -> JoinHandle<()> {
    let routes = routes(state);
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => {
                        // Acks are small request/response round trips.
                        let _ = tcp.set_nodelay(true);
                        let service = TowerToHyperService::new(routes.clone());
                        connections.spawn(async move {
                            let connection = http2::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(tcp), service);
                            // A client going away is not the broker's error.
                            let _ = connection.await;
                        });
                    }
                    Err(_) => tokio::time::sleep(ACCEPT_RETRY).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}
