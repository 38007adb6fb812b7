//! The connector's `[config]` table, handed to `open` as JSON.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// The connector's `[config]` table as JSON, with `${VAR}` secrets already substituted.
#[derive(Debug, Clone)]
pub struct Config {
    json: String,
}

impl Config {
    /// Wraps a JSON document; an empty string stands for an empty table.
    pub fn new(json: impl Into<String>) -> Self {
        Config { json: json.into() }
    }

    /// The raw JSON text.
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// Deserializes the table into `T`. On failure the config error names the offending
    /// field, e.g. ``invalid config at `basic.password`: invalid type: integer `1`, expected a string``.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let text = if self.json.trim().is_empty() {
            "{}"
        } else {
            self.json.as_str()
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(describe)?;
        de.end()
            .map_err(|e| Error::config(format!("invalid config: {e}")))?;
        Ok(value)
    }
}

/// A list option as TOML writes it (`["a", "b"]`) or as an environment variable gives it
/// (`"a, b"`): either way, the trimmed non-empty names in order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Names {
    #[default]
    None,
    List(Vec<String>),
    Text(String),
}

impl Names {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Names::None => Vec::new(),
            Names::List(v) => v,
            Names::Text(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

fn describe(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = err.path().to_string();
    let inner = err.inner();
    // serde_json appends a position in the JSON text, meaningless to someone editing TOML.
    let position = format!(" at line {} column {}", inner.line(), inner.column());
    let full = inner.to_string();
    let reason = full.strip_suffix(&position).unwrap_or(&full);
    if path == "." {
        Error::config(format!("invalid config: {reason}"))
    } else {
        Error::config(format!("invalid config at `{path}`: {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Basic {
        #[allow(dead_code)]
        username: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        url: String,
        basic: Option<Basic>,
    }

    #[test]
    fn parses() {
        let cfg: Cfg = Config::new(r#"{"url":"http://x"}"#).parse().unwrap();
        assert_eq!(cfg.url, "http://x");
        assert!(cfg.basic.is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let err = Config::new(r#"{"url":"x","basic":{"username":5}}"#)
            .parse::<Cfg>()
            .unwrap_err();
        assert_eq!(
            err.message(),
            "invalid config at `basic.username`: invalid type: integer `5`, expected a string"
        );
        let err = Config::new("{}").parse::<Cfg>().unwrap_err();
        assert_eq!(err.message(), "invalid config: missing field `url`");
        let err = Config::new(r#"{"url":"x","bogus":1}"#)
            .parse::<Cfg>()
            .unwrap_err();
        assert!(err.message().contains("unknown field `bogus`"), "{err:?}");
        assert!(matches!(err, Error::Config(_)));
    }

    #[test]
    fn empty_is_an_empty_table() {
        #[derive(Deserialize)]
        struct Nothing {}
        assert!(Config::new("").parse::<Nothing>().is_ok());
    }
}
