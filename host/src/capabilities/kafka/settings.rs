//! librdkafka client configurations: the connector's options and tuning properties, with the
//! security settings only the grant decides.

use super::access::{KafkaAccess, split_broker};
use super::errors::KafkaError;
use rdkafka::ClientConfig;

/// How often librdkafka reports statistics: the advertised-broker check and the consumer lag
/// read them.
const STATISTICS_INTERVAL_MS: &str = "5000";

/// Tuning properties a connector may set, by exact key or `prefix.`: sizes, timing and
/// batching. Security, files, brokers, offsets and delivery guarantees belong to the host.
const TUNABLE: &[&str] = &[
    "fetch.",
    "queued.",
    "max.partition.fetch.bytes",
    "receive.message.max.bytes",
    "message.max.bytes",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "partition.assignment.strategy",
    "group.instance.id",
    "isolation.level",
    "check.crcs",
    "linger.ms",
    "queue.buffering.",
    "batch.num.messages",
    "batch.size",
    "compression.level",
    "request.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "sticky.partitioning.linger.ms",
    "partitioner",
    "socket.",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "metadata.max.age.ms",
    "topic.metadata.refresh.interval.ms",
    "client.rack",
    // librdkafka's own debug contexts (`broker,msg,cgrp`), logged at debug level.
    "debug",
];

fn tunable(key: &str) -> bool {
    TUNABLE.iter().any(|t| {
        if t.ends_with('.') {
            key.starts_with(t)
        } else {
            key == *t
        }
    })
}

/// What both kinds of client take from the connector.
pub struct ClientOptions {
    pub brokers: Vec<String>,
    pub client_id: Option<String>,
    pub sasl: Option<Sasl>,
    pub properties: Vec<(String, String)>,
}

pub struct Sasl {
    /// librdkafka's spelling: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`.
    pub mechanism: &'static str,
    pub username: String,
    pub password: String,
}

/// The common part: brokers (each checked against the grant), TLS from the grant, SASL from
/// the connector, statistics for the host's own checks, then the tuning properties.
pub fn base(
    access: &KafkaAccess,
    connector: &str,
    options: &ClientOptions,
) -> Result<ClientConfig, KafkaError> {
    if options.brokers.is_empty() {
        return Err(KafkaError::Invalid("no bootstrap brokers given".into()));
    }
    let mut brokers = Vec::with_capacity(options.brokers.len());
    for b in &options.brokers {
        split_broker(b).map_err(KafkaError::Invalid)?;
        access
            .check_broker(b, connector)
            .map_err(KafkaError::Denied)?;
        brokers.push(b.trim().to_string());
    }
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers.join(","));
    c.set(
        "client.id",
        options
            .client_id
            .clone()
            .unwrap_or_else(|| format!("danube-connect-{connector}")),
    );
    c.set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
    let protocol = match (&access.tls, &options.sasl) {
        (None, None) => "plaintext",
        (Some(_), None) => "ssl",
        (None, Some(_)) => "sasl_plaintext",
        (Some(_), Some(_)) => "sasl_ssl",
    };
    c.set("security.protocol", protocol);
    if let Some(tls) = &access.tls {
        c.set("ssl.endpoint.identification.algorithm", "https");
        match &tls.ca_file {
            Some(ca) => c.set("ssl.ca.location", ca.display().to_string()),
            None => c.set("ssl.ca.location", "probe"),
        };
        if let Some((cert, key)) = &tls.client_cert {
            c.set("ssl.certificate.location", cert.display().to_string());
            c.set("ssl.key.location", key.display().to_string());
        }
    }
    if let Some(sasl) = &options.sasl {
        c.set("sasl.mechanism", sasl.mechanism);
        c.set("sasl.username", &sasl.username);
        c.set("sasl.password", &sasl.password);
    }
    for (key, value) in &options.properties {
        if !tunable(key) {
            return Err(KafkaError::Invalid(format!(
                "property `{key}` is not one a connector may set (security, files, brokers, \
                 offsets and delivery guarantees are the host's); tunable: {}",
                TUNABLE.join(", ")
            )));
        }
        if key == "debug" {
            c.set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
        }
        c.set(key, value);
    }
    Ok(c)
}

