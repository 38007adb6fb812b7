//! A real HTTP server that records what the sink sends and answers as a test scripts it.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn ok() -> Self {
        Self::status(200)
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn body(mut self, b: &str) -> Self {
        self.body = b.into();
        self
    }
}

type Script = dyn Fn(usize, &[u8]) -> Reply + Send + Sync;

/// How long to hold the answer to request number `n`.
type Delay = dyn Fn(usize) -> Duration + Send + Sync;

struct Inner {
    received: Mutex<Vec<Received>>,
    script: Box<Script>,
    delay: Option<Box<Delay>>,
    /// Requests being answered now, and the most at once.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
    scheme: &'static str,
}

/// A receiver's state, a bound loopback listener and the app recording into that state.
async fn serving(
    script: Box<Script>,
    delay: Option<Box<Delay>>,
) -> (Arc<Inner>, tokio::net::TcpListener, SocketAddr, Router) {
    let inner = Arc::new(Inner {
        received: Mutex::new(Vec::new()),
        script,
        delay,
        in_flight: AtomicUsize::new(0),
        most_in_flight: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("receiver addr");
    let app = Router::new().fallback(record).with_state(inner.clone());
    (inner, listener, addr, app)
}

impl Receiver {
    /// Answers 200 to everything.
    pub async fn start() -> Self {
        Self::scripted(|_, _| Reply::ok()).await
    }

    /// `script(request_number, body)` decides each answer (request numbers start at 0).
    pub async fn scripted(script: impl Fn(usize, &[u8]) -> Reply + Send + Sync + 'static) -> Self {
        Self::serve(Box::new(script), None).await
    }

    /// Answers 200 to everything, each after a delay of up to `max` that varies from
    /// request to request: an endpoint of uneven speed.
    pub async fn delaying(max: Duration) -> Self {
        let spread = max.as_micros().max(1) as u64;
        let delay = move |n: usize| {
            // A fixed scramble of the request number: uneven, and the same in every run.
            let scrambled = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
            Duration::from_micros(scrambled % spread)
        };
        Self::serve(Box::new(|_, _| Reply::ok()), Some(Box::new(delay))).await
    }

    async fn serve(script: Box<Script>, delay: Option<Box<Delay>>) -> Self {
        let (inner, listener, addr, app) = serving(script, delay).await;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            inner,
            addr,
            scheme: "http",
        }
    }

    /// A receiver that answers 503 while the returned flag is set (it starts set): an
    /// endpoint that is down, then back.
    pub async fn switchable() -> (Self, Arc<std::sync::atomic::AtomicBool>) {
        use std::sync::atomic::{AtomicBool, Ordering};
        let down = Arc::new(AtomicBool::new(true));
        let flag = down.clone();
        let receiver = Self::scripted(move |_, _| {
            if flag.load(Ordering::SeqCst) {
                Reply::status(503)
            } else {
                Reply::ok()
            }
        })
        .await;
        (receiver, down)
    }

    /// An HTTPS receiver answering 200, with the certificate and key at these PEM files.
    pub async fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        use hyper_util::server::conn::auto;
        use hyper_util::service::TowerToHyperService;
        let config = super::certificates::server_config(cert, key, &[b"http/1.1"])
            .expect("receiver certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (inner, listener, addr, app) = serving(Box::new(|_, _| Reply::ok()), None).await;
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A client refusing the certificate ends the handshake: nothing to serve.
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let service = TowerToHyperService::new(app);
                        let _ = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    }
                });
            }
        });
        Self {
            inner,
            addr,
            scheme: "https",
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.inner
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The most requests this receiver was answering at once.
    pub fn most_in_flight(&self) -> usize {
        self.inner.most_in_flight.load(Ordering::SeqCst)
    }

    /// Bodies of requests answered with 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}

async fn record(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (n, reply) = {
        let mut received = match inner.received.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let n = received.len();
        let reply = (inner.script)(n, &body);
        received.push(Received {
            at: Instant::now(),
            method: method.to_string(),
            path: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            status: reply.status,
        });
        (n, reply)
    };
    if let Some(delay) = &inner.delay {
        let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.most_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(delay(n)).await;
        inner.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, reply.body).into_response();
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::try_from(k),
            axum::http::HeaderValue::try_from(v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// The `n` of every `{"n":…}` document in a body: a JSON array, one document, or NDJSON.
pub fn numbers(body: &[u8]) -> Vec<u64> {
    let n_of = |v: &serde_json::Value| v.get("n").and_then(serde_json::Value::as_u64);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        return match v {
            serde_json::Value::Array(items) => items.iter().filter_map(n_of).collect(),
            other => n_of(&other).into_iter().collect(),
        };
    }
    body.split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter_map(|v| n_of(&v))
        .collect()
}

impl Receiver {
    /// Every number the receiver accepted (2xx), in arrival order.
    pub fn accepted_numbers(&self) -> Vec<u64> {
        self.accepted()
            .iter()
            .flat_map(|r| numbers(&r.body))
            .collect()
    }
}
