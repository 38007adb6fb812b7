//! Accessors on the messages a sink receives.

use serde::de::DeserializeOwned;

use crate::Error;
pub use crate::bindings::sink::danube::connect::types::Message;

impl Message {
    /// A message with the given topic, offset and payload and no other metadata;
    /// handy in unit tests of a sink.
    pub fn new(topic: impl Into<String>, offset: u64, payload: impl Into<Vec<u8>>) -> Self {
        Message {
            topic: topic.into(),
            offset,
            publish_time_us: 0,
            producer_name: String::new(),
            key: None,
            attributes: Vec::new(),
            payload: payload.into(),
            schema: None,
        }
    }

    /// Sets the routing key (builder style).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Appends an attribute (builder style).
    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Topic the message was consumed from, e.g. `/default/orders`.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Offset of the message within its topic; stable across redeliveries.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Broker publish time in microseconds since the Unix epoch.
    pub fn publish_time(&self) -> u64 {
        self.publish_time_us
    }

    /// Name of the producer that published the message.
    pub fn producer(&self) -> &str {
        &self.producer_name
    }

    /// Routing key, if the producer set one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Value of the first attribute called `name` (case-sensitive).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All attributes in the order the producer set them.
    pub fn attributes(&self) -> &[(String, String)] {
        &self.attributes
    }

    /// The registry schema the producer published with, if any; [`crate::schemas::get`]
    /// returns it.
    pub fn schema(&self) -> Option<crate::schemas::SchemaRef> {
        self.schema
    }

    /// Sets the schema reference (builder style), as a typed producer would.
    pub fn with_schema(mut self, id: u64, version: u32) -> Self {
        self.schema = Some(crate::schemas::SchemaRef { id, version });
        self
    }

    /// The raw payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload as UTF-8; anything else is an invalid-data error.
    pub fn payload_str(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.payload).map_err(|e| {
            Error::invalid_data(format!(
                "payload of {}@{} is not valid UTF-8: {e}",
                self.topic, self.offset
            ))
        })
    }

    /// The payload parsed as JSON into `T`; a parse failure is an invalid-data error.
    pub fn payload_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            Error::invalid_data(format!(
                "payload of {}@{} is not the expected JSON: {e}",
                self.topic, self.offset
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let m = Message::new("/default/a", 7, b"{\"n\":1}".to_vec())
            .with_key("k")
            .with_attribute("x", "1")
            .with_attribute("x", "2");
        assert_eq!(m.topic(), "/default/a");
        assert_eq!(m.offset(), 7);
        assert_eq!(m.key(), Some("k"));
        assert_eq!(m.attribute("x"), Some("1"));
        assert_eq!(m.attribute("y"), None);
        assert_eq!(m.attributes().len(), 2);
        let v: serde_json::Value = m.payload_json().unwrap();
        assert_eq!(v["n"], 1);
    }

    #[test]
    fn bad_payloads_are_invalid_data() {
        let m = Message::new("t", 1, vec![0xff, 0xfe]);
        assert!(matches!(m.payload_str(), Err(Error::InvalidData(_))));
        assert!(matches!(
            m.payload_json::<serde_json::Value>(),
            Err(Error::InvalidData(_))
        ));
    }
}
