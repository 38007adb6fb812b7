//! The [`Source`] trait and the [`export_source!`](crate::export_source) macro.

use std::cell::RefCell;

pub use crate::bindings::sink::danube::connect::types::{Position, Record};
use crate::{Config, Error};

/// A connector that reads from an external system and publishes records to Danube.
///
/// The host calls [`open`](Source::open) once, then alternates [`poll`](Source::poll) and
/// [`commit`](Source::commit), then [`close`](Source::close). Register the type with
/// [`export_source!`](crate::export_source).
pub trait Source: Sized {
    /// Builds the source from its `[config]` table; reject bad settings with [`Error::config`].
    fn open(config: Config) -> Result<Self, Error>;

    /// Returns up to `max_records` records, waiting at most `timeout_ms` for the first one.
    fn poll(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<Record>, Error>;

    /// Danube persisted every record up to these positions: acknowledge them upstream.
    fn commit(&mut self, positions: Vec<Position>) -> Result<(), Error> {
        let _ = positions;
        Ok(())
    }

    /// Releases resources at shutdown.
    fn close(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// The attribute that marks a record as bad input: the host publishes it to the dead-letter
/// topic with this reason instead of to its topic (see [`Record::dead_letter`]).
pub const DEAD_LETTER_ATTRIBUTE: &str = crate::dlq::ERROR;

impl Record {
    /// A record for the connector's default topic with no key, attributes or position.
    pub fn new(payload: impl Into<Vec<u8>>) -> Self {
        Record {
            topic: None,
            key: None,
            attributes: Vec::new(),
            payload: payload.into(),
            position: None,
            schema: None,
        }
    }

    /// Publishes the record under a registry schema, e.g. one [`crate::schemas::register`]
    /// returned; without it the connector's `[source.schema]` applies.
    pub fn with_schema(mut self, schema: crate::schemas::SchemaRef) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Publishes to `topic` instead of the default topic.
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Sets the routing key; records with the same key keep their order.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Appends an attribute.
    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Marks the record as bad input: the host dead-letters it with `reason` and still
    /// commits its position.
    pub fn dead_letter(self, reason: impl Into<String>) -> Self {
        self.with_attribute(DEAD_LETTER_ATTRIBUTE, reason)
    }

    /// Attaches the upstream position handed back in [`Source::commit`].
    pub fn with_position(mut self, stream_id: impl Into<String>, value: impl Into<String>) -> Self {
        self.position = Some(Position {
            stream_id: stream_id.into(),
            value: value.into(),
        });
        self
    }
}

/// Holds the source instance between calls. Used by [`export_source!`](crate::export_source).
#[doc(hidden)]
pub struct SourceSlot<S>(RefCell<Option<S>>);

impl<S> Default for SourceSlot<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> SourceSlot<S> {
    pub const fn new() -> Self {
        SourceSlot(RefCell::new(None))
    }
}

impl<S: Source> SourceSlot<S> {
    pub fn open(&self, config_json: String) -> Result<(), Error> {
        let source = S::open(Config::new(config_json))?;
        *self.0.borrow_mut() = Some(source);
        Ok(())
    }

    pub fn poll(&self, max_records: u32, timeout_ms: u32) -> Result<Vec<Record>, Error> {
        match self.0.borrow_mut().as_mut() {
            Some(source) => source.poll(max_records, timeout_ms),
            None => Err(not_open("poll")),
        }
    }

    pub fn commit(&self, positions: Vec<Position>) -> Result<(), Error> {
        match self.0.borrow_mut().as_mut() {
            Some(source) => source.commit(positions),
            None => Err(not_open("commit")),
        }
    }

    pub fn close(&self) -> Result<(), Error> {
        let taken = self.0.borrow_mut().take();
        match taken {
            Some(mut source) => source.close(),
            None => Ok(()),
        }
    }
}

fn not_open(call: &str) -> Error {
    Error::fatal(format!("{call} called before open succeeded"))
}

/// Exports a [`Source`] implementation as the component's `danube:connect/source` interface.
///
/// ```ignore
/// struct MySource;
/// impl danube_connect_sdk::Source for MySource { /* ... */ }
/// danube_connect_sdk::export_source!(MySource);
/// ```
#[macro_export]
macro_rules! export_source {
    ($ty:ty) => {
        const _: () = {
            ::std::thread_local! {
                static DANUBE_SOURCE: $crate::source::SourceSlot<$ty> =
                    const { $crate::source::SourceSlot::new() };
            }

            #[allow(dead_code)]
            struct DanubeSourceExport;

            impl $crate::bindings::source::exports::danube::connect::source::Guest
                for DanubeSourceExport
            {
                fn open(
                    config_json: ::std::string::String,
                ) -> ::core::result::Result<(), $crate::Error> {
                    DANUBE_SOURCE.with(|slot| slot.open(config_json))
                }

                fn poll(
                    max_records: u32,
                    timeout_ms: u32,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Record>, $crate::Error>
                {
                    DANUBE_SOURCE.with(|slot| slot.poll(max_records, timeout_ms))
                }

                fn commit(
                    positions: ::std::vec::Vec<$crate::Position>,
                ) -> ::core::result::Result<(), $crate::Error> {
                    DANUBE_SOURCE.with(|slot| slot.commit(positions))
                }

                fn close() -> ::core::result::Result<(), $crate::Error> {
                    DANUBE_SOURCE.with(|slot| slot.close())
                }
            }

            // Export names contain `:` and `@`, which only a wasm linker accepts; natively
            // (unit tests of a connector crate) the trait impl is still type-checked.
            #[cfg(target_arch = "wasm32")]
            $crate::bindings::source::export_source_bindings!(
                DanubeSourceExport with_types_in $crate::bindings::source
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Numbers(u32);

    impl Source for Numbers {
        fn open(_config: Config) -> Result<Self, Error> {
            Ok(Numbers(0))
        }

        fn poll(&mut self, max_records: u32, _timeout_ms: u32) -> Result<Vec<Record>, Error> {
            let out = (0..max_records)
                .map(|i| Record::new(vec![]).with_position("p", (self.0 + i).to_string()))
                .collect();
            self.0 += max_records;
            Ok(out)
        }
    }

    #[test]
    fn a_dead_letter_record_carries_its_reason() {
        let r = Record::new(b"x".to_vec()).dead_letter("not JSON");
        assert_eq!(
            r.attributes,
            vec![(DEAD_LETTER_ATTRIBUTE.to_string(), "not JSON".to_string())]
        );
    }

    #[test]
    fn lifecycle() {
        let slot = SourceSlot::<Numbers>::new();
        assert!(matches!(slot.poll(1, 0), Err(Error::Fatal(_))));
        slot.open(String::new()).unwrap();
        let records = slot.poll(3, 0).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[2].position.as_ref().map(|p| p.value.as_str()),
            Some("2")
        );
        slot.commit(vec![]).unwrap();
        slot.close().unwrap();
    }
}
