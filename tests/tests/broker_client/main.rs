//! The test broker driven by the real danube-client.

mod common;
mod delivery;
mod raw;
mod refusals;
mod restart;
mod subscriptions;
mod window;
