//! HTTP/webhook sink: delivers Danube messages to an HTTP endpoint, one request per
//! message or batched as a JSON array or NDJSON, with optional Standard Webhooks signing.
//! See `README.md` for every option.

mod classify;
mod config;
mod deliver;
mod encode;
mod sign;
mod url_template;

use danube_connect_sdk::{BatchError, Config, Error, Message, Sink, export_sink};

use crate::config::{RawConfig, Settings};

/// The sink: its checked settings, nothing else.
pub struct HttpSink {
    settings: Settings,
}

impl Sink for HttpSink {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.validate()?;
        Ok(HttpSink { settings })
    }

    fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
        deliver::deliver(&self.settings, &batch)
    }
}

export_sink!(HttpSink);
