//! Helpers for the unit tests: requests as the host hands them over, and HMACs computed
//! with the `hmac` crate directly.

use danube_connect_sdk::inbound_http::Request;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const RECEIVED_AT_MS: u64 = 1_700_000_000_000;

pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    Request {
        id: 7,
        method: method.into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        body: body.to_vec(),
        client: "192.0.2.1".into(),
        received_at_ms: RECEIVED_AT_MS,
    }
}

/// A POST to `/hooks` received at `received_at_ms`.
pub fn request_at(received_at_ms: u64, headers: &[(&str, &str)], body: &[u8]) -> Request {
    Request {
        received_at_ms,
        ..request("POST", "/hooks", headers, body)
    }
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}
