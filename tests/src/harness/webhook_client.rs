//! A webhook sender for the inbound HTTP tests: POSTs over a keep-alive pool, signed the
//! Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`) when given a
//! secret, as a provider such as a payment or source-control service would.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What came back: the status (0 when nothing answered), its `Retry-After` and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Clone)]
pub struct WebhookClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn standard_signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

impl WebhookClient {
    /// Requests go to `http://127.0.0.1:{port}`.
    pub fn new(port: u16) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build_http(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// POST `body` to `path` with `headers`; status 0 when the host did not answer.
    pub async fn post(&self, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
        let mut request = Request::post(format!("{}{path}", self.base));
        for (k, v) in headers {
            request = request.header(*k, v.as_str());
        }
        let Ok(request) = request.body(Full::new(Bytes::from(body))) else {
            return Answer::none("bad request");
        };
        let sent = tokio::time::timeout(Duration::from_secs(30), self.client.request(request));
        let response = match sent.await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Answer::none(&e.to_string()),
            Err(_) => return Answer::none("no answer in 30 s"),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        Answer {
            status,
            retry_after,
            body,
        }
    }

    /// POST signed with the Standard Webhooks `key`, as message `id` sent at `timestamp`.
    pub async fn post_signed(
        &self,
        path: &str,
        key: &[u8],
        id: &str,
        timestamp: i64,
        body: Vec<u8>,
    ) -> Answer {
        let headers = [
            ("content-type", "application/json".to_string()),
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                standard_signature(key, id, timestamp, &body),
            ),
        ];
        self.post(path, &headers, body).await
    }
}

impl Answer {
    fn none(why: &str) -> Self {
        Self {
            status: 0,
            retry_after: None,
            body: why.to_owned(),
        }
    }
}
