//! The loops that move messages: pure decisions in small modules, I/O in `sink` and
//! `source`; the commands they take (`control`) and the state they report (`status`).

pub mod batcher;
pub mod control;
pub mod delivery;
pub mod lifecycle;
pub mod outcome;
pub mod shutdown;
pub mod sink;
pub mod source;
pub mod status;
