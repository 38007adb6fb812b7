//! A minimal HTTP client for the host's `/metrics`, `/readyz` and admin API.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, header};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Status and body, or `None` when nothing answers.
pub async fn get(url: &str) -> Option<(u16, String)> {
    get_with(url, None).await
}

/// `GET` with an optional `Authorization: Bearer` token.
pub async fn get_with(url: &str, bearer: Option<&str>) -> Option<(u16, String)> {
    send(Method::GET, url, None, bearer, Duration::from_secs(5)).await
}

/// `POST` with an optional JSON body and bearer token. Admin actions answer after the runtime
/// applied them at its next batch boundary (and a reload compiles first), so this waits longer
/// than a scrape.
pub async fn post(url: &str, body: Option<&str>, bearer: Option<&str>) -> Option<(u16, String)> {
    send(Method::POST, url, body, bearer, Duration::from_secs(60)).await
}

async fn send(
    method: Method,
    url: &str,
    body: Option<&str>,
    bearer: Option<&str>,
    timeout: Duration,
) -> Option<(u16, String)> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder().method(method).uri(url);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = Full::new(Bytes::from(body.unwrap_or_default().to_owned()));
    let request = request.body(body).ok()?;
    let resp = tokio::time::timeout(timeout, client.request(request))
        .await
        .ok()?
        .ok()?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Sum of every sample of a Prometheus metric whose labels contain all of `labels`.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, label_part) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| label_part.contains(&format!("{k}=\"{v}\"")));
            if !all {
                return None;
            }
            value.parse::<f64>().ok()
        })
        .sum()
}
