//! Stripe: `stripe-signature: t=<unix secs>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 over
//! `{t}.{body}`.

use super::{Key, Tolerance, required};
use danube_connect_sdk::inbound_http::Request;

const HEADER: &str = "stripe-signature";

#[derive(Debug, Clone)]
pub struct Stripe {
    key: Key,
    tolerance: Tolerance,
}

impl Stripe {
    /// Stripe signs with the whole secret (`whsec_...` included) as bytes.
    pub fn new(secret: &str, tolerance: Tolerance) -> Result<Self, String> {
        Ok(Stripe {
            key: Key::new(secret.as_bytes().to_vec())?,
            tolerance,
        })
    }

    pub fn verify(&self, request: &Request) -> Result<(), String> {
        let value = required(request, HEADER)?;
        let mut timestamp = None;
        let mut candidates = Vec::new();
        for (name, field) in value.split(',').filter_map(|item| item.split_once('=')) {
            match name.trim() {
                "t" if timestamp.is_none() => timestamp = Some(field.trim()),
                // An entry that is not hex cannot match; `v0` and others are not HMAC-SHA256.
                "v1" => candidates.extend(hex::decode(field.trim()).ok()),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or_else(|| format!("{HEADER} has no t="))?;
        self.tolerance
            .check(&format!("{HEADER} t="), timestamp, request.received_at_ms)?;
        let signed = [timestamp.as_bytes(), b".", &request.body];
        if self
            .key
            .verifies(&signed, candidates.iter().map(Vec::as_slice))
        {
            Ok(())
        } else {
            Err(format!("{HEADER} does not match"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{hmac_sha256, request_at};

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;
    // HMAC-SHA256("whsec_test_secret", `1492774577.{"id":"evt_1"}`), computed with Python.
    const V1: &str = "799c4ba7bb339f3c8601adfd112f0e477c930a268be1243d341abb8286501c2f";
    const AT_MS: u64 = 1_492_774_577_000;

    fn verifier() -> Stripe {
        Stripe::new(SECRET, Tolerance::new(300)).expect("secret")
    }

    fn signed(header: &str, body: &[u8], received_at_ms: u64) -> Request {
        request_at(received_at_ms, &[(HEADER, header)], body)
    }

    #[test]
    fn accepts_a_known_answer_and_any_matching_v1() {
        let v = verifier();
        assert_eq!(
            v.verify(&signed(&format!("t=1492774577,v1={V1}"), BODY, AT_MS)),
            Ok(())
        );
        let several = format!("t=1492774577,v1=00ff,v0=abcd,v1={V1}");
        assert!(v.verify(&signed(&several, BODY, AT_MS + 5_000)).is_ok());
        let mac = hmac_sha256(SECRET.as_bytes(), b"1492774577.{\"id\":\"evt_1\"}");
        assert_eq!(hex::encode(mac), V1);
    }

    #[test]
    fn refuses_a_tampered_body_a_wrong_signature_or_a_missing_header() {
        let v = verifier();
        let header = format!("t=1492774577,v1={V1}");
        assert_eq!(
            v.verify(&signed(&header, br#"{"id":"evt_2"}"#, AT_MS))
                .expect_err("tampered"),
            "stripe-signature does not match"
        );
        // The signature binds the timestamp too.
        assert!(
            v.verify(&signed(&format!("t=1492774578,v1={V1}"), BODY, AT_MS))
                .is_err()
        );
        assert!(
            v.verify(&signed(&format!("t=1492774577,v0={V1}"), BODY, AT_MS))
                .is_err()
        );
        assert!(v.verify(&signed(&format!("v1={V1}"), BODY, AT_MS)).is_err());
        assert_eq!(
            v.verify(&request_at(AT_MS, &[], BODY))
                .expect_err("missing"),
            "missing stripe-signature header"
        );
    }

    #[test]
    fn refuses_a_timestamp_outside_the_tolerance() {
        let header = format!("t=1492774577,v1={V1}");
        let reason = verifier()
            .verify(&signed(&header, BODY, AT_MS + 301_000))
            .expect_err("replayed");
        assert!(reason.contains("outside the tolerance"), "{reason}");
    }
}
