//! Constructors for the errors a connector reports to the host.

pub use crate::bindings::sink::danube::connect::types::{BatchError, Error, Retry};

impl Error {
    /// A transient failure: the host backs off (exponentially, with jitter) and retries.
    pub fn retryable(message: impl Into<String>) -> Self {
        Error::Retryable(Retry {
            message: message.into(),
            after_ms: None,
        })
    }

    /// A transient failure that must not be retried before `after_ms` milliseconds,
    /// e.g. from an HTTP `Retry-After` header.
    pub fn retry_after(message: impl Into<String>, after_ms: u32) -> Self {
        Error::Retryable(Retry {
            message: message.into(),
            after_ms: Some(after_ms),
        })
    }

    /// The input itself is bad: the host routes the message to the dead-letter topic.
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Error::InvalidData(message.into())
    }

    /// Unrecoverable: the host stops the connector.
    pub fn fatal(message: impl Into<String>) -> Self {
        Error::Fatal(message.into())
    }

    /// Bad configuration, normally returned from `open`.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    /// The human-readable reason, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::Retryable(retry) => &retry.message,
            Error::InvalidData(m) | Error::Fatal(m) | Error::Config(m) => m,
        }
    }

    /// Whether the host will retry after this error.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Retryable(_))
    }
}

impl BatchError {
    /// Every message of the batch failed with `error`.
    pub fn all(error: Error) -> Self {
        BatchError::All(error)
    }

    /// Only the listed messages (index into the batch, error) failed; the host acks the rest.
    pub fn some(failed: Vec<(u32, Error)>) -> Self {
        BatchError::Some(failed)
    }

    /// `Ok(())` when nothing failed, otherwise [`BatchError::some`] with the failures.
    pub fn from_failures(failed: Vec<(u32, Error)>) -> Result<(), BatchError> {
        if failed.is_empty() {
            Ok(())
        } else {
            Err(BatchError::Some(failed))
        }
    }
}

impl From<Error> for BatchError {
    fn from(error: Error) -> Self {
        BatchError::All(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_pick_the_variant() {
        assert!(Error::retryable("x").is_retryable());
        assert!(matches!(
            Error::retry_after("x", 5),
            Error::Retryable(Retry {
                after_ms: Some(5),
                ..
            })
        ));
        assert!(matches!(Error::invalid_data("x"), Error::InvalidData(_)));
        assert!(matches!(Error::fatal("x"), Error::Fatal(_)));
        assert_eq!(Error::config("bad url").message(), "bad url");
    }

    #[test]
    fn from_failures_is_ok_when_empty() {
        assert!(BatchError::from_failures(Vec::new()).is_ok());
        let err = BatchError::from_failures(vec![(1, Error::fatal("x"))]);
        assert!(matches!(err, Err(BatchError::Some(v)) if v.len() == 1));
    }
}
