//! The connector's `[config]` table: every option, its default, and validation.
//!
//! [`RawConfig`] mirrors the TOML exactly; [`RawConfig::validate`] turns it into
//! [`Settings`], the checked form the rest of the sink works with. Every validation error
//! names the offending field.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use danube_connect_sdk::Error;
use danube_connect_sdk::http::{
    DEFAULT_FATAL_ON_STATUS, DEFAULT_MAX_RETRY_AFTER_MS, Method, Rejection, RetryPolicy, check_url,
};
use serde::Deserialize;

use crate::sign::Signer;
use crate::url_template::UrlTemplate;

/// The `[config]` table as written by the operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Endpoint, `http://` or `https://`. May contain `{topic}`, `{key}` and `{attr.NAME}`
    /// placeholders, replaced per message (URL-encoded). Required.
    pub url: String,
    /// `POST` (default), `PUT` or `PATCH`.
    #[serde(default)]
    pub method: HttpMethod,
    /// Static headers added to every request. Values may use `${VAR}` secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Sends `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Sends `Authorization: Basic base64(username:password)`.
    #[serde(default)]
    pub basic: Option<BasicAuth>,
    /// How messages become request bodies; default `json_array`.
    #[serde(default)]
    pub body: BodyMode,
    /// `Content-Type` of requests. Default `application/json`, or `application/x-ndjson`
    /// for `ndjson`. A `Content-Type` in `headers` wins over this.
    #[serde(default)]
    pub content_type: Option<String>,
    /// `json_array`/`ndjson` only: what to do with a payload that is not JSON.
    #[serde(default)]
    pub non_json: NonJson,
    /// `auto`: payloads published with a registry schema are sent as JSON (Avro decoded with
    /// the version the message names); a payload that does not decode is dead-lettered.
    /// Default `none`: payloads are sent as they are.
    #[serde(default)]
    pub decode: Decode,
    /// `json_array`/`ndjson` only: upper bound of one request body; larger batches are split
    /// over several requests. Default 1 MiB.
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: usize,
    /// Send `X-Danube-*` metadata headers. Default `true`.
    #[serde(default = "default_true")]
    pub metadata_headers: bool,
    /// `per_message` only: prefix of the header carrying each message attribute.
    /// Default `X-Danube-Attr-`.
    #[serde(default = "default_attribute_prefix")]
    pub attribute_header_prefix: String,
    /// Name of the idempotency header; empty disables it. Default `Idempotency-Key`.
    #[serde(default = "default_idempotency_header")]
    pub idempotency_header: String,
    /// Signs requests the Standard Webhooks way when set: `whsec_<base64>` or a raw secret.
    #[serde(default)]
    pub signing_secret: Option<String>,
    /// Time allowed for one request, connect to last response byte, in ms. Default 10 000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Non-2xx statuses that are retried. Default: 408, 429 and every 5xx except 501.
    #[serde(default)]
    pub retry_on_status: Option<Vec<u16>>,
    /// Non-2xx statuses that stop the connector instead of dead-lettering the messages.
    /// Default `[401, 403]`: bad credentials would otherwise dead-letter the whole stream.
    #[serde(default = "default_fatal_on_status")]
    pub fatal_on_status: Vec<u16>,
    /// Requests in flight at once (1..=64). Above 1, messages of different requests may
    /// arrive out of order. Default 1.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Upper bound for a server's `Retry-After`, in ms. Default 600 000 (10 minutes).
    #[serde(default = "default_max_retry_after_ms")]
    pub max_retry_after_ms: u32,
}

/// Request method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum HttpMethod {
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "PUT", alias = "put")]
    Put,
    #[serde(rename = "PATCH", alias = "patch")]
    Patch,
}

/// `basic = { username = "...", password = "..." }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

/// How a batch becomes request bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyMode {
    /// One request per message; the body is the payload, byte for byte.
    PerMessage,
    /// `[payload, payload, ...]`: one JSON array per request.
    #[default]
    JsonArray,
    /// One JSON document per line.
    Ndjson,
}

/// What happens to payloads published with a registry schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decode {
    #[default]
    None,
    Auto,
}

