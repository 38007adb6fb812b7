//! Talking to Danube over danube-client, with the timeouts and rebuilds the client lacks:
//! no client call has a timeout of its own, and nothing reconnects after a broker restart.

pub mod ack_sender;
pub mod consumers;
pub mod dead_letter;
pub mod direct_producer;
pub mod gaps;
pub mod lag;
pub mod lane;
pub mod message;
pub mod publisher;

pub use crate::client::{Broker, DanubeError, Timeouts, connection, shared_client};
pub use consumers::{Acks, ConsumerEvent, ConsumerHooks, ConsumerSet};
pub use dead_letter::DeadLetterRouter;
pub use lane::SchemaRef;
pub use publisher::{Publisher, PublisherSettings};
