//! ClickHouse sink: Danube messages become rows of a ClickHouse table, one
//! `INSERT … FORMAT JSONEachRow` per batch over ClickHouse's HTTP interface. Rows ClickHouse
//! refuses are isolated and dead-lettered with its error; the rest are inserted.
//! See `README.md` for every option.

mod classify;
mod config;
mod ddl;
mod dedup_token;
mod deliver;
mod encode;
mod isolate;
mod request;
mod setup;

use danube_connect_sdk::{BatchError, Config, Error, Message, Sink, export_sink, log};

use danube_connect_sdk::decode::JsonDecoder;

use crate::config::{Decode, RawConfig, Settings};
use crate::request::Client;

pub struct ClickHouseSink {
    settings: Settings,
    client: Client,
    /// Whether inserts carry `insert_deduplication_token`.
    deduplicate: bool,
    /// Typed payloads to JSON, one schema version fetched once.
    decoder: JsonDecoder,
}

impl Sink for ClickHouseSink {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.validate()?;
        let client = Client::new(&settings);
        let mut sink = ClickHouseSink {
            settings,
            client,
            deduplicate: false,
            decoder: JsonDecoder::new(),
        };
        sink.ensure_table()?;
        sink.deduplicate = sink.server_deduplicates()?;
        log::info_with(
            "ready to insert",
            &[
                ("table", &sink.settings.qualified_table()),
                ("deduplication_token", &sink.deduplicate),
            ],
        );
        Ok(sink)
    }

    fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
        if self.settings.decode == Decode::None {
            return self.deliver(batch);
        }
        let mut decoded = self.decoder.decode_batch(batch)?;
        let delivered = self.deliver(decoded.take_messages());
        decoded.outcome(delivered)
    }
}

export_sink!(ClickHouseSink);
