//! Reaching the Danube broker: its address, TLS and token, calls bounded by the configured
//! timeout, and one danube-client per connector shared by its producers and registry calls.
//! Below `schemas` and `capabilities`, which talk to the broker's registry, and `danube`,
//! which builds consumers and producers on it.

pub mod connection;
pub mod direct;
pub mod shared_client;

pub use connection::{Broker, DanubeError, Timeouts};
