//! Publishes messages the connector could not deliver, with the reason attached, to the
//! dead-letter topic (reliable dispatch, original key and attributes kept).

use super::connection::{DanubeError, Timeouts};
use danube_client::{DanubeClient, Producer};
use danube_core::message::StreamMessage;
use std::collections::HashMap;

/// Why a message was dead-lettered, carried as `dlq.*` attributes.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// One of [`attr::error_type`].
    pub kind: &'static str,
    pub reason: String,
    pub attempts: u32,
}

/// `fixed` when configured, else `<topic>-dlq`; partitions (`/ns/t-part-3`) share their
/// topic's dead-letter topic.
pub fn dead_letter_topic(fixed: Option<&str>, topic: &str) -> String {
    if let Some(fixed) = fixed {
        return fixed.to_string();
    }
    let base = match topic.rfind("-part-") {
        Some(i) if topic[i + 6..].chars().all(|c| c.is_ascii_digit()) => &topic[..i],
        _ => topic,
    };
    format!("{base}-dlq")
}

pub struct DeadLetterRouter {
    connector: String,
    /// Fixed topic from config; `None` routes each message to `<its topic>-dlq`.
    fixed_topic: Option<String>,
    producers: HashMap<String, Producer>,
    timeouts: Timeouts,
}

impl DeadLetterRouter {
    pub fn new(connector: &str, fixed_topic: Option<String>, timeouts: Timeouts) -> Self {
        Self {
            connector: connector.to_string(),
            fixed_topic,
            producers: HashMap::new(),
            timeouts,
        }
    }

    /// The dead-letter topic for a message consumed from `source_topic`.
    pub fn topic_for(&self, source_topic: &str) -> String {
        dead_letter_topic(self.fixed_topic.as_deref(), source_topic)
    }

    pub async fn publish(
        &mut self,
        client: &DanubeClient,
        m: &StreamMessage,
        letter: &DeadLetter,
    ) -> Result<String, DanubeError> {
        let topic = self.topic_for(&m.msg_id.topic_name);
        if !self.producers.contains_key(&topic) {
            let mut producer = client
                .new_producer()
                .with_topic(topic.clone())
                .with_name(format!(
                    "{}-dlq-{}-{:08x}",
                    self.connector,
                    std::process::id(),
                    rand::random::<u32>()
                ))
                .with_reliable_dispatch()
                .build()
                .map_err(|source| DanubeError::Client {
                    what: format!("configuring dead-letter producer for {topic}"),
                    source,
                })?;
            self.timeouts
                .run(
                    || format!("creating dead-letter producer for {topic}"),
                    producer.create(),
                )
                .await?;
            self.producers.insert(topic.clone(), producer);
        }
        let Some(producer) = self.producers.get(&topic) else {
            return Err(DanubeError::Closed(format!(
                "dead-letter producer for {topic} vanished"
            )));
        };
        let attributes = attributes(&self.connector, m, letter);
        let payload = m.payload.to_vec();
        let what = || format!("publishing to dead-letter topic {topic}");
        match &m.routing_key {
            Some(key) => {
                self.timeouts
                    .run(what, producer.send_with_key(payload, Some(attributes), key))
                    .await?
            }
            None => {
                self.timeouts
                    .run(what, producer.send(payload, Some(attributes)))
                    .await?
            }
        };
        Ok(topic)
    }
}

// The `dlq.*` attribute names: the very file guests read through the SDK
// (`danube_connect_sdk::dlq`), so host and connectors cannot disagree on a name.
#[path = "../../../sdk-guest/src/dlq.rs"]
pub mod attr;

/// Original attributes plus `dlq.*` ones saying what went wrong and where it came from.
pub fn attributes(
    connector: &str,
    m: &StreamMessage,
    letter: &DeadLetter,
) -> HashMap<String, String> {
    let mut a = m.attributes.clone();
    a.insert(attr::ERROR.into(), letter.reason.clone());
    a.insert(attr::ERROR_TYPE.into(), letter.kind.into());
    a.insert(attr::CONNECTOR.into(), connector.into());
    a.insert(attr::SOURCE_TOPIC.into(), m.msg_id.topic_name.clone());
    a.insert(attr::OFFSET.into(), m.msg_id.topic_offset.to_string());
    a.insert(attr::ATTEMPTS.into(), letter.attempts.to_string());
    a.insert(
        attr::PUBLISH_TIME_US.into(),
        m.publish_time.saturating_mul(1_000).to_string(),
    );
    a.insert(attr::PRODUCER.into(), m.producer_name.clone());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(fixed: Option<&str>) -> DeadLetterRouter {
        DeadLetterRouter::new(
            "c",
            fixed.map(String::from),
            Timeouts {
                call: std::time::Duration::from_secs(1),
            },
        )
    }

    #[test]
    fn dlq_topic_names() {
        assert_eq!(
            router(None).topic_for("/default/orders"),
            "/default/orders-dlq"
        );
        assert_eq!(
            router(None).topic_for("/default/orders-part-2"),
            "/default/orders-dlq"
        );
        assert_eq!(
            router(None).topic_for("/default/my-part-x"),
            "/default/my-part-x-dlq"
        );
        assert_eq!(
            router(Some("/default/all-dlq")).topic_for("/default/orders"),
            "/default/all-dlq"
        );
    }

    #[test]
    fn attributes_carry_reason_and_origin() {
        let m = StreamMessage {
            request_id: 0,
            msg_id: danube_core::message::MessageID {
                producer_id: 1,
                topic_name: "/default/orders".into(),
                broker_addr: String::new(),
                topic_offset: 41,
            },
            payload: bytes::Bytes::from_static(b"x"),
            publish_time: 0,
            producer_name: "p".into(),
            subscription_name: None,
            attributes: [("tenant".to_string(), "a".to_string())].into(),
            schema_id: None,
            schema_version: None,
            routing_key: None,
        };
        let letter = DeadLetter {
            kind: "invalid_data",
            reason: "HTTP 400: bad".into(),
            attempts: 1,
        };
        let a = attributes("hook", &m, &letter);
        assert_eq!(a["tenant"], "a");
        assert_eq!(a["dlq.error"], "HTTP 400: bad");
        assert_eq!(a["dlq.error_type"], "invalid_data");
        assert_eq!(a["dlq.offset"], "41");
        assert_eq!(a["dlq.source_topic"], "/default/orders");
    }
}
