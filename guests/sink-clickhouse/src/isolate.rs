//! Bad-row isolation: when ClickHouse refuses a batch for bad data, split it until the bad
//! rows are found, insert everything else, and report only the bad rows.
//!
//! A rejected run is split at the row ClickHouse names (`(at row N)`): the rows before it,
//! the row itself, the rows after. Without a usable row number it is halved. A row is bad
//! only when it was refused on its own, so a wrong hint costs requests, never good rows.
//! Inserts go in row order.

use std::ops::Range;

use crate::classify::{Failure, failing_row};

/// What became of every row.
#[derive(Debug, Default, PartialEq)]
pub struct Isolated {
    /// Rows refused by ClickHouse, with its reason.
    pub bad: Vec<(usize, String)>,
    /// Rows not inserted because a request failed for another reason (server down, fatal
    /// setup problem); the failure applies to all of them.
    pub pending: Option<(Vec<Range<usize>>, Failure)>,
    /// Rows inserted.
    pub inserted: usize,
    pub requests: usize,
}

/// Inserts rows `0..len` with `insert`, isolating bad rows with at most `budget` requests;
/// runs still refused once the budget is spent are reported bad as a whole.
pub fn insert_isolating(
    len: usize,
    budget: usize,
    mut insert: impl FnMut(Range<usize>) -> Result<(), Failure>,
) -> Isolated {
    let mut out = Isolated::default();
    // Runs still to insert, the next one on top.
    let mut todo: Vec<Range<usize>> = Vec::new();
    if len > 0 {
        todo.push(0..len);
    }
    while let Some(run) = todo.pop() {
        out.requests += 1;
        match insert(run.clone()) {
            Ok(()) => out.inserted += run.len(),
            Err(Failure::Data(reason)) => {
                if run.len() == 1 {
                    out.bad.push((run.start, reason));
                } else if out.requests >= budget {
                    let reason = format!(
                        "{reason} (one of {} rows refused together: the isolation budget of {budget} requests was spent)",
                        run.len()
                    );
                    out.bad.extend(run.map(|row| (row, reason.clone())));
                } else {
                    todo.extend(split(&run, &reason).into_iter().rev());
                }
            }
            Err(other) => {
                todo.push(run);
                todo.reverse();
                out.pending = Some((todo, other));
                return out;
            }
        }
    }
    out
}

/// Pieces of a refused run, in row order.
fn split(run: &Range<usize>, reason: &str) -> Vec<Range<usize>> {
    match failing_row(reason) {
        Some(n) if (1..=run.len()).contains(&n) => {
            let bad = run.start + n - 1;
            [run.start..bad, bad..bad + 1, bad + 1..run.end]
                .into_iter()
                .filter(|r| !r.is_empty())
                .collect()
        }
        _ => {
            let mid = run.start + run.len() / 2;
            vec![run.start..mid, mid..run.end]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A table refusing any run that contains a bad row, naming the first one like
    /// ClickHouse does when `hint` is set.
    fn table(bad: &[usize], hint: bool) -> impl FnMut(Range<usize>) -> Result<(), Failure> + '_ {
        move |run: Range<usize>| match run.clone().find(|r| bad.contains(r)) {
            None => Ok(()),
            Some(row) if hint => Err(Failure::Data(format!(
                "Code: 27, cannot parse (at row {})",
                row - run.start + 1
            ))),
            Some(_) => Err(Failure::Data("Code: 53, type mismatch".into())),
        }
    }

    fn bad_rows(i: &Isolated) -> BTreeSet<usize> {
        i.bad.iter().map(|(r, _)| *r).collect()
    }

    #[test]
    fn a_clean_batch_is_one_request() {
        let i = insert_isolating(100_000, 256, table(&[], true));
        assert_eq!((i.inserted, i.requests), (100_000, 1));
    }

    #[test]
    fn row_hints_find_each_bad_row_in_a_few_requests() {
        let bad = [3, 500, 501, 99_999];
        let i = insert_isolating(100_000, 256, table(&bad, true));
        assert_eq!(bad_rows(&i), bad.into_iter().collect());
        assert_eq!(i.inserted, 100_000 - bad.len());
        assert!(i.requests <= 3 * bad.len() + 1, "{} requests", i.requests);
        assert!(i.bad[0].1.contains("Code: 27"));
    }

    #[test]
    fn without_hints_bisection_finds_them() {
        let bad = [0, 7, 8_191];
        let i = insert_isolating(10_000, 256, table(&bad, false));
        assert_eq!(bad_rows(&i), bad.into_iter().collect());
        assert_eq!(i.inserted, 10_000 - bad.len());
        assert!(i.requests < 100, "{} requests", i.requests);
    }

    #[test]
    fn a_wrong_hint_never_condemns_a_good_row() {
        let mut calls = 0;
        let i = insert_isolating(8, 256, |run: Range<usize>| {
            calls += 1;
            if run.contains(&5) {
                Err(Failure::Data("(at row 1)".into()))
            } else {
                Ok(())
            }
        });
        assert_eq!(bad_rows(&i), [5].into_iter().collect());
        assert_eq!(i.inserted, 7);
    }

    #[test]
    fn a_spent_budget_reports_the_rest_of_the_run() {
        let bad: Vec<usize> = (0..1000).collect();
        let i = insert_isolating(1000, 10, table(&bad, false));
        assert_eq!(i.bad.len(), 1000);
        assert!(i.requests <= 10 + 20);
        assert!(i.bad.iter().any(|(_, r)| r.contains("isolation budget")));
    }

    #[test]
    fn a_transient_failure_leaves_the_rest_pending_in_order() {
        let mut n = 0;
        let i = insert_isolating(100, 256, |run: Range<usize>| {
            n += 1;
            match n {
                1 => Err(Failure::Data("(at row 11)".into())),
                2 => Ok(()),
                _ => Err(Failure::Transient {
                    reason: "down".into(),
                    after_ms: None,
                }),
            }
            .inspect(|_| assert_eq!(run, 0..10))
        });
        assert_eq!(i.inserted, 10);
        let (runs, f) = i.pending.unwrap();
        assert_eq!(runs, vec![10..11, 11..100]);
        assert_eq!(f.reason(), "down");
    }
}
