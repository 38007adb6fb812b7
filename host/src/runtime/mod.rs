//! The loops that move messages: pure decisions in small modules, I/O in `sink`.

pub mod backoff;
pub mod batcher;
pub mod delivery;
pub mod lifecycle;
pub mod outcome;
pub mod shutdown;
pub mod sink;
pub mod source;
