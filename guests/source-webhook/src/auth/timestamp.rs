//! Replay protection: a signed timestamp must be close to the moment the host received the
//! request, so a captured request cannot be sent again later.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    secs: u64,
}

impl Tolerance {
    pub fn new(secs: u64) -> Self {
        Tolerance { secs }
    }

    /// Checks `text` (Unix seconds, as header `header` gave it) against `received_at_ms`.
    pub fn check(&self, header: &str, text: &str, received_at_ms: u64) -> Result<(), String> {
        let secs: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{header} is not a Unix time in seconds"))?;
        let drift_ms = secs.saturating_mul(1000).abs_diff(received_at_ms);
        if drift_ms > self.secs.saturating_mul(1000) {
            return Err(format!(
                "{header} is outside the tolerance of {} seconds",
                self.secs
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_drift_up_to_the_tolerance_either_way() {
        let t = Tolerance::new(300);
        let now_ms = 1_700_000_000_500;
        assert!(t.check("t", "1700000000", now_ms).is_ok());
        assert!(t.check("t", "1700000300", now_ms).is_ok());
        assert!(t.check("t", "1699999701", now_ms).is_ok());
        let late = t.check("t", "1699999600", now_ms).expect_err("too old");
        assert_eq!(late, "t is outside the tolerance of 300 seconds");
        assert!(t.check("t", "1700000301", now_ms).is_err(), "too far ahead");
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        let t = Tolerance::new(300);
        for bad in ["", "-5", "1.5", "soon", "99999999999999999999999"] {
            assert!(t.check("t", bad, 0).is_err(), "{bad}");
        }
    }
}
