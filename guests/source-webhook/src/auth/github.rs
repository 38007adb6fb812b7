//! GitHub: `x-hub-signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.

use super::{Key, required};
use danube_connect_sdk::inbound_http::Request;

const HEADER: &str = "x-hub-signature-256";

#[derive(Debug, Clone)]
pub struct Github {
    key: Key,
}

impl Github {
    /// GitHub signs with the secret's bytes as they are.
    pub fn new(secret: &str) -> Result<Self, String> {
        Ok(Github {
            key: Key::new(secret.as_bytes().to_vec())?,
        })
    }

    pub fn verify(&self, request: &Request) -> Result<(), String> {
        let value = required(request, HEADER)?;
        let hex_mac = value
            .trim()
            .strip_prefix("sha256=")
            .ok_or_else(|| format!("{HEADER} does not start with sha256="))?;
        let mac = hex::decode(hex_mac).map_err(|_| format!("{HEADER} is not hex"))?;
        if self.key.verifies(&[&request.body], [&mac[..]]) {
            Ok(())
        } else {
            Err(format!("{HEADER} does not match"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::request;

    // The example of GitHub's "Validating webhook deliveries" guide.
    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn signed(signature: &str, body: &[u8]) -> Request {
        request("POST", "/gh", &[(HEADER, signature)], body)
    }

    #[test]
    fn accepts_the_documented_example() {
        let g = Github::new(SECRET).expect("secret");
        assert_eq!(g.verify(&signed(SIGNATURE, BODY)), Ok(()));
        assert!(
            g.verify(&signed(
                &SIGNATURE.to_uppercase().replace("SHA256", "sha256"),
                BODY
            ))
            .is_ok()
        );
    }

    #[test]
    fn refuses_a_tampered_body_a_wrong_secret_or_a_missing_header() {
        let g = Github::new(SECRET).expect("secret");
        assert_eq!(
            g.verify(&signed(SIGNATURE, b"Hello, World?"))
                .expect_err("tampered"),
            "x-hub-signature-256 does not match"
        );
        let other = Github::new("another secret").expect("secret");
        assert!(other.verify(&signed(SIGNATURE, BODY)).is_err());
        assert!(
            g.verify(&signed(&SIGNATURE.replace("sha256=", "sha1="), BODY))
                .is_err()
        );
        assert!(g.verify(&signed("sha256=zz", BODY)).is_err());
        let unsigned = request("POST", "/gh", &[], BODY);
        assert_eq!(
            g.verify(&unsigned).expect_err("missing"),
            "missing x-hub-signature-256 header"
        );
    }
}