/// What the batch modes do with a payload that is not valid JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonJson {
    /// Dead-letter the message as invalid data (the others are still sent).
    #[default]
    Reject,
    /// Embed the payload as a JSON string; payloads that are not UTF-8 are dead-lettered.
    String,
    /// Embed the payload as a base64 (standard alphabet, padded) JSON string.
    Base64,
}

fn default_max_batch_bytes() -> usize {
    1024 * 1024
}

fn default_true() -> bool {
    true
}

fn default_attribute_prefix() -> String {
    "X-Danube-Attr-".to_string()
}

fn default_idempotency_header() -> String {
    "Idempotency-Key".to_string()
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_fatal_on_status() -> Vec<u16> {
    DEFAULT_FATAL_ON_STATUS.to_vec()
}

fn default_concurrency() -> usize {
    1
}

fn default_max_retry_after_ms() -> u32 {
    DEFAULT_MAX_RETRY_AFTER_MS
}

/// Headers the HTTP stack sets itself; configuring them is a mistake.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "http2-settings",
];

/// Headers computed per request when signing is on.
const SIGNATURE_HEADERS: &[&str] = &["webhook-id", "webhook-timestamp", "webhook-signature"];

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: UrlTemplate,
    pub method: Method,
    /// Static headers, authorization included.
    pub headers: Vec<(String, String)>,
    pub body: BodyMode,
    pub content_type: String,
    pub non_json: NonJson,
    pub decode: Decode,
    pub max_batch_bytes: usize,
    pub metadata_headers: bool,
    pub attribute_header_prefix: String,
    /// `None` when disabled.
    pub idempotency_header: Option<String>,
    pub signer: Option<Signer>,
    pub timeout: Duration,
    pub concurrency: usize,
    pub retry: RetryPolicy,
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> Error {
    Error::config(format!("invalid config at `{field}`: {reason}"))
}

impl RawConfig {
    /// Checks every option and builds [`Settings`].
    pub fn validate(self) -> Result<Settings, Error> {
        let url = UrlTemplate::parse(&self.url).map_err(|e| invalid("url", e))?;
        check_url(&url.sample()).map_err(|e| invalid("url", e))?;

        let mut headers = Vec::new();
        let mut content_type_header = None;
        for (name, value) in &self.headers {
            let field = format!("headers.{name}");
            check_header_name(name).map_err(|e| invalid(&field, e))?;
            check_header_value(value).map_err(|e| invalid(&field, e))?;
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(invalid(
                    &field,
                    "is set by the HTTP stack and cannot be configured",
                ));
            }
            if self.signing_secret.is_some() && SIGNATURE_HEADERS.contains(&lower.as_str()) {
                return Err(invalid(&field, "is computed when `signing_secret` is set"));
            }
            if lower == "content-type" {
                content_type_header = Some(value.clone());
                continue;
            }
            headers.push((name.clone(), value.clone()));
        }
        if let Some(auth) = self.authorization()? {
            if self
                .headers
                .keys()
                .any(|n| n.eq_ignore_ascii_case("authorization"))
            {
                return Err(invalid(
                    "headers.Authorization",
                    "conflicts with `bearer_token`/`basic`; use only one",
                ));
            }
            headers.push(("Authorization".to_string(), auth));
        }

        // A `Content-Type` among the static headers wins over `content_type`.
        let content_type = match (content_type_header, &self.content_type, self.body) {
            (Some(header), _, _) => header,
            (None, Some(ct), _) => {
                check_header_value(ct).map_err(|e| invalid("content_type", e))?;
                ct.clone()
            }
            (None, None, BodyMode::Ndjson) => "application/x-ndjson".to_string(),
            (None, None, _) => "application/json".to_string(),
        };