/// A group member that commits only what the connector commits.
pub fn consumer(mut c: ClientConfig, group_id: &str, earliest: bool) -> ClientConfig {
    c.set("group.id", group_id);
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    c.set("enable.partition.eof", "false");
    c.set(
        "auto.offset.reset",
        if earliest { "earliest" } else { "latest" },
    );
    c
}

/// Idempotent, every in-sync replica, keys partitioned like the Java client.
pub fn producer(mut c: ClientConfig, compression: &str, delivery_timeout_ms: u32) -> ClientConfig {
    c.set("enable.idempotence", "true");
    c.set("acks", "all");
    c.set("compression.type", compression);
    c.set(
        "message.timeout.ms",
        delivery_timeout_ms.max(1000).to_string(),
    );
    if c.get("partitioner").is_none() {
        c.set("partitioner", "murmur2_random");
    }
    // A connector waits for a whole batch's acknowledgements before it sends the next, so
    // lingering only adds latency (5 ms a batch: a sixth of the throughput with small
    // batches); what is queued together still travels in one request.
    if c.get("linger.ms").is_none() {
        c.set("linger.ms", "0");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::grant::KafkaGrant;
    use super::*;
    use std::path::Path;

    fn access() -> KafkaAccess {
        let grant: KafkaGrant = toml::from_str("allowed_brokers = ['127.0.0.1:*']").expect("grant");
        KafkaAccess::new(&grant, Path::to_path_buf).expect("access")
    }

    fn options(brokers: &[&str], properties: &[(&str, &str)]) -> ClientOptions {
        ClientOptions {
            brokers: brokers.iter().map(|s| s.to_string()).collect(),
            client_id: None,
            sasl: None,
            properties: properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn tuning_passes_security_does_not() {
        let c = base(
            &access(),
            "c",
            &options(
                &["127.0.0.1:9092"],
                &[("linger.ms", "20"), ("fetch.min.bytes", "1")],
            ),
        )
        .expect("tunable");
        assert_eq!(c.get("linger.ms"), Some("20"));
        assert_eq!(c.get("security.protocol"), Some("plaintext"));
        for key in [
            "ssl.ca.location",
            "sasl.password",
            "bootstrap.servers",
            "enable.idempotence",
        ] {
            let e =
                base(&access(), "c", &options(&["127.0.0.1:9092"], &[(key, "x")])).expect_err(key);
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    #[test]
    fn sasl_comes_from_the_connector_tls_from_the_grant() {
        let mut o = options(&["127.0.0.1:9092"], &[]);
        o.sasl = Some(Sasl {
            mechanism: "SCRAM-SHA-512",
            username: "bridge".into(),
            password: "secret".into(),
        });
        let c = base(&access(), "c", &o).expect("sasl");
        assert_eq!(c.get("security.protocol"), Some("sasl_plaintext"));
        assert_eq!(c.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(c.get("sasl.username"), Some("bridge"));
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not checked here").expect("write");
        let grant: KafkaGrant = toml::from_str(&format!(
            "allowed_brokers = ['127.0.0.1:*']\ntls = 'verify-full'\nca_file = '{}'",
            ca.display()
        ))
        .expect("grant");
        let tls = KafkaAccess::new(&grant, Path::to_path_buf).expect("access");
        let c = base(&tls, "c", &o).expect("sasl over tls");
        assert_eq!(c.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(c.get("ssl.ca.location"), ca.to_str());
        assert_eq!(
            c.get("ssl.endpoint.identification.algorithm"),
            Some("https")
        );
    }

    #[test]
    fn brokers_outside_the_grant_are_denied() {
        let e = base(&access(), "c", &options(&["10.1.1.1:9092"], &[])).expect_err("denied");
        assert!(matches!(e, KafkaError::Denied(_)), "{e}");
        let e = base(&access(), "c", &options(&[], &[])).expect_err("none");
        assert!(matches!(e, KafkaError::Invalid(_)), "{e}");
    }

    #[test]
    fn producers_keep_the_guarantees() {
        let p = producer(
            base(
                &access(),
                "c",
                &options(&["127.0.0.1:9092"], &[("linger.ms", "7")]),
            )
            .expect("ok"),
            "zstd",
            30_000,
        );
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        assert_eq!(p.get("linger.ms"), Some("7"));
        assert_eq!(p.get("partitioner"), Some("murmur2_random"));
    }
}
