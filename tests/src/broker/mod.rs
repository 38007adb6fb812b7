//! An in-memory Danube broker that speaks the real gRPC protocol.
//!
//! It serves the producer, consumer, discovery, health-check and schema-registry services that
//! `danube-client` uses, so tests can run against a broker that lives inside
//! the test process. State (topics, stored messages, subscriptions and their
//! cursors) survives [`TestBroker::stop`] / [`TestBroker::restart`], like a
//! persisted broker; producer and consumer registrations do not.

mod channel;
mod error;
mod locks;
mod log;
mod message;
mod names;
mod options;
mod schemas;
mod server;
mod service;
mod state;
mod stream;
mod subscription;
#[cfg(test)]
mod subscription_tests;
mod test_broker;
mod topic;

pub use error::BrokerError;
pub use options::{BrokerOptions, LagLimit, OnLag, ServerTls};
pub use test_broker::TestBroker;
