//! A delivery from the broker becomes a record for Danube: its topic from the first matching
//! mapping, its key, `mqtt.*` attributes, the payload untouched, and its ack id as position.

use crate::config::Mapping;
use crate::key::KeyRule;
use danube_connect_sdk::mqtt::Delivery;
use danube_connect_sdk::{Record, dlq};

/// Position stream for MQTT ack ids.
pub const STREAM: &str = "mqtt";

/// The record for `d` and the index of the mapping it matched; bad input (no mapping, a
/// missing template level, invalid JSON when asked to validate) is marked for the
/// dead-letter topic with the reason.
pub fn to_record(d: Delivery, mappings: &[Mapping]) -> (Record, Option<usize>) {
    let attributes = attributes(&d);
    let position = (d.ack_id != 0).then(|| d.ack_id.to_string());
    let mqtt_topic = d.topic;
    let mut record = Record::new(d.payload);
    record.attributes = attributes;
    if let Some(id) = position {
        record = record.with_position(STREAM, id);
    }
    let Some(index) = mappings.iter().position(|m| m.filter.matches(&mqtt_topic)) else {
        let reason = format!("no mapping matches MQTT topic \"{mqtt_topic}\"");
        return (record.dead_letter(reason), None);
    };
    let mapping = &mappings[index];
    let topic = match mapping.topic.render(&mqtt_topic) {
        Ok(t) => t,
        Err(why) => return (record.dead_letter(why), Some(index)),
    };
    // A bad record keeps its topic, so it lands on that topic's dead-letter topic.
    record = record.with_topic(topic);
    let json = if mapping.validate_json || matches!(mapping.key, Some(KeyRule::JsonField(_))) {
        match serde_json::from_slice::<serde_json::Value>(&record.payload) {
            Ok(v) => Some(v),
            Err(e) if mapping.validate_json => {
                let reason = format!("payload is not valid JSON: {e}");
                return (record.dead_letter(reason), Some(index));
            }
            Err(_) => None,
        }
    } else {
        None
    };
    record.key = mapping
        .key
        .as_ref()
        .and_then(|k| k.key(&mqtt_topic, json.as_ref()));
    (record, Some(index))
}

