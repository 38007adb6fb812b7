//! Webhook source: HTTP requests pushed to the host's `inbound_http` listener are routed by
//! path, authenticated, split into records and published to Danube. A request is answered
//! 200 only when the host commits its records, i.e. after Danube persisted them; a refused
//! one is answered at once with its reason. See `README.md` for every option.

mod answer;
mod auth;
mod config;
mod handle;
mod pending;
mod record;
mod route;
mod split;
#[cfg(test)]
mod testing;

use answer::Refusal;
use config::RawConfig;
use danube_connect_sdk::inbound_http::{self, Request};
use danube_connect_sdk::{Config, Error, Position, Record, Source, export_source, log, metrics};
use handle::Outcome;
use pending::Pending;
use route::Routes;

pub struct WebhookSource {
    routes: Routes,
    pending: Pending,
}

impl Source for WebhookSource {
    fn open(config: Config) -> Result<Self, Error> {
        Ok(WebhookSource {
            routes: config.parse::<RawConfig>()?.validate()?,
            pending: Pending::default(),
        })
    }

    /// Takes up to `max_records` requests. A request's records all go out in one poll, so
    /// a batch request can make the poll return more than `max_records` records.
    fn poll(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<Record>, Error> {
        let mut records = Vec::new();
        for request in inbound_http::receive(max_records, timeout_ms)? {
            match handle::handle(&self.routes, &request) {
                Outcome::Publish(batch) => {
                    self.pending.hold(request.id, batch.len());
                    records.extend(batch);
                }
                Outcome::Empty => inbound_http::respond(request.id, &answer::accepted(0)),
                Outcome::Refuse(refusal) => refuse(&request, &refusal),
            }
        }
        Ok(records)
    }

    fn commit(&mut self, positions: Vec<Position>) -> Result<(), Error> {
        for (id, records) in self.pending.release(&positions) {
            inbound_http::respond(id, &answer::accepted(records));
        }
        Ok(())
    }
}

fn refuse(request: &Request, refusal: &Refusal) {
    let status = refusal.status.to_string();
    metrics::counter_add("webhook_requests_refused_total", 1, &[("status", &status)]);
    log::debug_with(
        "refused a webhook request",
        &[
            ("status", &status),
            ("reason", &refusal.reason),
            ("method", &request.method),
            ("path", &request.path_only()),
            ("client", &request.client),
        ],
    );
    inbound_http::respond(request.id, &refusal.response());
}

export_source!(WebhookSource);
