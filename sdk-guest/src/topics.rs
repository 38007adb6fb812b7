//! How the host creates the Danube topics a source publishes to (`danube:connect/topics`).

/// Create `topic` with `partitions` partitions (0: not partitioned) when the host first
/// publishes to it. Call it before the first record for that topic.
pub fn set_partitions(topic: &str, partitions: u32) {
    imp::set_partitions(topic, partitions)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub fn set_partitions(topic: &str, partitions: u32) {
        crate::bindings::source::danube::connect::topics::set_partitions(topic, partitions)
    }
}

// Natively (a connector's unit tests) there is no host to tell.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub fn set_partitions(_topic: &str, _partitions: u32) {}
}
