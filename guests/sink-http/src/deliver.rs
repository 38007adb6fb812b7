//! Sends the encoded requests of a batch and collects per-message results.

use std::time::{Instant, SystemTime};

use danube_connect_sdk::http::{self, Request};
use danube_connect_sdk::{BatchError, Error, Message, Retry, log, metrics};

use crate::classify::{classify_error, classify_response};
use crate::config::Settings;
use crate::encode::{Encoded, Outgoing, encode};
use crate::sign::unix_now;

/// Response bytes read; enough to quote in an error, small enough not to matter.
const RESPONSE_LIMIT: usize = 64 * 1024;

/// Delivers `batch`; failed messages are reported one by one so the rest are acknowledged.
pub fn deliver(settings: &Settings, batch: &[Message]) -> Result<(), BatchError> {
    let Encoded { requests, rejected } = encode(settings, batch);
    let single_request = requests.len() == 1 && rejected.is_empty();
    let mut failed = rejected;
    let mut circuit = Circuit::default();
    let mut pending = requests.into_iter().peekable();

    while pending.peek().is_some() {
        // Up to `concurrency` requests go out together; the circuit is checked between waves.
        let mut wave = Vec::new();
        for out in pending.by_ref().take(settings.concurrency) {
            match circuit.verdict(&out.url) {
                Some(e) => failed.extend(out.indices.iter().map(|i| (*i, e.clone()))),
                None => wave.push(out),
            }
        }
        let outcomes = send_wave(settings, &mut wave);
        for (out, outcome) in wave.iter().zip(outcomes) {
            circuit.record(&out.url, &outcome);
            if let Err(e) = outcome {
                failed.extend(out.indices.iter().map(|i| (*i, e.clone())));
            }
        }
    }
    if single_request && let Some((_, e)) = failed.pop() {
        return Err(BatchError::all(e));
    }
    failed.sort_by_key(|(i, _)| *i);
    BatchError::from_failures(failed)
}

/// Stops sending after failures that later requests would only repeat: anything after a
/// fatal error, and requests to a URL that just failed transiently (down, throttling).
#[derive(Default)]
struct Circuit {
    fatal: Option<Error>,
    broken: Vec<(String, Retry)>,
}

impl Circuit {
    fn verdict(&self, url: &str) -> Option<Error> {
        if let Some(fatal) = &self.fatal {
            return Some(fatal.clone());
        }
        self.broken
            .iter()
            .find(|(u, _)| u == url)
            .map(|(_, retry)| {
                Error::Retryable(Retry {
                    message: format!("not sent after an earlier failure: {}", retry.message),
                    after_ms: retry.after_ms,
                })
            })
    }

    fn record(&mut self, url: &str, outcome: &Result<(), Error>) {
        match outcome {
            Err(e @ Error::Fatal(_)) => self.fatal = Some(e.clone()),
            Err(Error::Retryable(retry)) => self.broken.push((url.to_string(), retry.clone())),
            _ => {}
        }
    }
}

/// Sends the wave concurrently and classifies each outcome. Takes the bodies.
fn send_wave(settings: &Settings, wave: &mut [Outgoing]) -> Vec<Result<(), Error>> {
    if wave.is_empty() {
        return Vec::new();
    }
    let requests = wave.iter_mut().map(|out| build(settings, out)).collect();
    let started = Instant::now();
    let results = http::send_all(requests);
    metrics::histogram_observe(
        "http_wave_duration_seconds",
        started.elapsed().as_secs_f64(),
        &[],
    );
    wave.iter()
        .zip(results)
        .map(|(out, result)| {
            let described = format!("{} {}", settings.method.as_str(), out.url);
            let outcome = match result {
                Ok(response) => {
                    classify_response(&settings.retry, &described, &response, SystemTime::now())
                }
                Err(e) => Err(classify_error(&settings.retry, e)),
            };
            observe(&described, out, &outcome);
            outcome
        })
        .collect()
}

fn build(settings: &Settings, out: &mut Outgoing) -> Request {
    let mut request = Request::new(settings.method, &out.url)
        .timeout(settings.timeout)
        .max_response_bytes(RESPONSE_LIMIT)
        .header("Content-Type", settings.content_type.as_str());
    for (name, value) in settings.headers.iter().chain(&out.headers) {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(name) = &settings.idempotency_header {
        request = request.header(name.as_str(), out.idempotency_key.as_str());
    }
    if cfg!(feature = "build-marker") {
        request = request.header("X-Danube-Build", "marker");
    }
    if let Some(signer) = &settings.signer {
        for (name, value) in signer.headers(&out.idempotency_key, unix_now(), &out.body) {
            request = request.header(name, value);
        }
    }
    request.body(std::mem::take(&mut out.body))
}

fn observe(described: &str, out: &Outgoing, outcome: &Result<(), Error>) {
    let label = match outcome {
        Ok(()) => "ok",
        Err(Error::Retryable(_)) => "retryable",
        Err(Error::InvalidData(_)) => "invalid_data",
        Err(_) => "fatal",
    };
    metrics::counter_add("http_requests_total", 1, &[("outcome", label)]);
    metrics::counter_add(
        "http_messages_total",
        out.indices.len() as u64,
        &[("outcome", label)],
    );
    if let Err(e) = outcome {
        log::warn_with(
            "webhook delivery failed",
            &[
                ("request", &described),
                ("messages", &out.indices.len()),
                ("error", &e.message()),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use danube_connect_sdk::Config;

    fn settings(json: &str) -> Settings {
        Config::new(json)
            .parse::<RawConfig>()
            .and_then(RawConfig::validate)
            .unwrap()
    }

    // Outside WebAssembly every send fails as a transport error, which is enough to check
    // how failures are spread over the batch.
    #[test]
    fn failures_are_reported_per_message() {
        let s = settings(r#"{"url":"http://127.0.0.1:9/hook"}"#);
        let batch = [
            Message::new("/a", 1, b"1".to_vec()),
            Message::new("/a", 2, b"not json".to_vec()),
            Message::new("/b", 3, b"3".to_vec()),
        ];
        let Err(BatchError::Some(failed)) = deliver(&s, &batch) else {
            panic!("expected per-message failures")
        };
        let indices: Vec<u32> = failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, vec![0, 1, 2]);
        assert!(failed[0].1.is_retryable());
        assert!(matches!(failed[1].1, Error::InvalidData(_)));
        // The second request to the same URL is not attempted after the first failed.
        assert!(
            failed[2]
                .1
                .message()
                .starts_with("not sent after an earlier failure")
        );
    }

    #[test]
    fn a_single_request_fails_as_a_whole() {
        let s = settings(r#"{"url":"http://127.0.0.1:9/hook"}"#);
        let batch = [Message::new("/a", 1, b"1".to_vec())];
        assert!(matches!(
            deliver(&s, &batch),
            Err(BatchError::All(Error::Retryable(_)))
        ));
    }
}
