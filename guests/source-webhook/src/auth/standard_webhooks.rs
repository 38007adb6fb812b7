//! Standard Webhooks (standardwebhooks.com): `webhook-signature` holds space-separated
//! `v1,<base64 HMAC-SHA256>` entries over `{webhook-id}.{webhook-timestamp}.{body}`.

use super::{Key, Tolerance, required};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use danube_connect_sdk::inbound_http::Request;

/// Marks a base64-encoded secret, as Standard Webhooks providers hand them out.
const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, Clone)]
pub struct StandardWebhooks {
    key: Key,
    tolerance: Tolerance,
}

impl StandardWebhooks {
    /// `whsec_<base64>` is decoded; any other string is used as raw key bytes.
    pub fn new(secret: &str, tolerance: Tolerance) -> Result<Self, String> {
        let key = match secret.strip_prefix(SECRET_PREFIX) {
            Some(encoded) => BASE64
                .decode(encoded)
                .map_err(|e| format!("the part after `{SECRET_PREFIX}` is not base64: {e}"))?,
            None => secret.as_bytes().to_vec(),
        };
        Ok(StandardWebhooks {
            key: Key::new(key)?,
            tolerance,
        })
    }

    pub fn verify(&self, request: &Request) -> Result<(), String> {
        let id = required(request, "webhook-id")?;
        let timestamp = required(request, "webhook-timestamp")?;
        let signatures = required(request, "webhook-signature")?;
        self.tolerance
            .check("webhook-timestamp", timestamp, request.received_at_ms)?;
        // Other versions (`v1a`, asymmetric) and entries that are not base64 cannot match.
        let candidates: Vec<Vec<u8>> = signatures
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| BASE64.decode(sig).ok())
            .collect();
        let signed = [
            id.as_bytes(),
            b".",
            timestamp.as_bytes(),
            b".",
            &request.body,
        ];
        if self
            .key
            .verifies(&signed, candidates.iter().map(Vec::as_slice))
        {
            Ok(())
        } else {
            Err("webhook-signature does not match".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{hmac_sha256, request_at};

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const SPEC_TIME_MS: u64 = 1_614_265_330_000;

    fn verifier() -> StandardWebhooks {
        StandardWebhooks::new(SPEC_SECRET, Tolerance::new(300)).expect("secret")
    }

    fn signed(signature: &str, body: &[u8], received_at_ms: u64) -> Request {
        request_at(
            received_at_ms,
            &[
                ("webhook-id", SPEC_ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", signature),
            ],
            body,
        )
    }

    #[test]
    fn accepts_the_specification_example() {
        assert_eq!(
            verifier().verify(&signed(SPEC_SIGNATURE, SPEC_BODY, SPEC_TIME_MS)),
            Ok(())
        );
    }

    #[test]
    fn any_matching_entry_passes() {
        let list = format!("v1,bm90IGl0 v1a,whatever v2,x {SPEC_SIGNATURE}");
        assert!(
            verifier()
                .verify(&signed(&list, SPEC_BODY, SPEC_TIME_MS))
                .is_ok()
        );
    }

    #[test]
    fn refuses_a_tampered_body_a_wrong_signature_or_a_missing_header() {
        let v = verifier();
        let tampered = signed(SPEC_SIGNATURE, br#"{"test": 2432232315}"#, SPEC_TIME_MS);
        assert_eq!(
            v.verify(&tampered).expect_err("tampered"),
            "webhook-signature does not match"
        );
        let wrong = signed(
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
            SPEC_BODY,
            SPEC_TIME_MS,
        );
        assert!(v.verify(&wrong).is_err());
        assert!(
            v.verify(&signed("v1,!!!", SPEC_BODY, SPEC_TIME_MS))
                .is_err()
        );
        let unsigned = request_at(
            SPEC_TIME_MS,
            &[("webhook-id", SPEC_ID), ("webhook-timestamp", "1614265330")],
            SPEC_BODY,
        );
        assert_eq!(
            v.verify(&unsigned).expect_err("missing"),
            "missing webhook-signature header"
        );
    }

    #[test]
    fn refuses_a_timestamp_outside_the_tolerance() {
        let replayed = signed(SPEC_SIGNATURE, SPEC_BODY, SPEC_TIME_MS + 301_000);
        let reason = verifier().verify(&replayed).expect_err("replayed");
        assert!(reason.contains("outside the tolerance"), "{reason}");
        let early = signed(SPEC_SIGNATURE, SPEC_BODY, SPEC_TIME_MS - 301_000);
        assert!(verifier().verify(&early).is_err());
    }

    #[test]
    fn a_secret_without_the_prefix_is_raw_bytes() {
        let v = StandardWebhooks::new("plain secret", Tolerance::new(300)).expect("secret");
        let mac = hmac_sha256(
            b"plain secret",
            b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{}",
        );
        let signature = format!("v1,{}", BASE64.encode(mac));
        assert!(v.verify(&signed(&signature, b"{}", SPEC_TIME_MS)).is_ok());
        assert!(
            v.verify(&signed(SPEC_SIGNATURE, b"{}", SPEC_TIME_MS))
                .is_err()
        );
    }

    #[test]
    fn refuses_bad_secrets() {
        let tolerance = Tolerance::new(300);
        assert!(StandardWebhooks::new("", tolerance).is_err());
        assert!(StandardWebhooks::new("whsec_", tolerance).is_err());
        assert!(StandardWebhooks::new("whsec_not base64!", tolerance).is_err());
    }
}
