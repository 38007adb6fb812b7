//! Requests whose records were handed to the host and await persistence: each is answered
//! once, in `commit`, with the number of records it carried.

use danube_connect_sdk::Position;
use std::collections::HashMap;

/// The position stream of every record; its value is the request id in decimal.
pub const STREAM: &str = "inbound-http";

#[derive(Debug, Default)]
pub struct Pending {
    records_by_request: HashMap<u64, usize>,
}

impl Pending {
    pub fn hold(&mut self, request_id: u64, records: usize) {
        self.records_by_request.insert(request_id, records);
    }

    /// The requests among `positions` to answer now, each once, in the order first seen,
    /// with its record count. Unknown ids and other streams are ignored.
    pub fn release(&mut self, positions: &[Position]) -> Vec<(u64, usize)> {
        positions
            .iter()
            .filter(|p| p.stream_id == STREAM)
            .filter_map(|p| p.value.parse::<u64>().ok())
            .filter_map(|id| self.records_by_request.remove(&id).map(|n| (id, n)))
            .collect()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.records_by_request.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stream: &str, value: &str) -> Position {
        Position {
            stream_id: stream.into(),
            value: value.into(),
        }
    }

    #[test]
    fn each_request_is_answered_once_with_its_count() {
        let mut p = Pending::default();
        p.hold(1, 3);
        p.hold(2, 1);
        p.hold(3, 2);
        let positions = [
            at(STREAM, "1"),
            at(STREAM, "1"),
            at(STREAM, "2"),
            at(STREAM, "1"),
            at("other", "3"),
            at(STREAM, "99"),
            at(STREAM, "x"),
        ];
        assert_eq!(p.release(&positions), vec![(1, 3), (2, 1)]);
        assert_eq!(p.len(), 1);
        assert!(p.release(&positions).is_empty(), "answered already");
        assert_eq!(p.release(&[at(STREAM, "3")]), vec![(3, 2)]);
        assert_eq!(p.len(), 0);
    }
}
