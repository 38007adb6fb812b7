//! `authorization: Bearer <token>`.

use super::{Key, required};
use danube_connect_sdk::inbound_http::Request;

/// Holds the token as a MAC under a fixed key, so a check compares two tags of equal
/// length in constant time whatever the length of the token sent.
#[derive(Debug, Clone)]
pub struct Bearer {
    key: Key,
    expected: Vec<u8>,
}

const TAG_KEY: &[u8] = b"danube-connect source-webhook bearer token";

impl Bearer {
    pub fn new(token: &str) -> Result<Self, String> {
        if token.is_empty() {
            return Err("must not be empty".into());
        }
        let key = Key::new(TAG_KEY.to_vec())?;
        let expected = key.tag(&[token.as_bytes()]);
        Ok(Bearer { key, expected })
    }

    pub fn verify(&self, request: &Request) -> Result<(), String> {
        let value = required(request, "authorization")?;
        let token = value
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or("authorization is not a Bearer token")?;
        if self.key.verifies(&[token.as_bytes()], [&self.expected[..]]) {
            Ok(())
        } else {
            Err("invalid bearer token".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::request;

    fn with(authorization: &str) -> Request {
        request("POST", "/h", &[("authorization", authorization)], b"{}")
    }

    #[test]
    fn accepts_the_token_in_any_scheme_case() {
        let b = Bearer::new("s3cret").expect("token");
        assert!(b.verify(&with("Bearer s3cret")).is_ok());
        assert!(b.verify(&with("bearer  s3cret ")).is_ok());
    }

    #[test]
    fn refuses_a_wrong_token_another_scheme_or_none() {
        let b = Bearer::new("s3cret").expect("token");
        assert_eq!(
            b.verify(&with("Bearer s3cre")).expect_err("wrong"),
            "invalid bearer token"
        );
        assert!(b.verify(&with("Bearer s3cret2")).is_err());
        assert!(b.verify(&with("Basic czNjcmV0")).is_err());
        assert!(b.verify(&with("s3cret")).is_err());
        let none = request("POST", "/h", &[], b"{}");
        assert_eq!(
            b.verify(&none).expect_err("missing"),
            "missing authorization header"
        );
        assert!(Bearer::new("").is_err());
    }
}
