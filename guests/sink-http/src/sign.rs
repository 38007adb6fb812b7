//! Request signing in the Standard Webhooks convention: HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}`, sent as `webhook-signature: v1,<base64>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix marking a base64-encoded secret, as Standard Webhooks providers hand them out.
const SECRET_PREFIX: &str = "whsec_";

/// Holds the signing key.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    // The key is a secret: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// `whsec_<base64>` is decoded; any other string is used as raw key bytes.
    pub fn from_secret(secret: &str) -> Result<Self, String> {
        let key = match secret.strip_prefix(SECRET_PREFIX) {
            Some(encoded) => BASE64
                .decode(encoded)
                .map_err(|e| format!("the part after `{SECRET_PREFIX}` is not base64: {e}"))?,
            None => secret.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err("must not be empty".to_string());
        }
        Ok(Signer { key })
    }

    /// The `webhook-signature` value for one request.
    pub fn signature(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }

    /// The three Standard Webhooks headers.
    pub fn headers(&self, id: &str, timestamp: u64, body: &[u8]) -> [(String, String); 3] {
        [
            ("webhook-id".to_string(), id.to_string()),
            ("webhook-timestamp".to_string(), timestamp.to_string()),
            (
                "webhook-signature".to_string(),
                self.signature(id, timestamp, body),
            ),
        ]
    }
}

/// Seconds since the Unix epoch from the host's wall clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// HMAC-SHA256 written out from RFC 2104 with plain SHA-256, independent of the
    /// `hmac` crate, to cross-check the signer.
    fn reference_hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&ipad)
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize()
            .to_vec()
    }

    #[test]
    fn matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let got = reference_hmac(b"Jefe", b"what do ya want for nothing?");
        let hex: String = got.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn signs_id_timestamp_and_body() {
        let key = b"a Standard Webhooks secret";
        let secret = format!("whsec_{}", BASE64.encode(key));
        let signer = Signer::from_secret(&secret).unwrap();
        let body = br#"{"hello":"world"}"#;
        let expected = format!(
            "v1,{}",
            BASE64.encode(reference_hmac(
                key,
                b"msg_1.1700000000.{\"hello\":\"world\"}"
            ))
        );
        assert_eq!(signer.signature("msg_1", 1_700_000_000, body), expected);
        let headers = signer.headers("msg_1", 1_700_000_000, body);
        assert_eq!(headers[0], ("webhook-id".into(), "msg_1".into()));
        assert_eq!(
            headers[1],
            ("webhook-timestamp".into(), "1700000000".into())
        );
        assert_eq!(headers[2].1, expected);
    }

    #[test]
    fn matches_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification, re-derived with Python's
        // hmac module.
        let signer = Signer::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signer.signature(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn raw_secrets_are_used_as_bytes() {
        let signer = Signer::from_secret("plain").unwrap();
        let expected = format!("v1,{}", BASE64.encode(reference_hmac(b"plain", b"i.1.")));
        assert_eq!(signer.signature("i", 1, b""), expected);
    }

    #[test]
    fn rejects_bad_secrets() {
        assert!(Signer::from_secret("").is_err());
        assert!(Signer::from_secret("whsec_").is_err());
        assert!(Signer::from_secret("whsec_not base64!").is_err());
    }
}
