//! Danube's message type to the WIT `message` a sink receives.

use crate::wit::{Message, SchemaRef};
use danube_core::message::StreamMessage;

pub fn to_guest(m: &StreamMessage) -> Message {
    let mut attributes: Vec<(String, String)> = m
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Attributes arrive as a map; a stable order keeps encodings and signatures reproducible.
    attributes.sort_unstable();
    Message {
        topic: m.msg_id.topic_name.clone(),
        offset: m.msg_id.topic_offset,
        // Danube stamps publish time in milliseconds; the contract speaks microseconds.
        publish_time_us: m.publish_time.saturating_mul(1_000),
        producer_name: m.producer_name.clone(),
        key: m.routing_key.clone(),
        attributes,
        payload: m.payload.to_vec(),
        schema: m
            .schema_id
            .zip(m.schema_version)
            .map(|(id, version)| SchemaRef { id, version }),
    }
}
