//! The smallest possible sink: acknowledges every batch. It only sums the payload sizes so
//! the work cannot be optimised away, which makes it a measure of the pure cost of handing
//! a batch across the WebAssembly boundary.

use danube_connect_sdk::{BatchError, Config, Error, Message, Sink, export_sink};

/// Total payload bytes seen; kept so the sum is observable state, not dead code.
pub struct Passthrough {
    bytes: u64,
}

impl Sink for Passthrough {
    fn open(_config: Config) -> Result<Self, Error> {
        Ok(Passthrough { bytes: 0 })
    }

    fn process(&mut self, batch: Vec<Message>) -> Result<(), BatchError> {
        let sum: u64 = batch.iter().map(|m| m.payload().len() as u64).sum();
        self.bytes = self.bytes.wrapping_add(std::hint::black_box(sum));
        Ok(())
    }
}

export_sink!(Passthrough);
