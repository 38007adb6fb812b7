//! Topic name rules, matching the real broker: `/namespace/topic`.

use tonic::Status;

/// Suffix that joins a partitioned topic's base name and partition number.
const PARTITION_MARKER: &str = "-part-";

/// Checks `/namespace/topic` and returns the namespace.
pub(crate) fn namespace_of(topic: &str) -> Result<&str, Status> {
    let invalid = || {
        Status::invalid_argument(format!(
            "The topic: {topic} has an invalid format, should be: /namespace_name/topic_name \
             (letters, digits, '_' and '-' only)"
        ))
    };
    let rest = topic.strip_prefix('/').ok_or_else(invalid)?;
    let (namespace, name) = rest.split_once('/').ok_or_else(invalid)?;
    if valid_segment(namespace) && valid_segment(name) {
        Ok(namespace)
    } else {
        Err(invalid())
    }
}

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// For `<base>-part-N` returns `(base, N)`.
pub(crate) fn partition_of(topic: &str) -> Option<(&str, u32)> {
    let (base, number) = topic.rsplit_once(PARTITION_MARKER)?;
    let number = number.parse().ok()?;
    Some((base, number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_names() {
        assert_eq!(namespace_of("/default/orders").ok(), Some("default"));
        assert_eq!(namespace_of("/ns_1/a-b_C9").ok(), Some("ns_1"));
        assert_eq!(namespace_of("/default/t-part-3").ok(), Some("default"));
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "default/orders",
            "/default",
            "/default/",
            "//orders",
            "/default/a/b",
            "/default/a.b",
            "/default/a b",
            "/défault/a",
            "",
        ] {
            let err = namespace_of(bad).err().map(|s| s.code());
            assert_eq!(err, Some(tonic::Code::InvalidArgument), "{bad}");
        }
    }

    #[test]
    fn parses_partition_names() {
        assert_eq!(partition_of("/default/t-part-2"), Some(("/default/t", 2)));
        assert_eq!(partition_of("/default/t-part-x"), None);
        assert_eq!(partition_of("/default/t"), None);
    }
}
