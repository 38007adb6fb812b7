/// Settings for a [`TestBroker`](super::TestBroker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerOptions {
    /// Delivered-but-unacknowledged messages allowed per subscription of a
    /// reliable topic; more are delivered only as acks arrive.
    pub max_unacked: usize,
    /// Namespaces in which producers may create topics.
    pub namespaces: Vec<String>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            max_unacked: 10,
            namespaces: vec!["default".to_owned()],
        }
    }
}

impl BrokerOptions {
    /// A window of zero would never deliver anything, so it counts as one.
    pub(crate) fn window(&self) -> usize {
        self.max_unacked.max(1)
    }
}