fn attributes(d: &Delivery) -> Vec<(String, String)> {
    let mut a = vec![
        ("mqtt.topic".to_string(), d.topic.clone()),
        ("mqtt.qos".to_string(), d.qos.level().to_string()),
        ("mqtt.retain".to_string(), d.retain.to_string()),
        ("mqtt.dup".to_string(), d.dup.to_string()),
    ];
    if let Some(ct) = &d.content_type {
        a.push(("mqtt.content_type".into(), ct.clone()));
    }
    if let Some(rt) = &d.response_topic {
        a.push(("mqtt.response_topic".into(), rt.clone()));
    }
    if let Some(cd) = &d.correlation_data {
        a.push(("mqtt.correlation_data".into(), hex(cd)));
    }
    for (name, value) in &d.user_properties {
        // A property never overwrites what the connector says about the message.
        let name = if name.starts_with("mqtt.") || name.starts_with(dlq::PREFIX) {
            format!("mqtt.user.{name}")
        } else {
            name.clone()
        };
        a.push((name, value.clone()));
    }
    a
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use danube_connect_sdk::mqtt::Qos;
    use danube_connect_sdk::{Config, DEAD_LETTER_ATTRIBUTE};

    fn mappings() -> Vec<Mapping> {
        Config::new(
            r#"{"url":"mqtt://h:1","client_id":"gw","mappings":[
                {"filter":"sensors/+/temp","topic":"/default/temp-{2}","key":{"topic_level":2}},
                {"filter":"json/#","topic":"/default/json","key":{"json_field":"id"},"validate_json":true},
                {"filter":"deep/+","topic":"/default/deep-{3}"}]}"#,
        )
        .parse::<RawConfig>()
        .expect("parse")
        .validate()
        .expect("valid")
        .mappings
    }

    fn delivery(topic: &str, payload: &[u8], qos: Qos, ack_id: u64) -> Delivery {
        Delivery {
            topic: topic.into(),
            payload: payload.to_vec(),
            qos,
            retain: false,
            dup: false,
            ack_id,
            user_properties: Vec::new(),
            content_type: None,
            correlation_data: None,
            response_topic: None,
        }
    }

    fn attr<'a>(r: &'a Record, name: &str) -> Option<&'a str> {
        r.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_delivery_becomes_a_keyed_record_with_attributes_and_position() {
        let bytes = [0u8, 255, 1];
        let (r, m) = to_record(
            delivery("sensors/dev.1/temp", &bytes, Qos::AtLeastOnce, 42),
            &mappings(),
        );
        assert_eq!(m, Some(0));
        assert_eq!(r.topic.as_deref(), Some("/default/temp-dev_1"));
        assert_eq!(r.key.as_deref(), Some("dev.1"));
        assert_eq!(r.payload, bytes, "payload untouched");
        assert_eq!(attr(&r, "mqtt.topic"), Some("sensors/dev.1/temp"));
        assert_eq!(attr(&r, "mqtt.qos"), Some("1"));
        assert_eq!(attr(&r, "mqtt.retain"), Some("false"));
        assert_eq!(attr(&r, "mqtt.dup"), Some("false"));
        let p = r.position.expect("QoS 1 has a position");
        assert_eq!((p.stream_id.as_str(), p.value.as_str()), (STREAM, "42"));
    }

    #[test]
    fn qos_0_has_no_position() {
        let (r, _) = to_record(
            delivery("sensors/a/temp", b"x", Qos::AtMostOnce, 0),
            &mappings(),
        );
        assert!(r.position.is_none());
    }

    #[test]
    fn mqtt_5_properties_become_attributes() {
        let mut d = delivery("sensors/a/temp", b"x", Qos::AtLeastOnce, 1);
        d.user_properties = vec![
            ("site".into(), "north".into()),
            ("mqtt.qos".into(), "9".into()),
        ];
        d.content_type = Some("text/plain".into());
        d.correlation_data = Some(vec![0xab, 0x01]);
        d.response_topic = Some("replies/a".into());
        let (r, _) = to_record(d, &mappings());
        assert_eq!(attr(&r, "site"), Some("north"));
        assert_eq!(
            attr(&r, "mqtt.qos"),
            Some("1"),
            "a property cannot overwrite mqtt.*"
        );
        assert_eq!(attr(&r, "mqtt.user.mqtt.qos"), Some("9"));
        assert_eq!(attr(&r, "mqtt.content_type"), Some("text/plain"));
        assert_eq!(attr(&r, "mqtt.correlation_data"), Some("ab01"));
        assert_eq!(attr(&r, "mqtt.response_topic"), Some("replies/a"));
    }

    #[test]
    fn bad_input_is_marked_for_the_dead_letter_topic() {
        let m = mappings();
        let (invalid, _) = to_record(delivery("json/a", b"{not json", Qos::AtLeastOnce, 5), &m);
        assert!(
            attr(&invalid, DEAD_LETTER_ATTRIBUTE).is_some_and(|r| r.contains("not valid JSON"))
        );
        assert!(
            invalid.position.is_some(),
            "still committed once dead-lettered"
        );
        let (keyed, _) = to_record(
            delivery("json/a", br#"{"id":"k1"}"#, Qos::AtLeastOnce, 6),
            &m,
        );
        assert_eq!(keyed.key.as_deref(), Some("k1"));
        assert!(attr(&keyed, DEAD_LETTER_ATTRIBUTE).is_none());
        let (unmapped, none) = to_record(delivery("elsewhere", b"x", Qos::AtLeastOnce, 7), &m);
        assert!(attr(&unmapped, DEAD_LETTER_ATTRIBUTE).is_some_and(|r| r.contains("no mapping")));
        assert_eq!(none, None);
        let (short, _) = to_record(delivery("deep/x", b"x", Qos::AtLeastOnce, 8), &m);
        assert!(attr(&short, DEAD_LETTER_ATTRIBUTE).is_some_and(|r| r.contains("level 3")));
    }
}
