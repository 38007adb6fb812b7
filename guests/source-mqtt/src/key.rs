//! The routing key of a record: a level of the MQTT topic, a field of a JSON payload, or none.
//! Records with the same key keep their order in Danube.

use danube_connect_sdk::FieldPath;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum KeyRule {
    /// The N-th level (1-based) of the MQTT topic, e.g. the device id in `sensors/{id}/temp`.
    TopicLevel(usize),
    /// A field of a JSON payload by dotted path (`device.id`); strings unquoted, other values
    /// as JSON text.
    JsonField(String),
}

impl KeyRule {
    pub fn check(&self) -> Result<(), String> {
        match self {
            KeyRule::TopicLevel(0) => Err("topic_level counts from 1".into()),
            KeyRule::JsonField(path) => FieldPath::parse(path).map(drop).map_err(|e| e.to_string()),
            KeyRule::TopicLevel(_) => Ok(()),
        }
    }

    /// `json` is the payload parsed once by the caller, if it is JSON.
    pub fn key(&self, mqtt_topic: &str, json: Option<&serde_json::Value>) -> Option<String> {
        match self {
            KeyRule::TopicLevel(n) => mqtt_topic
                .split('/')
                .nth(n.checked_sub(1)?)
                .filter(|l| !l.is_empty())
                .map(String::from),
            KeyRule::JsonField(path) => {
                // Checked at `open`, so parsing again cannot fail.
                match FieldPath::parse(path).ok()?.get(json?)? {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_from_topic_levels() {
        let rule = KeyRule::TopicLevel(2);
        assert_eq!(
            rule.key("sensors/dev-7/temp", None).as_deref(),
            Some("dev-7")
        );
        assert_eq!(rule.key("sensors", None), None);
        assert_eq!(rule.key("sensors//temp", None), None);
        assert!(KeyRule::TopicLevel(0).check().is_err());
    }

    #[test]
    fn keys_from_json_fields() {
        let payload = json!({"device": {"id": "abc", "n": 7, "ok": true}});
        let key = |p: &str| KeyRule::JsonField(p.into()).key("t", Some(&payload));
        assert_eq!(key("device.id").as_deref(), Some("abc"));
        assert_eq!(key("device.n").as_deref(), Some("7"));
        assert_eq!(key("device.ok").as_deref(), Some("true"));
        assert_eq!(key("device.missing"), None);
        assert_eq!(KeyRule::JsonField("id".into()).key("t", None), None);
        assert!(KeyRule::JsonField("a..b".into()).check().is_err());
    }
}
