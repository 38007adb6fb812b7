//! Write Danube Connect connectors as WebAssembly components.
//!
//! A sink is a type implementing [`Sink`] plus one [`export_sink!`] line:
//!
//! ```
//! use danube_connect_sdk::{BatchError, Config, Error, Message, Sink, export_sink};
//!
//! #[derive(serde::Deserialize)]
//! struct Settings { prefix: String }
//!
//! struct Printer { prefix: String }
//!
//! impl Sink for Printer {
//!     fn open(config: Config) -> Result<Self, Error> {
//!         let s: Settings = config.parse()?;
//!         Ok(Printer { prefix: s.prefix })
//!     }
//!
//!     fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
//!         for m in &batch {
//!             danube_connect_sdk::log::info_with(&self.prefix, &[("offset", &m.offset())]);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_sink!(Printer);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2` and a `cdylib` crate type. Sources work
//! the same way with [`Source`] and [`export_source!`].
//!
//! Besides the traits the crate offers [`log`], [`metrics`], [`state`], an [`http`] client,
//! an [`mqtt`] client, requests pushed in over HTTP ([`inbound_http`]), [`postgres`] sessions and replication streams, [`kafka`] consumers and
//! producers, the [`schemas`] registry and [`topics`] settings for sources; a component imports only the host interfaces it actually uses.
//! [`FieldPath`] looks up a dotted option like `order.customer.id` in a JSON payload, and
//! [`dlq`] names the attributes of dead-lettered messages.

pub mod bindings;
mod config;
#[cfg(feature = "avro")]
pub mod decode;
pub mod dlq;
mod error;
mod field_path;
pub mod http;
pub mod inbound_http;
pub mod kafka;
pub mod log;
mod message;
pub mod metrics;
pub mod mqtt;
pub mod postgres;
pub mod schemas;
pub mod sink;
pub mod source;
pub mod state;
pub mod topics;

pub use config::{Config, Names};
pub use error::{BatchError, Error, Retry};
pub use field_path::{FieldPath, FieldPathError};
pub use message::Message;
pub use sink::Sink;
pub use source::{DEAD_LETTER_ATTRIBUTE, Position, Record, Source};