        if self.max_batch_bytes == 0 {
            return Err(invalid("max_batch_bytes", "must be greater than 0"));
        }
        if self.metadata_headers {
            check_header_name(&self.attribute_header_prefix)
                .map_err(|e| invalid("attribute_header_prefix", e))?;
        }
        let idempotency_header = if self.idempotency_header.is_empty() {
            None
        } else {
            check_header_name(&self.idempotency_header)
                .map_err(|e| invalid("idempotency_header", e))?;
            Some(self.idempotency_header.clone())
        };
        let signer = match &self.signing_secret {
            Some(secret) => {
                Some(Signer::from_secret(secret).map_err(|e| invalid("signing_secret", e))?)
            }
            None => None,
        };
        if !(1..=600_000).contains(&self.timeout_ms) {
            return Err(invalid("timeout_ms", "must be between 1 and 600000"));
        }
        if !(1..=64).contains(&self.concurrency) {
            return Err(invalid("concurrency", "must be between 1 and 64"));
        }
        if let Some(list) = &self.retry_on_status {
            check_statuses(list).map_err(|e| invalid("retry_on_status", e))?;
        }
        check_statuses(&self.fatal_on_status).map_err(|e| invalid("fatal_on_status", e))?;
        if let Some(both) = self
            .retry_on_status
            .iter()
            .flatten()
            .find(|s| self.fatal_on_status.contains(s))
        {
            return Err(invalid(
                "fatal_on_status",
                format!("{both} is also in `retry_on_status`"),
            ));
        }

        Ok(Settings {
            url,
            method: match self.method {
                HttpMethod::Post => Method::Post,
                HttpMethod::Put => Method::Put,
                HttpMethod::Patch => Method::Patch,
            },
            headers,
            body: self.body,
            content_type,
            non_json: self.non_json,
            decode: self.decode,
            max_batch_bytes: self.max_batch_bytes,
            metadata_headers: self.metadata_headers,
            attribute_header_prefix: self.attribute_header_prefix,
            idempotency_header,
            signer,
            timeout: Duration::from_millis(self.timeout_ms),
            concurrency: self.concurrency,
            retry: RetryPolicy {
                retry_on_status: self.retry_on_status,
                fatal_on_status: self.fatal_on_status,
                max_retry_after_ms: self.max_retry_after_ms,
                // A refused request carries its messages as they are: dead-letter them.
                rejection: Rejection::InvalidData,
            },
        })
    }

    fn authorization(&self) -> Result<Option<String>, Error> {
        match (&self.bearer_token, &self.basic) {
            (Some(_), Some(_)) => Err(invalid(
                "basic",
                "set either `bearer_token` or `basic`, not both",
            )),
            (Some(token), None) => {
                if token.is_empty() {
                    return Err(invalid("bearer_token", "must not be empty"));
                }
                check_header_value(token).map_err(|e| invalid("bearer_token", e))?;
                Ok(Some(format!("Bearer {token}")))
            }
            (None, Some(basic)) => {
                if basic.username.is_empty() {
                    return Err(invalid("basic.username", "must not be empty"));
                }
                if basic.username.contains(':') {
                    return Err(invalid("basic.username", "must not contain `:`"));
                }
                let pair = format!("{}:{}", basic.username, basic.password);
                Ok(Some(format!("Basic {}", BASE64.encode(pair))))
            }
            (None, None) => Ok(None),
        }
    }
}

/// RFC 9110 token characters, the only ones allowed in a header name.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn check_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name must not be empty".into());
    }
    match name.chars().find(|c| !is_token_char(*c)) {
        Some(c) => Err(format!("header name contains `{}`", c.escape_default())),
        None => Ok(()),
    }
}

fn check_header_value(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        Err("header value contains a line break or control character".into())
    } else {
        Ok(())
    }
}

