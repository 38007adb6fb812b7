//! The connector's settings (`[config]` of the connector file). Every key is described in
//! `README.md`; errors name the key.

use crate::key::KeyRule;
use crate::route::{Filter, Template};
use danube_connect_sdk::Error;
use danube_connect_sdk::mqtt::{ConnectOptions, Protocol, Qos};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolName {
    V311,
    V5,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub url: String,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    #[serde(default = "default_protocol")]
    pub protocol: ProtocolName,
    #[serde(default)]
    pub clean_session: bool,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u16,
    pub session_expiry_secs: Option<u32>,
    pub receive_maximum: Option<u16>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u32,
    /// Subscribe as a member of this shared subscription group (`$share/<group>/<filter>`),
    /// so several gateways split the messages of the same filters.
    pub shared_group: Option<String>,
    pub mappings: Vec<RawMapping>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    pub filter: String,
    pub topic: String,
    #[serde(default = "default_qos")]
    pub qos: u8,
    #[serde(default)]
    pub partitions: u32,
    pub key: Option<KeyRule>,
    #[serde(default)]
    pub validate_json: bool,
}

fn default_protocol() -> ProtocolName {
    ProtocolName::V311
}

fn default_keep_alive() -> u16 {
    30
}

fn default_connect_timeout() -> u32 {
    10_000
}

fn default_qos() -> u8 {
    1
}

/// One checked mapping: messages matching `filter` go to `topic`.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub filter: Filter,
    pub topic: Template,
    pub qos: Qos,
    pub partitions: u32,
    pub key: Option<KeyRule>,
    pub validate_json: bool,
}

#[derive(Debug)]
pub struct Settings {
    pub connect: ConnectOptions,
    pub mappings: Vec<Mapping>,
    pub shared_group: Option<String>,
}

impl Settings {
    /// What to subscribe to for `filter`: the filter itself, or its shared form.
    pub fn subscription_filter(&self, filter: &Filter) -> String {
        match &self.shared_group {
            Some(group) => format!("$share/{group}/{}", filter.as_str()),
            None => filter.as_str().to_string(),
        }
    }
}

