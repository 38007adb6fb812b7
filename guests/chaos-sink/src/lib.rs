//! Test fixture, not a connector to deploy: a sink that misbehaves on request so the
//! host's isolation, deadlines, memory limits and retry paths can be exercised.
//!
//! Config: `{ "url": "http://..." }`. For each batch, payloads that are exactly
//!
//! * `panic` make the guest panic (the instance traps),
//! * `loop` spin forever (the host's CPU deadline must interrupt it),
//! * `oom` allocate and touch memory without bound (the host's memory limit must stop it),
//! * `invalid` are reported as invalid-data through `BatchError::some`.
//!
//! Every other payload is POSTed to `url` as one JSON array of strings; a non-2xx answer
//! or a failed request makes them retryable.

use std::time::Duration;

use danube_connect_sdk::http::Request;
use danube_connect_sdk::{BatchError, Config, Error, Message, Sink, export_sink};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    url: String,
}

pub struct ChaosSink {
    url: String,
}

impl Sink for ChaosSink {
    fn open(config: Config) -> Result<Self, Error> {
        let settings: Settings = config.parse()?;
        Ok(ChaosSink { url: settings.url })
    }

    fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
        misbehave_if_asked(&batch);

        let mut failed = Vec::new();
        let mut delivered = Vec::new();
        let mut bodies = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            let index = index(i)?;
            match m.payload_str() {
                Ok("invalid") => failed.push((index, Error::invalid_data("payload is `invalid`"))),
                Ok(text) => {
                    delivered.push(index);
                    bodies.push(text);
                }
                Err(e) => failed.push((index, e)),
            }
        }

        if !bodies.is_empty()
            && let Err(e) = self.post(&bodies)
        {
            if failed.is_empty() {
                return Err(BatchError::all(e));
            }
            failed.extend(delivered.into_iter().map(|i| (i, e.clone())));
        }
        BatchError::from_failures(failed)
    }
}

impl ChaosSink {
    fn post(&self, bodies: &[&str]) -> Result<(), Error> {
        let body = serde_json::to_vec(bodies).map_err(|e| Error::fatal(e.to_string()))?;
        let response = Request::post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()?;
        if response.is_success() {
            Ok(())
        } else {
            Err(Error::retryable(format!(
                "{} answered {}",
                self.url,
                response.status()
            )))
        }
    }
}

fn index(i: usize) -> Result<u32, BatchError> {
    u32::try_from(i).map_err(|_| BatchError::all(Error::fatal("batch larger than u32::MAX")))
}

/// Acts on the first `panic`, `loop` or `oom` payload of the batch.
fn misbehave_if_asked(batch: &[Message]) {
    for m in batch {
        match m.payload() {
            b"panic" => panic!("chaos-sink: payload asked for a panic"),
            b"loop" => spin_forever(),
            b"oom" => exhaust_memory(),
            _ => {}
        }
    }
}

fn spin_forever() -> ! {
    let mut n: u64 = 0;
    loop {
        // black_box keeps the optimiser from proving the loop useless.
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn exhaust_memory() -> ! {
    // Writing real bytes touches every page, so the memory is committed, not just reserved.
    let chunk = [0xA5u8; 64 * 1024];
    let mut hog: Vec<u8> = Vec::new();
    loop {
        hog.extend_from_slice(&chunk);
        std::hint::black_box(&hog);
    }
}

export_sink!(ChaosSink);
