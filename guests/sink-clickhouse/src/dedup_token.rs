//! Deduplication tokens: the same rows give the same token, so a retried insert that the
//! server already applied is dropped by ClickHouse (`insert_deduplication_token`).

use sha2::{Digest, Sha256};

/// A token for rows given as (topic, offset) in order: each topic's first and last offset
/// and row count, hashed.
pub fn token<'a>(rows: impl Iterator<Item = (&'a str, u64)>) -> String {
    // (topic, first, last, count) per topic, in order of first appearance.
    let mut spans: Vec<(&str, u64, u64, u64)> = Vec::new();
    for (topic, offset) in rows {
        match spans.iter_mut().find(|s| s.0 == topic) {
            Some(s) => {
                s.2 = offset;
                s.3 += 1;
            }
            None => spans.push((topic, offset, offset, 1)),
        }
    }
    let mut hash = Sha256::new();
    for (topic, first, last, count) in spans {
        hash.update(format!("{topic}\n{first}\n{last}\n{count}\n"));
    }
    format!("danube-{}", hex::encode(&hash.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_rows_same_token_other_rows_other_token() {
        let a = token([("/default/t", 1), ("/default/t", 2)].into_iter());
        assert_eq!(a, token([("/default/t", 1), ("/default/t", 2)].into_iter()));
        assert_ne!(a, token([("/default/t", 1), ("/default/t", 3)].into_iter()));
        assert_ne!(a, token([("/default/u", 1), ("/default/u", 2)].into_iter()));
        assert_ne!(a, token([("/default/t", 1)].into_iter()));
        assert!(a.starts_with("danube-") && a.len() == 7 + 32);
    }
}