impl RawConfig {
    pub fn validate(self) -> Result<Settings, Error> {
        let bad =
            |key: &str, why: String| Error::config(format!("invalid config at `{key}`: {why}"));
        if self.client_id.trim().is_empty() {
            return Err(bad("client_id", "must not be empty".into()));
        }
        if !(self.url.starts_with("mqtt://") || self.url.starts_with("mqtts://")) {
            return Err(bad(
                "url",
                format!(
                    "\"{}\" is not mqtt://host:port or mqtts://host:port",
                    self.url
                ),
            ));
        }
        if let Some(group) = &self.shared_group
            && (group.is_empty() || group.contains(['/', '+', '#']))
        {
            return Err(bad(
                "shared_group",
                format!("\"{group}\" must be a non-empty name without `/`, `+` or `#`"),
            ));
        }
        if self.mappings.is_empty() {
            return Err(bad(
                "mappings",
                "add at least one [[config.mappings]]".into(),
            ));
        }
        let mut mappings = Vec::with_capacity(self.mappings.len());
        for (i, m) in self.mappings.into_iter().enumerate() {
            let at = |field: &str| format!("mappings[{i}].{field}");
            let filter = Filter::parse(&m.filter).map_err(|why| bad(&at("filter"), why))?;
            let topic = Template::parse(&m.topic).map_err(|why| bad(&at("topic"), why))?;
            let qos = Qos::from_level(m.qos)
                .ok_or_else(|| bad(&at("qos"), format!("{} is not 0, 1 or 2", m.qos)))?;
            if let Some(key) = &m.key {
                key.check().map_err(|why| bad(&at("key"), why))?;
            }
            mappings.push(Mapping {
                filter,
                topic,
                qos,
                partitions: m.partitions,
                key: m.key,
                validate_json: m.validate_json,
            });
        }
        let mut connect = ConnectOptions::new(self.url, self.client_id);
        connect.username = self.username.filter(|u| !u.is_empty());
        connect.password = self.password.filter(|p| !p.is_empty());
        connect.protocol = match self.protocol {
            ProtocolName::V311 => Protocol::V311,
            ProtocolName::V5 => Protocol::V5,
        };
        connect.clean_session = self.clean_session;
        connect.keep_alive_secs = self.keep_alive_secs;
        connect.session_expiry_secs = self.session_expiry_secs;
        connect.receive_maximum = self.receive_maximum;
        connect.timeout_ms = self.connect_timeout_ms;
        Ok(Settings {
            connect,
            mappings,
            shared_group: self.shared_group,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use danube_connect_sdk::Config;

    fn settings(json: &str) -> Result<Settings, Error> {
        Config::new(json).parse::<RawConfig>()?.validate()
    }

    #[test]
    fn a_full_config() {
        let s = settings(
            r#"{"url":"mqtt://127.0.0.1:1883","client_id":"gw","protocol":"v5","receive_maximum":500,
                "mappings":[{"filter":"sensors/+/temp","topic":"/default/temp-{2}","qos":2,
                             "partitions":3,"key":{"topic_level":2},"validate_json":true}]}"#,
        )
        .expect("valid");
        assert_eq!(s.connect.protocol, Protocol::V5);
        assert!(!s.connect.clean_session, "persistent sessions by default");
        assert_eq!(s.connect.receive_maximum, Some(500));
        let m = &s.mappings[0];
        assert_eq!(m.qos, Qos::ExactlyOnce);
        assert_eq!(m.partitions, 3);
        assert_eq!(m.key, Some(KeyRule::TopicLevel(2)));
    }

    #[test]
    fn errors_name_the_key() {
        let base = |mapping: &str| {
            format!(
                r#"{{"url":"mqtt://h:1","client_id":"gw","mappings":[{{"filter":"a/#","topic":"/default/a"}},{mapping}]}}"#
            )
        };
        let message = |json: &str| settings(json).expect_err("invalid").message().to_string();
        assert!(
            message(&base(r#"{"filter":"a/#/b","topic":"/default/a"}"#))
                .contains("mappings[1].filter")
        );
        assert!(
            message(&base(r#"{"filter":"a","topic":"/iot/{1}/{2}"}"#))
                .contains("mappings[1].topic")
        );
        assert!(
            message(&base(r#"{"filter":"a","topic":"/default/a","qos":3}"#))
                .contains("mappings[1].qos")
        );
        assert!(
            message(&base(
                r#"{"filter":"a","topic":"/default/a","key":{"topic_level":0}}"#
            ))
            .contains("mappings[1].key")
        );
        assert!(message(r#"{"url":"http://h","client_id":"gw","mappings":[]}"#).contains("`url`"));
        assert!(
            message(r#"{"url":"mqtt://h","client_id":"gw","mappings":[]}"#).contains("`mappings`")
        );
        assert!(
            message(r#"{"url":"mqtt://h","client_id":"","mappings":[]}"#).contains("`client_id`")
        );
    }

    #[test]
    fn a_shared_group_subscribes_the_shared_form_and_routes_by_the_filter() {
        let s = settings(
            r#"{"url":"mqtt://h:1","client_id":"gw-a","shared_group":"ingest",
                "mappings":[{"filter":"k/#","topic":"/default/k"}]}"#,
        )
        .expect("valid");
        let filter = &s.mappings[0].filter;
        assert_eq!(s.subscription_filter(filter), "$share/ingest/k/#");
        assert!(filter.matches("k/d1"), "deliveries carry the plain topic");
        let plain = settings(r#"{"url":"mqtt://h:1","client_id":"gw","mappings":[{"filter":"k/#","topic":"/default/k"}]}"#)
            .expect("valid");
        assert_eq!(plain.subscription_filter(&plain.mappings[0].filter), "k/#");
        for group in ["", "a/b", "a+", "#"] {
            let json = format!(
                r#"{{"url":"mqtt://h:1","client_id":"gw","shared_group":"{group}","mappings":[{{"filter":"k","topic":"/default/k"}}]}}"#
            );
            let err = settings(&json).expect_err("invalid group");
            assert!(
                err.message().contains("`shared_group`"),
                "{}",
                err.message()
            );
        }
    }
}
