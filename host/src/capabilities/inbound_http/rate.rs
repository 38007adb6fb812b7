//! Per-client rate limiting: a token bucket per IP address, refilled at `per_second` up to
//! `burst`.

use super::grant::RateLimit;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle ones are swept, so a scan from many addresses cannot grow the
/// map without bound.
const SWEEP_AT: usize = 10_000;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            per_second: limit.per_second,
            burst: limit.burst.unwrap_or(limit.per_second.max(1.0)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`; when none is left, how long until one is.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT {
            let full_after = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, b| now.duration_since(b.at) < full_after);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: f64) -> RateLimiter {
        RateLimiter::new(RateLimit {
            per_second,
            burst: Some(burst),
        })
    }

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = limiter(10.0, 3.0);
        let a: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(a, t0).is_ok());
        }
        let wait = limiter.take(a, t0).expect_err("the burst is spent");
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(limiter.take(a, t0 + Duration::from_millis(100)).is_ok());
        assert!(limiter.take(a, t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn each_client_has_its_own_bucket() {
        let limiter = limiter(1.0, 1.0);
        let t0 = Instant::now();
        assert!(limiter.take([10, 0, 0, 1].into(), t0).is_ok());
        assert!(limiter.take([10, 0, 0, 1].into(), t0).is_err());
        assert!(limiter.take([10, 0, 0, 2].into(), t0).is_ok());
    }
}
