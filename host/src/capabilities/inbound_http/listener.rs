//! The listener: accepts connections (TLS when the grant has a certificate), enforces the
//! grant's limits and hands each request to the inbox, answering with whatever comes back, or
//! 503 + `Retry-After` when nothing does in time.

use super::inbox::{Answer, InboundRequest, Inbox};
use super::rate::RateLimiter;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What the handler needs from the grant.
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_pending: usize,
    pub response_timeout: Duration,
    pub rate: Option<RateLimiter>,
}

pub struct Listener {
    pub connector: Arc<str>,
    /// `danube_connector_inbound_requests_total{connector, status}`.
    pub requests: prometheus::IntCounterVec,
    pub inbox: Arc<Inbox>,
    pub limits: Limits,
    pub tls: Option<TlsAcceptor>,
}

impl Listener {
    /// Accepts until the task is aborted; each connection runs on its own task.
    pub async fn serve(self: Arc<Self>, socket: TcpListener) {
        loop {
            let (stream, peer) = match socket.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(connector = %self.connector, "accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let this = self.clone();
            tokio::spawn(async move { this.connection(stream, peer).await });
        }
    }

    async fn connection(self: Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let this = self.clone();
        let service = hyper::service::service_fn(move |req| {
            let this = this.clone();
            async move {
                let response = this.handle(peer.ip(), req).await;
                this.requests
                    .with_label_values(&[&*this.connector, response.status().as_str()])
                    .inc();
                Ok::<_, Infallible>(response)
            }
        });
        let builder = auto::Builder::new(TokioExecutor::new());
        let served = match &self.tls {
            Some(acceptor) => match acceptor.accept(stream).await {
                Ok(tls) => builder.serve_connection(TokioIo::new(tls), service).await,
                Err(e) => {
                    tracing::debug!(connector = %self.connector, %peer, "TLS handshake: {e}");
                    return;
                }
            },
            None => {
                builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await
            }
        };
        if let Err(e) = served {
            tracing::debug!(connector = %self.connector, %peer, "connection ended: {e}");
        }
    }

    async fn handle(&self, client: IpAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let received_at = SystemTime::now();
        if let Some(rate) = &self.limits.rate
            && let Err(wait) = rate.take(client, Instant::now())
        {
            return refusal(429, "too many requests from this client", Some(wait));
        }
        let max = self.limits.max_body_bytes;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return too_large(max);
        }
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, max).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(max),
            Err(e) => return refusal(400, &format!("reading the body: {e}"), None),
        };
        let build = |id| InboundRequest {
            id,
            method: parts.method.as_str().to_owned(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            client: client.to_string(),
            received_at_ms: received_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        let Some((id, answer)) = self.inbox.submit(self.limits.max_pending, build) else {
            return refusal(
                503,
                "too many requests waiting to be persisted",
                Some(Duration::from_secs(1)),
            );
        };
        // Withdraws the request however this ends, also when the future is dropped because
        // the client went away (after an answer there is nothing left to withdraw).
        let _pending = Pending {
            inbox: &self.inbox,
            id,
        };
        match tokio::time::timeout(self.limits.response_timeout, answer).await {
            Ok(Ok(answer)) => response(answer),
            Ok(Err(_)) => refusal(
                503,
                "the connector stopped before this request was persisted; send it again",
                Some(Duration::from_secs(1)),
            ),
            Err(_) => refusal(
                503,
                "not persisted in time; send it again",
                Some(Duration::from_secs(1)),
            ),
        }
    }
}

/// Every answer the listeners of this process gave, by connector and status: one family,
/// registered once.
pub fn requests_family(registry: &prometheus::Registry) -> prometheus::IntCounterVec {
    static FAMILY: std::sync::OnceLock<prometheus::IntCounterVec> = std::sync::OnceLock::new();
    FAMILY
        .get_or_init(|| {
            let family = prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "danube_connector_inbound_requests_total",
                    "HTTP requests answered by a connector's inbound listener, by status",
                ),
                &["connector", "status"],
            )
            .expect("a valid metric name");
            if let Err(e) = registry.register(Box::new(family.clone())) {
                tracing::warn!("registering danube_connector_inbound_requests_total: {e}");
            }
            family
        })
        .clone()
}

/// Withdraws its request when dropped.
struct Pending<'a> {
    inbox: &'a Inbox,
    id: u64,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.inbox.withdraw(self.id);
    }
}

fn too_large(max: usize) -> Response<Full<Bytes>> {
    refusal(413, &format!("the body is larger than {max} bytes"), None)
}

/// The host's own answer, with `Retry-After` (whole seconds, at least 1) when given.
fn refusal(status: u16, reason: &str, retry_after: Option<Duration>) -> Response<Full<Bytes>> {
    let mut answer = Answer::text(status, reason);
    if let Some(wait) = retry_after {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        answer
            .headers
            .push(("retry-after".into(), secs.to_string()));
    }
    response(answer)
}

/// The connector's answer; headers that are not valid HTTP are left out.
fn response(answer: Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.append(name, value);
        }
    }
    response
}
