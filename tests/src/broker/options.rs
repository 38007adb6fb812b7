/// Settings for a [`TestBroker`](super::TestBroker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerOptions {
    /// Delivered-but-unacknowledged messages allowed per subscription of a
    /// reliable topic; more are delivered only as acks arrive.
    pub max_unacked: usize,
    /// Namespaces in which producers may create topics.
    pub namespaces: Vec<String>,
    /// What befalls a reliable subscription that falls far behind its producers, as on a
    /// v0.15 broker; `None`: nothing.
    pub lag_limit: Option<LagLimit>,
    /// Serve TLS with this certificate and key (PEM files); clients then use `https://`.
    pub tls: Option<ServerTls>,
    /// Refuse every call without `authorization: Bearer <token>` (UNAUTHENTICATED).
    pub token: Option<String>,
    /// As danube-broker v0.15.1: a key-shared subscription drops what a departed consumer
    /// held un-acknowledged (counted as acknowledged) instead of handing it to the others.
    pub key_shared_drops_departed: bool,
    /// Each publish waits a random time up to this before it is stored, so publishes in
    /// flight together may be stored in any order, as on a busy real broker.
    pub publish_jitter: Option<std::time::Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// A subscription more than `behind` messages behind the topic's head (stored, never
/// dispatched to it) stalls or skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagLimit {
    pub behind: u64,
    pub then: OnLag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLag {
    /// It is never dispatched to again, whatever its consumers do.
    Stall,
    /// Its cursor jumps over the oldest messages to half the limit behind the head; the
    /// skipped ones are never dispatched to it.
    Skip,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            max_unacked: 10,
            namespaces: vec!["default".to_owned()],
            lag_limit: None,
            tls: None,
            token: None,
            key_shared_drops_departed: false,
            publish_jitter: None,
        }
    }
}

impl BrokerOptions {
    /// A window of zero would never deliver anything, so it counts as one.
    pub(crate) fn window(&self) -> usize {
        self.max_unacked.max(1)
    }
}
