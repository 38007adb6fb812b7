//! ClickHouse sink: Danube messages become rows of a ClickHouse table, one
//! `INSERT … FORMAT JSONEachRow` per batch over ClickHouse's HTTP interface. Rows ClickHouse
//! refuses are isolated and dead-lettered with its error; the rest are inserted.
//! See `README.md` for every option.

mod classify;
mod config;
mod dedup_token;
mod deliver;
mod encode;
mod isolate;
mod request;
mod setup;

use danube_connect_sdk::{BatchError, Config, Error, Message, Sink, export_sink, log};

use crate::config::{RawConfig, Settings};
use crate::request::Client;

pub struct ClickHouseSink {
    settings: Settings,
    client: Client,
    /// Whether inserts carry `insert_deduplication_token`.
    deduplicate: bool,
}

impl Sink for ClickHouseSink {
    fn open(config: Config) -> Result<Self, Error> {
        let settings = config.parse::<RawConfig>()?.validate()?;
        let client = Client::new(&settings);
        let mut sink = ClickHouseSink {
            settings,
            client,
            deduplicate: false,
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
        self.deliver(batch)
    }
}

export_sink!(ClickHouseSink);
