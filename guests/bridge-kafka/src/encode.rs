//! Kafka keys and header values are bytes; Danube keys and attributes are text. Bytes that are
//! UTF-8 pass unchanged; other bytes (and text that itself starts with the marker) travel as
//! `base64:` followed by their base64, so every value round-trips exactly.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub const MARKER: &str = "base64:";

/// Kafka bytes as Danube text.
pub fn to_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.starts_with(MARKER) => s.to_string(),
        _ => format!("{MARKER}{}", STANDARD.encode(bytes)),
    }
}

/// Danube text back to the Kafka bytes it stands for.
pub fn to_bytes(text: &str) -> Vec<u8> {
    if let Some(encoded) = text.strip_prefix(MARKER)
        && let Ok(bytes) = STANDARD.decode(encoded)
    {
        return bytes;
    }
    text.as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_passes_bytes_are_marked() {
        assert_eq!(to_text(b"order-7"), "order-7");
        assert_eq!(to_text(&[0xff, 0x00, 0x10]), "base64:/wAQ");
        assert_eq!(to_bytes("base64:/wAQ"), [0xff, 0x00, 0x10]);
    }

    #[test]
    fn every_value_round_trips() {
        let cases: [&[u8]; 5] = [
            b"",
            b"plain",
            b"base64:looks-marked",
            &[0xc3, 0x28],
            "üñí".as_bytes(),
        ];
        for bytes in cases {
            assert_eq!(to_bytes(&to_text(bytes)), bytes, "{bytes:?}");
        }
    }
}
