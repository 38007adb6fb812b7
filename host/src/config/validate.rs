//! Checks serde cannot express: names Danube accepts, sensible ranges, one role per file.

use super::{ConfigError, ConnectorConfig, Pipeline, SubscriptionType};

/// Below this a single large message could never fit.
const MIN_BUFFER_BYTES: u64 = 64 << 10;
/// Most instances one sink may run at once.
const MAX_CONCURRENCY: usize = 64;

pub fn check(c: &ConnectorConfig) -> Result<(), ConfigError> {
    let err = |key: &str, message: String| ConfigError::Key {
        path: c.path.clone(),
        key: key.to_string(),
        message,
    };
    if c.connector.name.trim().is_empty() {
        return Err(err("connector.name", "must not be empty".into()));
    }
    if !(c.danube.service_url.starts_with("http://")
        || c.danube.service_url.starts_with("https://"))
    {
        return Err(err(
            "danube.service_url",
            format!(
                "expected http://host:port or https://host:port, got \"{}\"",
                c.danube.service_url
            ),
        ));
    }
    let d = &c.danube;
    if d.tls_cert.is_some() != d.tls_key.is_some() {
        return Err(err(
            "danube.tls_key",
            "tls_cert and tls_key go together".into(),
        ));
    }
    let secured = d.tls_ca.is_some() || d.tls_cert.is_some() || d.token.is_some();
    if secured && !d.service_url.starts_with("https://") {
        return Err(err(
            "danube.service_url",
            format!(
                "TLS and tokens need an https:// URL, got \"{}\"",
                d.service_url
            ),
        ));
    }
    if let Some(url) = &c.danube.metrics_url
        && !url.starts_with("http://")
    {
        return Err(err(
            "danube.metrics_url",
            format!("expected http://host:port/metrics, got \"{url}\""),
        ));
    }
    if let Pipeline::Sink(sink) = &c.pipeline {
        if sink.topics.is_empty() {
            return Err(err("sink.topics", "list at least one topic".into()));
        }
        for (i, t) in sink.topics.iter().enumerate() {
            check_topic(t).map_err(|m| err(&format!("sink.topics[{i}]"), m))?;
        }
        if sink.subscription.trim().is_empty() {
            return Err(err("sink.subscription", "must not be empty".into()));
        }
        if !sink.key_filters.is_empty() && sink.subscription_type != SubscriptionType::KeyShared {
            return Err(err(
                "sink.key_filters",
                "key filters need subscription_type = \"key_shared\"".into(),
            ));
        }
        if let Some(i) = sink.key_filters.iter().position(|f| f.is_empty()) {
            return Err(err(
                &format!("sink.key_filters[{i}]"),
                "an empty pattern matches no key; use \"*\" for every key".into(),
            ));
        }
        if sink.concurrency == 0 || sink.concurrency > MAX_CONCURRENCY {
            return Err(err(
                "sink.concurrency",
                format!("must be between 1 and {MAX_CONCURRENCY}"),
            ));
        }
        if sink.concurrency > 1 && sink.buffer.is_some() {
            return Err(err(
                "sink.concurrency",
                "cannot be combined with [sink.buffer] yet: use one or the other".into(),
            ));
        }
        if let Some(buffer) = &sink.buffer
            && buffer.max_bytes < MIN_BUFFER_BYTES
        {
            return Err(err(
                "sink.buffer.max_bytes",
                format!("must be at least {MIN_BUFFER_BYTES} (64 KiB)"),
            ));
        }
    }
    if let Pipeline::Source(source) = &c.pipeline {
        check_topic(&source.topic).map_err(|m| err("source.topic", m))?;
        if source.producers_per_topic == 0 || source.producers_per_topic > 64 {
            return Err(err(
                "source.producers_per_topic",
                "must be between 1 and 64".into(),
            ));
        }
        if source.sends_in_flight == 0 || source.sends_in_flight > 256 {
            return Err(err(
                "source.sends_in_flight",
                "must be between 1 and 256".into(),
            ));
        }
        if source.max_in_flight == 0 {
            return Err(err("source.max_in_flight", "must be at least 1".into()));
        }
        if source.poll_interval_ms > u64::from(u32::MAX) {
            return Err(err("source.poll_interval_ms", "is too large".into()));
        }
    }
    if let Some(dlq) = &c.runtime.dead_letter_topic {
        check_topic(dlq).map_err(|m| err("runtime.dead_letter_topic", m))?;
    }
    let r = &c.runtime;
    if r.batch_size == 0 {
        return Err(err("runtime.batch_size", "must be at least 1".into()));
    }
    if r.memory_limit_mb == 0 || r.memory_limit_mb > 4096 {
        return Err(err(
            "runtime.memory_limit_mb",
            "must be between 1 and 4096".into(),
        ));
    }
    if r.call_deadline_ms == 0 {
        return Err(err("runtime.call_deadline_ms", "must be at least 1".into()));
    }
    if r.max_guest_traps == 0 {
        return Err(err("runtime.max_guest_traps", "must be at least 1".into()));
    }
    if r.restart_backoff_ms == 0 || r.restart_max_backoff_ms < r.restart_backoff_ms {
        return Err(err(
            "runtime.restart_max_backoff_ms",
            "restart_backoff_ms must be at least 1 and restart_max_backoff_ms at least as large"
                .into(),
        ));
    }
    if let Some(token) = &c.metrics.admin_token {
        check_token(token).map_err(|m| err("metrics.admin_token", m))?;
    }
    if c.log
        .level
        .parse::<tracing_subscriber::filter::EnvFilter>()
        .is_err()
    {
        return Err(err(
            "log.level",
            format!("\"{}\" is not a log level or filter", c.log.level),
        ));
    }
    Ok(())
}

/// An admin token must be long enough not to be guessed and fit in an HTTP header.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.len() < 8 {
        return Err("use at least 8 characters".into());
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err("use printable ASCII without spaces".into());
    }
    Ok(())
}

/// Danube topic names are `/namespace/topic` with letters, digits, `_` and `-`.
pub fn check_topic(t: &str) -> Result<(), String> {
    let parts: Vec<&str> = t.split('/').collect();
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
    };
    if parts.len() != 3 || !parts[0].is_empty() || !valid_part(parts[1]) || !valid_part(parts[2]) {
        return Err(format!(
            "\"{t}\" is not a Danube topic: expected /namespace/topic using letters, digits, '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_topic;

    #[test]
    fn topic_names() {
        assert!(check_topic("/default/orders-1_a").is_ok());
        for bad in [
            "default/orders",
            "/default/or.ders",
            "/default",
            "/a/b/c",
            "//x",
        ] {
            assert!(check_topic(bad).is_err(), "{bad}");
        }
    }
}
