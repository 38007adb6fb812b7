//! The [`Sink`] trait and the [`export_sink!`](crate::export_sink) macro.

use std::cell::RefCell;

use crate::{BatchError, Config, Error, Message};

/// A connector that writes Danube messages to an external system.
///
/// The host calls [`open`](Sink::open) once, then [`process`](Sink::process) for every batch,
/// then [`close`](Sink::close) at shutdown. Register the type with
/// [`export_sink!`](crate::export_sink).
pub trait Sink: Sized {
    /// Builds the sink from its `[config]` table; reject bad settings with [`Error::config`].
    fn open(config: Config) -> Result<Self, Error>;

    /// Delivers a batch. `Ok` acknowledges every message; [`BatchError::some`] acknowledges
    /// all but the listed ones.
    fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError>;

    /// Flushes and releases resources; called after the last batch was acknowledged.
    fn close(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// Holds the sink instance between calls. Used by [`export_sink!`](crate::export_sink).
#[doc(hidden)]
pub struct SinkSlot<S>(RefCell<Option<S>>);

impl<S> Default for SinkSlot<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> SinkSlot<S> {
    pub const fn new() -> Self {
        SinkSlot(RefCell::new(None))
    }
}

impl<S: Sink> SinkSlot<S> {
    /// A second `open` replaces the previous instance (the host does not do this today).
    pub fn open(&self, config_json: String) -> Result<(), Error> {
        let sink = S::open(Config::new(config_json))?;
        *self.0.borrow_mut() = Some(sink);
        Ok(())
    }

    pub fn process(&self, batch: Vec<Message>) -> Result<(), BatchError> {
        match self.0.borrow_mut().as_mut() {
            Some(sink) => sink.process(batch),
            None => Err(BatchError::all(Error::fatal(
                "process called before open succeeded",
            ))),
        }
    }

    /// Closing a sink that was never opened is a no-op.
    pub fn close(&self) -> Result<(), Error> {
        let taken = self.0.borrow_mut().take();
        match taken {
            Some(mut sink) => sink.close(),
            None => Ok(()),
        }
    }
}

/// Exports a [`Sink`] implementation as the component's `danube:connect/sink` interface.
///
/// ```ignore
/// struct MySink;
/// impl danube_connect_sdk::Sink for MySink { /* ... */ }
/// danube_connect_sdk::export_sink!(MySink);
/// ```
#[macro_export]
macro_rules! export_sink {
    ($ty:ty) => {
        const _: () = {
            ::std::thread_local! {
                static DANUBE_SINK: $crate::sink::SinkSlot<$ty> =
                    const { $crate::sink::SinkSlot::new() };
            }

            #[allow(dead_code)]
            struct DanubeSinkExport;

            impl $crate::bindings::sink::exports::danube::connect::sink::Guest for DanubeSinkExport {
                fn open(config_json: ::std::string::String) -> ::core::result::Result<(), $crate::Error> {
                    DANUBE_SINK.with(|slot| slot.open(config_json))
                }

                fn process(
                    batch: ::std::vec::Vec<$crate::Message>,
                ) -> ::core::result::Result<(), $crate::BatchError> {
                    DANUBE_SINK.with(|slot| slot.process(batch))
                }

                fn close() -> ::core::result::Result<(), $crate::Error> {
                    DANUBE_SINK.with(|slot| slot.close())
                }
            }

            // Export names contain `:` and `@`, which only a wasm linker accepts; natively
            // (unit tests of a connector crate) the trait impl is still type-checked.
            #[cfg(target_arch = "wasm32")]
            $crate::bindings::sink::export_sink_bindings!(
                DanubeSinkExport with_types_in $crate::bindings::sink
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter {
        seen: usize,
        closed: bool,
    }

    impl Sink for Counter {
        fn open(config: Config) -> Result<Self, Error> {
            if config.as_json().contains("bad") {
                return Err(Error::config("bad"));
            }
            Ok(Counter {
                seen: 0,
                closed: false,
            })
        }

        fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
            self.seen += batch.len();
            Ok(())
        }

        fn close(&mut self) -> Result<(), Error> {
            self.closed = true;
            Ok(())
        }
    }

    #[test]
    fn process_before_open_is_fatal() {
        let slot = SinkSlot::<Counter>::new();
        let err = slot.process(vec![]).unwrap_err();
        assert!(matches!(err, BatchError::All(Error::Fatal(_))));
        assert!(slot.open("{\"bad\":1}".into()).is_err());
        assert!(slot.process(vec![]).is_err());
    }

    #[test]
    fn lifecycle() {
        let slot = SinkSlot::<Counter>::new();
        slot.open("{}".into()).unwrap();
        slot.process(vec![Message::new("t", 0, vec![])]).unwrap();
        assert_eq!(slot.0.borrow().as_ref().map(|s| s.seen), Some(1));
        slot.close().unwrap();
        assert!(slot.0.borrow().is_none());
        assert!(slot.close().is_ok());
    }
}
