//! Where a polled record goes: its own topic or the connector's default one, or the
//! dead-letter topic when the connector marked it bad or named a topic Danube cannot have.

use crate::config::validate::check_topic;
use crate::danube::dead_letter::{attr, dead_letter_topic};
use crate::wit::Record;
use std::collections::HashMap;

#[derive(Debug, PartialEq, Eq)]
pub struct Routed {
    pub topic: String,
    pub key: Option<String>,
    pub attributes: HashMap<String, String>,
    /// Set when the record goes to the dead-letter topic.
    pub dead_letter: bool,
    /// The topic a derived dead-letter topic (`<topic>-dlq`) is named after: it must exist
    /// first (see `Publisher::create_first`).
    pub parent: Option<String>,
}

pub struct Router<'a> {
    pub connector: &'a str,
    pub default_topic: &'a str,
    pub dead_letter_topic: Option<&'a str>,
}

impl Router<'_> {
    /// Route one record, taking its key and attributes (the payload stays with the caller).
    pub fn route(&self, record: &mut Record) -> Routed {
        let intended = record.topic.as_deref().unwrap_or(self.default_topic);
        let mut attributes: HashMap<String, String> =
            std::mem::take(&mut record.attributes).into_iter().collect();
        let reason = match (attributes.remove(attr::ERROR), check_topic(intended)) {
            (Some(reason), _) => Some(reason),
            (None, Err(why)) => Some(format!("the connector named an invalid topic: {why}")),
            (None, Ok(())) => None,
        };
        let key = record.key.take();
        let Some(reason) = reason else {
            return Routed {
                topic: intended.to_string(),
                key,
                attributes,
                dead_letter: false,
                parent: None,
            };
        };
        // An invalid topic cannot name its own dead-letter topic: use the default topic's.
        let base = if check_topic(intended).is_ok() {
            intended
        } else {
            self.default_topic
        };
        attributes.insert(attr::ERROR.into(), reason);
        attributes.insert(
            attr::ERROR_TYPE.into(),
            attr::error_type::INVALID_DATA.into(),
        );
        attributes.insert(attr::CONNECTOR.into(), self.connector.into());
        attributes.insert(attr::DESTINATION_TOPIC.into(), intended.into());
        attributes.insert(attr::ATTEMPTS.into(), "1".into());
        Routed {
            topic: dead_letter_topic(self.dead_letter_topic, base),
            key,
            attributes,
            dead_letter: true,
            parent: self.dead_letter_topic.is_none().then(|| base.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTER: Router = Router {
        connector: "gw",
        default_topic: "/default/iot",
        dead_letter_topic: None,
    };

    fn record(topic: Option<&str>, attributes: &[(&str, &str)]) -> Record {
        Record {
            topic: topic.map(String::from),
            key: Some("k".into()),
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            payload: b"x".to_vec(),
            position: None,
            schema: None,
        }
    }

    #[test]
    fn a_record_goes_to_its_topic_or_the_default() {
        let r = ROUTER.route(&mut record(Some("/default/a"), &[("mqtt.qos", "1")]));
        assert_eq!(r.topic, "/default/a");
        assert!(!r.dead_letter);
        assert_eq!(r.key.as_deref(), Some("k"));
        assert_eq!(r.attributes["mqtt.qos"], "1");
        assert_eq!(ROUTER.route(&mut record(None, &[])).topic, "/default/iot");
    }

    #[test]
    fn a_marked_record_is_dead_lettered_with_its_reason() {
        let r = ROUTER.route(&mut record(
            Some("/default/a"),
            &[("dlq.error", "not JSON")],
        ));
        assert_eq!(r.topic, "/default/a-dlq");
        assert!(r.dead_letter);
        assert_eq!(r.attributes["dlq.error"], "not JSON");
        assert_eq!(r.attributes["dlq.destination_topic"], "/default/a");
        assert_eq!(r.attributes["dlq.connector"], "gw");
        assert_eq!(r.parent.as_deref(), Some("/default/a"), "created first");
        assert_eq!(
            ROUTER.route(&mut record(Some("/default/a"), &[])).parent,
            None
        );
    }

    #[test]
    fn an_invalid_topic_is_dead_lettered_next_to_the_default_topic() {
        let r = ROUTER.route(&mut record(Some("/default/a.b/c"), &[]));
        assert!(r.dead_letter);
        assert_eq!(r.topic, "/default/iot-dlq");
        assert_eq!(r.parent.as_deref(), Some("/default/iot"));
        assert!(
            r.attributes["dlq.error"].contains("invalid topic"),
            "{:?}",
            r.attributes
        );
        let fixed = Router {
            dead_letter_topic: Some("/default/all-dlq"),
            ..ROUTER
        };
        let r = fixed.route(&mut record(Some("bad"), &[]));
        assert_eq!(r.topic, "/default/all-dlq");
        assert_eq!(r.parent, None, "a configured name is nobody's partition");
    }
}
