//! Test fixture, not a connector to deploy: a source that counts. It is used where a test
//! needs a component of the source world (e.g. to check that a sink refuses to be swapped
//! for one).
//!
//! Config: `{ "count": u64, "prefix": string }`. Each `poll` returns up to `max_records`
//! records with payload `{prefix}{i}`, `i` counting from 0, for the default topic; after
//! `count` records (0 = never) it returns none. `commit` is a no-op.

use danube_connect_sdk::{Config, Error, Record, Source, export_source};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    count: u64,
    prefix: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            count: 0,
            prefix: "n".into(),
        }
    }
}

pub struct CounterSource {
    settings: Settings,
    next: u64,
}

impl Source for CounterSource {
    fn open(config: Config) -> Result<Self, Error> {
        let settings: Settings = config.parse()?;
        Ok(CounterSource { settings, next: 0 })
    }

    fn poll(&mut self, max_records: u32, _timeout_ms: u32) -> Result<Vec<Record>, Error> {
        let end = match self.settings.count {
            0 => u64::MAX,
            count => count,
        };
        let take = u64::from(max_records).min(end.saturating_sub(self.next));
        let records = (self.next..self.next + take)
            .map(|i| Record::new(format!("{}{i}", self.settings.prefix)))
            .collect();
        self.next += take;
        Ok(records)
    }
}

export_source!(CounterSource);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_the_limit() {
        let mut s = CounterSource::open(Config::new(r#"{"count":5,"prefix":"x"}"#)).expect("open");
        let first: Vec<Vec<u8>> = s
            .poll(3, 0)
            .expect("poll")
            .into_iter()
            .map(|r| r.payload)
            .collect();
        assert_eq!(first, vec![b"x0".to_vec(), b"x1".to_vec(), b"x2".to_vec()]);
        assert_eq!(s.poll(3, 0).expect("poll").len(), 2);
        assert!(s.poll(3, 0).expect("poll").is_empty());
    }

    #[test]
    fn defaults_are_unbounded_with_prefix_n() {
        let mut s = CounterSource::open(Config::new("")).expect("open");
        let r = s.poll(2, 0).expect("poll");
        assert_eq!(r[1].payload, b"n1".to_vec());
        assert!(r[1].topic.is_none());
    }
}
