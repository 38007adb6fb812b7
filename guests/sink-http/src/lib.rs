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

use crate::config::{Decode, RawConfig, Settings};

/// The sink: its checked settings, and the schemas it decodes with.
pub struct HttpSink {
    settings: Settings,
    #[cfg(feature = "avro")]
    decoder: danube_connect_sdk::decode::JsonDecoder,
}

impl Sink for HttpSink {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.validate()?;
        if cfg!(not(feature = "avro")) && settings.decode == Decode::Auto {
            return Err(Error::config(
                "invalid config at `decode`: this build of the sink cannot decode (feature `avro`)",
            ));
        }
        Ok(HttpSink {
            settings,
            #[cfg(feature = "avro")]
            decoder: Default::default(),
        })
    }

    fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
        #[cfg(feature = "avro")]
        if self.settings.decode == Decode::Auto {
            let decoded = self.decoder.decode_batch(batch)?;
            let delivered = deliver::deliver(&self.settings, &decoded.messages);
            return decoded.outcome(delivered);
        }
        deliver::deliver(&self.settings, &batch)
    }
}

export_sink!(HttpSink);
