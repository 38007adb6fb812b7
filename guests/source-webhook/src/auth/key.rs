//! An HMAC-SHA256 key and constant-time checks of signatures made with it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    // The key is a secret: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err("must not be empty".into());
        }
        Ok(Key(bytes))
    }

    /// The MAC state after `parts`, in order.
    fn mac(&self, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// Whether any of `candidates` is the MAC of `parts`; each comparison is constant-time.
    pub fn verifies<'a>(
        &self,
        parts: &[&[u8]],
        candidates: impl IntoIterator<Item = &'a [u8]>,
    ) -> bool {
        let mac = self.mac(parts);
        candidates
            .into_iter()
            .any(|tag| mac.clone().verify_slice(tag).is_ok())
    }

    /// The MAC of `parts`; used to hold a bearer token as a tag instead of in the clear.
    pub fn tag(&self, parts: &[&[u8]]) -> Vec<u8> {
        self.mac(parts).finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc4231_case_2() {
        let key = Key::new(b"Jefe".to_vec()).expect("key");
        let tag = key.tag(&[b"what do ya ", b"want for nothing?"]);
        assert_eq!(
            hex::encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(key.verifies(&[b"what do ya want for nothing?"], [&b"nope"[..], &tag]));
        assert!(!key.verifies(&[b"what do ya want for nothing!"], [&tag[..]]));
        assert!(!key.verifies(&[b"x"], []));
    }

    #[test]
    fn an_empty_key_is_refused_and_a_key_is_never_printed() {
        assert!(Key::new(Vec::new()).is_err());
        let key = Key::new(b"secret".to_vec()).expect("key");
        assert!(!format!("{key:?}").contains("secret"));
    }
}
