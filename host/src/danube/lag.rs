//! How far behind the broker says a subscription is: `danube_subscription_lag_messages` from
//! its Prometheus exporter. The client API has no such call, and only the broker can tell a
//! stalled subscription (messages waiting, none dispatched) from an idle topic.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

const METRIC: &str = "danube_subscription_lag_messages";

#[derive(Clone)]
pub struct LagProbe {
    client: Client<HttpConnector, Empty<Bytes>>,
    url: http::Uri,
    timeout: Duration,
}

impl LagProbe {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let url = url
            .parse()
            .map_err(|e| format!("danube.metrics_url \"{url}\": {e}"))?;
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            url,
            timeout,
        })
    }

    /// The lag of `subscription` summed over `topics` (and their partitions); `None` when the
    /// broker reports none for it (it reports lag only while a consumer is attached).
    pub async fn lag(&self, topics: &[String], subscription: &str) -> Result<Option<u64>, String> {
        let fetch = async {
            let response = self
                .client
                .get(self.url.clone())
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("answered {}", response.status()));
            }
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            Ok(body.to_bytes())
        };
        let body = tokio::time::timeout(self.timeout, fetch)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
            .map_err(|e| format!("reading {}: {e}", self.url))?;
        Ok(subscription_lag(
            &String::from_utf8_lossy(&body),
            topics,
            subscription,
        ))
    }
}

/// Sum the metric's samples for `subscription` on any of `topics` or their partitions
/// (`<topic>-part-<n>`).
fn subscription_lag(text: &str, topics: &[String], subscription: &str) -> Option<u64> {
    let ours = |topic: &str| {
        topics.iter().any(|t| {
            topic == t
                || topic
                    .strip_prefix(t.as_str())
                    .is_some_and(|rest| rest.starts_with("-part-"))
        })
    };
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(METRIC) else {
            continue;
        };
        let Some((labels, value)) = rest.strip_prefix('{').and_then(|r| r.split_once('}')) else {
            continue;
        };
        let topic = label(labels, "topic");
        if label(labels, "subscription") != Some(subscription) || !topic.is_some_and(ours) {
            continue;
        }
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        *found.get_or_insert(0) += value.max(0.0) as u64;
    }
    found
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# TYPE danube_subscription_lag_messages gauge
danube_subscription_lag_messages{topic=\"/default/orders\",subscription=\"hook\"} 42
danube_subscription_lag_messages{topic=\"/default/orders\",subscription=\"other\"} 7
danube_subscription_lag_messages{subscription=\"hook\",topic=\"/default/events-part-1\"} 3
danube_subscription_lag_messages{topic=\"/default/eventsx\",subscription=\"hook\"} 100
danube_topic_messages_in_total{topic=\"/default/orders\"} 1000
";

    #[test]
    fn the_lag_of_our_subscription_on_our_topics_and_their_partitions() {
        let topics = ["/default/orders".to_string(), "/default/events".to_string()];
        assert_eq!(subscription_lag(TEXT, &topics, "hook"), Some(45));
        assert_eq!(subscription_lag(TEXT, &topics[..1], "other"), Some(7));
        assert_eq!(subscription_lag(TEXT, &topics, "nobody"), None);
    }
}
