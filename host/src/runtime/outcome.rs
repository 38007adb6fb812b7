//! What happens to each message of a batch after the connector answered.

use crate::wit::{BatchError, GuestError};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Delivered: acknowledge.
    Done,
    /// Transient failure: try again after at least `after`.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Bad input: dead-letter with the reason, then acknowledge.
    DeadLetter { reason: String },
    /// Stop the connector without acknowledging.
    Fatal { reason: String },
}

/// One disposition per message of a batch of `len`.
pub fn dispositions(len: usize, result: Result<(), BatchError>) -> Vec<Disposition> {
    match result {
        Ok(()) => vec![Disposition::Done; len],
        Err(BatchError::All(e)) => vec![of_error(e); len],
        Err(BatchError::Some(failed)) => {
            let mut out = vec![Disposition::Done; len];
            let mut stray = None;
            for (idx, e) in failed {
                match out.get_mut(idx as usize) {
                    Some(slot) => *slot = of_error(e),
                    None => stray = Some(idx),
                }
            }
            // A failure at an index outside the batch is a connector bug, and the host cannot
            // tell which message it meant: acknowledge none of the rest, retry them instead.
            if let Some(idx) = stray {
                for slot in out.iter_mut().filter(|d| **d == Disposition::Done) {
                    *slot = Disposition::Retry {
                        reason: format!(
                            "the connector reported a failure for index {idx} of a batch of {len}"
                        ),
                        after: None,
                    };
                }
            }
            out
        }
    }
}

pub fn of_error(e: GuestError) -> Disposition {
    match e {
        GuestError::Retryable(r) => Disposition::Retry {
            reason: r.message,
            after: r.after_ms.map(|ms| Duration::from_millis(ms.into())),
        },
        GuestError::InvalidData(reason) => Disposition::DeadLetter { reason },
        GuestError::Fatal(reason) => Disposition::Fatal { reason },
        GuestError::Config(reason) => Disposition::Fatal {
            reason: format!("configuration error: {reason}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::Retry;

    #[test]
    fn partial_failure_keeps_successes() {
        let d = dispositions(
            4,
            Err(BatchError::Some(vec![
                (1, GuestError::InvalidData("bad json".into())),
                (
                    3,
                    GuestError::Retryable(Retry {
                        message: "503".into(),
                        after_ms: Some(1500),
                    }),
                ),
            ])),
        );
        assert_eq!(d[0], Disposition::Done);
        assert_eq!(
            d[1],
            Disposition::DeadLetter {
                reason: "bad json".into()
            }
        );
        assert_eq!(d[2], Disposition::Done);
        assert_eq!(
            d[3],
            Disposition::Retry {
                reason: "503".into(),
                after: Some(Duration::from_millis(1500))
            }
        );
    }

    #[test]
    fn index_outside_the_batch_acknowledges_nothing_unnamed() {
        let d = dispositions(
            3,
            Err(BatchError::Some(vec![
                (1, GuestError::InvalidData("bad json".into())),
                (9, GuestError::Fatal("out of range".into())),
            ])),
        );
        assert_eq!(
            d[1],
            Disposition::DeadLetter {
                reason: "bad json".into()
            }
        );
        for i in [0, 2] {
            assert!(
                matches!(&d[i], Disposition::Retry { reason, .. } if reason.contains("index 9")),
                "{:?}",
                d[i]
            );
        }
    }

    #[test]
    fn all_and_ok() {
        assert_eq!(dispositions(2, Ok(())), vec![Disposition::Done; 2]);
        let d = dispositions(
            2,
            Err(BatchError::All(GuestError::Config("url missing".into()))),
        );
        assert!(matches!(&d[1], Disposition::Fatal { reason } if reason.contains("url missing")));
    }
}
