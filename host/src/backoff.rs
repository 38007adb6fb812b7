//! Exponential backoff with jitter, never shorter than what the connector asked for.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Delay before attempt `attempt + 1` (0-based): `base * 2^attempt` capped at `max`, scaled
    /// by a random factor in [0.5, 1.0] so many connectors do not retry in lockstep, and at
    /// least `at_least` (e.g. an HTTP `Retry-After`).
    pub fn delay(&self, attempt: u32, at_least: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max);
        let jittered = capped.mul_f64(rand::rng().random_range(0.5..=1.0));
        jittered.max(at_least.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_honours_floor() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let d0 = b.delay(0, None);
        assert!(
            d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100),
            "{d0:?}"
        );
        let d3 = b.delay(3, None);
        assert!(
            d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800),
            "{d3:?}"
        );
        for attempt in [10, 31, 1000] {
            assert!(b.delay(attempt, None) <= Duration::from_secs(1));
        }
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }
}
