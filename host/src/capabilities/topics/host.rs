//! `danube:connect/topics`: a source says how the topics it publishes to are created. Always
//! granted: it only shapes what the connector's own records already do.

/// Host bindings of the `topics` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world topics { import danube:connect/topics@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/topics",
    });
}

use super::TopicPartitions;
use bindings::danube::connect::topics::Host;

#[derive(Clone)]
pub struct TopicsCapability {
    partitions: TopicPartitions,
}

impl TopicsCapability {
    /// Shares `partitions` with the connector's publisher, which reads it when it creates
    /// the producers of a topic.
    pub fn new(partitions: TopicPartitions) -> Self {
        Self { partitions }
    }
}

impl Host for TopicsCapability {
    fn set_partitions(&mut self, topic: String, partitions: u32) {
        if let Ok(mut map) = self.partitions.lock() {
            map.insert(topic, partitions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publisher_sees_what_the_connector_set() {
        let shared = TopicPartitions::default();
        let mut topics = TopicsCapability::new(shared.clone());
        topics.set_partitions("/default/a".into(), 4);
        topics.set_partitions("/default/a".into(), 2);
        let map = shared.lock().expect("lock");
        assert_eq!(map.get("/default/a"), Some(&2));
    }
}