fn check_statuses(list: &[u16]) -> Result<(), String> {
    match list.iter().find(|s| !(300..=599).contains(*s)) {
        Some(s) => Err(format!("{s} is not a 3xx, 4xx or 5xx status")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use danube_connect_sdk::Config;

    fn parse(json: &str) -> Result<Settings, Error> {
        Config::new(json).parse::<RawConfig>()?.validate()
    }

    fn message(json: &str) -> String {
        match parse(json) {
            Ok(_) => panic!("expected an error for {json}"),
            Err(e) => {
                assert!(matches!(e, Error::Config(_)), "{e:?}");
                e.message().to_string()
            }
        }
    }

    #[test]
    fn defaults() {
        let s = parse(r#"{"url":"https://hooks.example.com/in"}"#).unwrap();
        assert_eq!(s.method, Method::Post);
        assert_eq!(s.body, BodyMode::JsonArray);
        assert_eq!(s.content_type, "application/json");
        assert_eq!(s.non_json, NonJson::Reject);
        assert_eq!(s.max_batch_bytes, 1024 * 1024);
        assert!(s.metadata_headers);
        assert_eq!(s.attribute_header_prefix, "X-Danube-Attr-");
        assert_eq!(s.idempotency_header.as_deref(), Some("Idempotency-Key"));
        assert!(s.signer.is_none());
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert_eq!(s.concurrency, 1);
        assert_eq!(s.retry.retry_on_status, None);
        assert_eq!(s.retry.fatal_on_status, vec![401, 403]);
        assert!(s.headers.is_empty());
    }

    #[test]
    fn full_table() {
        let s = parse(
            r#"{"url":"https://h/{topic}","method":"put","headers":{"X-Team":"a"},
                "basic":{"username":"u","password":"p"},"body":"ndjson",
                "non_json":"base64","idempotency_header":"","timeout_ms":500,
                "retry_on_status":[503],"signing_secret":"whsec_c2VjcmV0"}"#,
        )
        .unwrap();
        assert_eq!(s.method, Method::Put);
        assert_eq!(s.content_type, "application/x-ndjson");
        assert_eq!(s.idempotency_header, None);
        assert!(s.signer.is_some());
        assert_eq!(
            s.headers,
            vec![
                ("X-Team".to_string(), "a".to_string()),
                ("Authorization".to_string(), "Basic dTpw".to_string())
            ]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{}"#, "missing field `url`"),
            (r#"{"url":"ftp://h/"}"#, "`url`"),
            (r#"{"url":"http://h/{nope}"}"#, "`url`"),
            (r#"{"url":"http://h/","method":"GET"}"#, "`method`"),
            (r#"{"url":"http://h/","body":"xml"}"#, "`body`"),
            (r#"{"url":"http://h/","timeout_ms":0}"#, "`timeout_ms`"),
            (r#"{"url":"http://h/","concurrency":0}"#, "`concurrency`"),
            (
                r#"{"url":"http://h/","max_batch_bytes":0}"#,
                "`max_batch_bytes`",
            ),
            (
                r#"{"url":"http://h/","headers":{"Bad Name":"x"}}"#,
                "`headers.Bad Name`",
            ),
            (
                r#"{"url":"http://h/","headers":{"X-A":"a\nb"}}"#,
                "`headers.X-A`",
            ),
            (
                r#"{"url":"http://h/","headers":{"Host":"x"}}"#,
                "`headers.Host`",
            ),
            (
                r#"{"url":"http://h/","bearer_token":"t","basic":{"username":"u","password":"p"}}"#,
                "`basic`",
            ),
            (
                r#"{"url":"http://h/","bearer_token":"t","headers":{"authorization":"x"}}"#,
                "`headers.Authorization`",
            ),
            (r#"{"url":"http://h/","basic":{"username":"u"}}"#, "`basic`"),
            (
                r#"{"url":"http://h/","basic":{"username":"","password":"p"}}"#,
                "`basic.username`",
            ),
            (
                r#"{"url":"http://h/","signing_secret":"whsec_!!"}"#,
                "`signing_secret`",
            ),
            (
                r#"{"url":"http://h/","retry_on_status":[200]}"#,
                "`retry_on_status`",
            ),
            (
                r#"{"url":"http://h/","retry_on_status":[401]}"#,
                "`fatal_on_status`",
            ),
            (
                r#"{"url":"http://h/","idempotency_header":"a b"}"#,
                "`idempotency_header`",
            ),
            (
                r#"{"url":"http://h/","attribute_header_prefix":"X:"}"#,
                "`attribute_header_prefix`",
            ),
            (
                r#"{"url":"http://h/","content_type":"a\r\n"}"#,
                "`content_type`",
            ),
            (r#"{"url":"http://h/","bogus":1}"#, "unknown field `bogus`"),
        ];
        for (json, needle) in cases {
            let msg = message(json);
            assert!(msg.contains(needle), "{json}: `{msg}` lacks {needle}");
        }
    }
}
