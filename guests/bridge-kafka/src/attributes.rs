//! Names of the attributes the bridge sets on imported records and reads on exported ones.

pub const TOPIC: &str = "kafka.topic";
pub const PARTITION: &str = "kafka.partition";
pub const OFFSET: &str = "kafka.offset";
/// Milliseconds since the Unix epoch, as Kafka stamped the record.
pub const TIMESTAMP: &str = "kafka.timestamp";
/// `true` on a record whose Kafka value was null (a compaction tombstone); exported, such a
/// message becomes a null value again.
pub const TOMBSTONE: &str = "kafka.tombstone";

/// A Kafka header whose name would pass for one of the bridge's or the host's attributes
/// (`kafka.*`, `dlq.*`) travels as `kafka.header.<name>`, and is exported under its own name.
pub const HEADER_PREFIX: &str = "kafka.header.";

pub fn attribute_for_header(name: &str) -> String {
    if name.starts_with("kafka.") || name.starts_with("dlq.") {
        format!("{HEADER_PREFIX}{name}")
    } else {
        name.to_string()
    }
}

pub fn header_for_attribute(name: &str) -> &str {
    name.strip_prefix(HEADER_PREFIX).unwrap_or(name)
}

/// Values of the provenance header/attribute: which side first wrote the record.
pub const FROM_KAFKA: &str = "kafka";
pub const FROM_DANUBE: &str = "danube";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_that_look_like_metadata_round_trip_under_a_prefix() {
        assert_eq!(attribute_for_header("trace"), "trace");
        assert_eq!(
            attribute_for_header("kafka.offset"),
            "kafka.header.kafka.offset"
        );
        assert_eq!(attribute_for_header("dlq.error"), "kafka.header.dlq.error");
        assert_eq!(header_for_attribute("kafka.header.dlq.error"), "dlq.error");
        assert_eq!(header_for_attribute("trace"), "trace");
    }
}
