//! ClickHouse's HTTP interface: statements at `open`, `INSERT … FORMAT JSONEachRow` per batch.

use std::io::Write;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use danube_connect_sdk::http::{Request, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::classify::{Failure, classify_error, classify_response};
use crate::config::Settings;

/// Statements at `open` are small; they get less time than inserts.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    base: String,
    authorization: Option<String>,
    /// `?query=INSERT…&settings…`, without the deduplication token.
    insert_url: String,
    gzip: Option<u32>,
    timeout: Duration,
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

impl Client {
    pub fn new(s: &Settings) -> Self {
        let mut insert_url = format!(
            "{}/?query={}",
            s.url,
            encode(&format!(
                "INSERT INTO {} FORMAT JSONEachRow",
                s.qualified_table()
            ))
        );
        for (name, value) in &s.settings {
            insert_url.push_str(&format!("&{name}={}", encode(value)));
        }
        Client {
            base: s.url.clone(),
            authorization: s
                .credentials
                .as_ref()
                .map(|(u, p)| format!("Basic {}", BASE64.encode(format!("{u}:{p}")))),
            insert_url,
            gzip: s.compression,
            timeout: s.timeout,
        }
    }

    fn authorized(&self, request: Request) -> Request {
        match &self.authorization {
            Some(a) => request.header("authorization", a.as_str()),
            None => request,
        }
    }

    /// Runs one statement and returns its text output.
    pub fn statement(&self, sql: &str) -> Result<String, Failure> {
        let what = format!("statement \"{}\"", first_words(sql));
        let request = self
            .authorized(Request::post(format!("{}/", self.base)))
            .header("content-type", "text/plain; charset=utf-8")
            .body(sql.as_bytes().to_vec())
            .timeout(STATEMENT_TIMEOUT);
        let response = request.send().map_err(|e| classify_error(&what, e))?;
        check(&what, &response)?;
        Ok(String::from_utf8_lossy(response.body()).into_owned())
    }

    /// Inserts `rows` (JSONEachRow lines). `token` deduplicates a retried insert on servers
    /// that support `insert_deduplication_token`.
    pub fn insert(&self, rows: &[u8], count: usize, token: Option<&str>) -> Result<(), Failure> {
        let what = format!("insert of {count} rows");
        let mut url = self.insert_url.clone();
        if let Some(t) = token {
            url.push_str("&insert_deduplication_token=");
            url.push_str(&encode(t));
        }
        let request = self
            .authorized(Request::post(url))
            .header("content-type", "application/x-ndjson")
            .timeout(self.timeout);
        let sent = match self.gzip {
            Some(level) => request
                .header("content-encoding", "gzip")
                .body(gzip(rows, level))
                .send(),
            // The rows stay where they are: isolation may need them again.
            None => request.send_borrowed(rows),
        };
        let response = sent.map_err(|e| classify_error(&what, e))?;
        check(&what, &response)
    }
}

fn check(what: &str, response: &Response) -> Result<(), Failure> {
    if response.is_success() {
        return Ok(());
    }
    Err(classify_response(what, response, SystemTime::now()))
}

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::new(level));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// The statement's first words, to name it in errors without quoting a whole DDL.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use danube_connect_sdk::Config;
    use std::io::Read;

    fn client(extra: &str) -> Client {
        let json = format!(r#"{{"url":"http://h:8123","database":"db","table":"t"{extra}}}"#);
        Client::new(
            &Config::new(json)
                .parse::<RawConfig>()
                .unwrap()
                .validate()
                .unwrap(),
        )
    }

    #[test]
    fn insert_url_carries_query_and_settings() {
        let c = client(r#","settings":{"async_insert":1,"x":"a b"},"user":"u","password":"p""#);
        assert_eq!(
            c.insert_url,
            "http://h:8123/?query=INSERT%20INTO%20%60db%60%2E%60t%60%20FORMAT%20JSONEachRow&async_insert=1&x=a%20b"
        );
        assert_eq!(c.authorization.as_deref(), Some("Basic dTpw"));
    }

    #[test]
    fn gzip_round_trips() {
        let data = b"{\"a\":1}\n".repeat(1000);
        let packed = gzip(&data, 1);
        assert!(packed.len() < data.len() / 10);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn statements_are_named_by_their_first_words() {
        assert_eq!(
            first_words("CREATE TABLE IF NOT EXISTS x (a UInt8) ENGINE = Log"),
            "CREATE TABLE IF NOT"
        );
    }
}
