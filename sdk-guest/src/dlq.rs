//! The attributes of a dead-lettered message, as the host writes them (see README.md,
//! *Delivery guarantees*). A source sets [`ERROR`] on a record to dead-letter it; the rest
//! are the host's, and connectors must not pass them off as their own.

/// Every dead-letter attribute starts with this.
pub const PREFIX: &str = "dlq.";

/// Why the message was dead-lettered. On a source record: the mark that sends it there.
pub const ERROR: &str = "dlq.error";
/// What kind of failure it was: one of [`error_type`].
pub const ERROR_TYPE: &str = "dlq.error_type";
/// The connector that dead-lettered it.
pub const CONNECTOR: &str = "dlq.connector";
/// Sinks: the topic it was consumed from.
pub const SOURCE_TOPIC: &str = "dlq.source_topic";
/// Sources: the topic it was meant for.
pub const DESTINATION_TOPIC: &str = "dlq.destination_topic";
/// Sinks: its offset in the source topic.
pub const OFFSET: &str = "dlq.offset";
/// Attempts made before giving up.
pub const ATTEMPTS: &str = "dlq.attempts";
/// Sinks: when the broker received it, microseconds since the Unix epoch.
pub const PUBLISH_TIME_US: &str = "dlq.publish_time_us";
/// Sinks: the producer that published it.
pub const PRODUCER: &str = "dlq.producer";

/// Values of [`ERROR_TYPE`].
pub mod error_type {
    /// The connector found the message bad.
    pub const INVALID_DATA: &str = "invalid_data";
    /// A retryable failure outlasted `max_retries`.
    pub const RETRIES_EXHAUSTED: &str = "retries_exhausted";
    /// The message kept trapping the connector.
    pub const GUEST_TRAP: &str = "guest_trap";
}
