//! The registry returns a definition in its own wrapping (danube-broker v0.15 serializes its
//! internal type: `{"JsonSchema": {"raw_schema": "…"}}`); what a validator needs is the raw
//! schema inside.

/// The definition as it was registered, whichever way the registry wrapped it.
pub fn raw_definition(bytes: &[u8]) -> Vec<u8> {
    let Ok(serde_json::Value::Object(outer)) = serde_json::from_slice(bytes) else {
        return bytes.to_vec();
    };
    if outer.len() == 1
        && let Some((_, serde_json::Value::Object(inner))) = outer.iter().next()
        && let Some(serde_json::Value::String(raw)) = inner.get("raw_schema")
    {
        return raw.clone().into_bytes();
    }
    bytes.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_the_brokers_wrapping_and_keeps_a_plain_schema() {
        let plain = br#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
        let wrapped = serde_json::json!({
            "JsonSchema": { "raw_schema": String::from_utf8_lossy(plain), "fingerprint": "f" }
        })
        .to_string();
        assert_eq!(raw_definition(wrapped.as_bytes()), plain.to_vec());
        assert_eq!(raw_definition(plain), plain.to_vec());
        assert_eq!(raw_definition(b"\"String\""), b"\"String\"".to_vec());
        assert_eq!(raw_definition(b"\x00\x01"), b"\x00\x01".to_vec());
    }
}
