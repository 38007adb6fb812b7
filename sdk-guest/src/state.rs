//! A small durable key/value store private to the connector, kept by the host across
//! restarts. Outside WebAssembly (unit tests) it is an in-memory map.

use crate::Error;

/// The host could not read or write the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state store: {0}")]
pub struct StateError(pub String);

impl From<StateError> for Error {
    /// Storage trouble on the host side is assumed to be transient.
    fn from(e: StateError) -> Self {
        Error::retryable(e.to_string())
    }
}

/// Reads `key`; `None` when it was never set or was deleted.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, StateError> {
    imp::get(key).map_err(StateError)
}

/// Stores `value` under `key`, replacing any previous value.
pub fn set(key: &str, value: &[u8]) -> Result<(), StateError> {
    imp::set(key, value).map_err(StateError)
}

/// Removes `key`; removing a missing key succeeds.
pub fn delete(key: &str) -> Result<(), StateError> {
    imp::delete(key).map_err(StateError)
}

#[cfg(target_arch = "wasm32")]
use crate::bindings::sink::danube::connect::state as imp;

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::cell::RefCell;
    use std::collections::HashMap;

    thread_local! {
        static STORE: RefCell<HashMap<String, Vec<u8>>> = RefCell::new(HashMap::new());
    }

    pub fn get(key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(STORE.with(|s| s.borrow().get(key).cloned()))
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        STORE.with(|s| s.borrow_mut().insert(key.to_string(), value.to_vec()));
        Ok(())
    }

    pub fn delete(key: &str) -> Result<(), String> {
        STORE.with(|s| s.borrow_mut().remove(key));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(get("a"), Ok(None));
        set("a", b"1").unwrap();
        assert_eq!(get("a"), Ok(Some(b"1".to_vec())));
        delete("a").unwrap();
        assert_eq!(get("a"), Ok(None));
    }
}
