//! The connector's settings (`[config]` of the connector file). Every key is described in
//! `README.md`; errors name the key, e.g. `routes[1].auth`.

use crate::auth::{Auth, Bearer, Github, StandardWebhooks, Stripe, Tolerance};
use crate::route::{Route, Routes};
use crate::split::Format;
use danube_connect_sdk::{Error, Names};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub routes: Vec<RawRoute>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    #[default]
    None,
    Bearer,
    StandardWebhooks,
    Github,
    Stripe,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub path: String,
    pub topic: String,
    pub methods: Option<Names>,
    #[serde(default)]
    pub auth: AuthKind,
    pub secret: Option<String>,
    pub token: Option<String>,
    #[serde(default = "default_tolerance_secs")]
    pub tolerance_secs: u64,
    #[serde(default)]
    pub format: Format,
    pub key_header: Option<String>,
    #[serde(default)]
    pub forward_headers: Names,
    #[serde(default = "default_max_records")]
    pub max_records_per_request: usize,
}

fn default_tolerance_secs() -> u64 {
    300
}

fn default_max_records() -> usize {
    10_000
}

fn invalid(key: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("invalid config at `{key}`: {why}"))
}

impl RawConfig {
    pub fn validate(self) -> Result<Routes, Error> {
        if self.routes.is_empty() {
            return Err(invalid("routes", "add at least one [[config.routes]]"));
        }
        let mut routes: Vec<Route> = Vec::with_capacity(self.routes.len());
        for (i, raw) in self.routes.into_iter().enumerate() {
            let at = |field: &str| format!("routes[{i}].{field}");
            let route = raw.validate(&at)?;
            if let Some(j) = routes.iter().position(|r| r.path == route.path) {
                return Err(invalid(
                    &at("path"),
                    format!("\"{}\" is the path of routes[{j}] already", route.path),
                ));
            }
            routes.push(route);
        }
        Ok(Routes::new(routes))
    }
}

impl RawRoute {
    fn validate(self, at: &dyn Fn(&str) -> String) -> Result<Route, Error> {
        check_path(&self.path).map_err(|why| invalid(&at("path"), why))?;
        check_topic(&self.topic).map_err(|why| invalid(&at("topic"), why))?;
        let methods = match self.methods {
            None => vec!["POST".to_string()],
            Some(names) => names.into_vec(),
        };
        if methods.is_empty() {
            return Err(invalid(&at("methods"), "list at least one method"));
        }
        for m in &methods {
            if !is_token(m) {
                return Err(invalid(
                    &at("methods"),
                    format!("\"{m}\" is not an HTTP method"),
                ));
            }
        }
        if self.tolerance_secs == 0 {
            return Err(invalid(&at("tolerance_secs"), "must be at least 1"));
        }
        if self.max_records_per_request == 0 {
            return Err(invalid(
                &at("max_records_per_request"),
                "must be at least 1",
            ));
        }
        let key_header = self
            .key_header
            .as_deref()
            .map(header_name)
            .transpose()
            .map_err(|why| invalid(&at("key_header"), why))?;
        let forward_headers = self
            .forward_headers
            .into_vec()
            .iter()
            .map(|name| header_name(name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| invalid(&at("forward_headers"), why))?;
        let auth = auth(self.auth, self.secret, self.token, self.tolerance_secs, at)?;
        Ok(Route {
            path: self.path,
            topic: self.topic,
            methods: methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            auth,
            format: self.format,
            key_header,
            forward_headers,
            max_records: self.max_records_per_request,
        })
    }
}

/// The verifier for `kind`, with the one credential it needs and no other: a credential
/// given to a kind that ignores it is most likely a forgotten `auth` line.
fn auth(
    kind: AuthKind,
    secret: Option<String>,
    token: Option<String>,
    tolerance_secs: u64,
    at: &dyn Fn(&str) -> String,
) -> Result<Auth, Error> {
    let tolerance = Tolerance::new(tolerance_secs);
    let uses_secret = !matches!(kind, AuthKind::None | AuthKind::Bearer);
    if secret.is_some() && !uses_secret {
        return Err(invalid(
            &at("secret"),
            "is only used with auth = \"standard_webhooks\", \"github\" or \"stripe\"",
        ));
    }
    if token.is_some() && kind != AuthKind::Bearer {
        return Err(invalid(&at("token"), "is only used with auth = \"bearer\""));
    }
    let secret = || {
        secret
            .as_deref()
            .ok_or_else(|| invalid(&at("secret"), "is required by this `auth`"))
    };
    let checked =
        |result: Result<Auth, String>, key: &str| result.map_err(|why| invalid(&at(key), why));
    match kind {
        AuthKind::None => Ok(Auth::None),
        AuthKind::Bearer => {
            let token =
                token.ok_or_else(|| invalid(&at("token"), "is required by auth = \"bearer\""))?;
            checked(Bearer::new(&token).map(Auth::Bearer), "token")
        }
        AuthKind::StandardWebhooks => checked(
            StandardWebhooks::new(secret()?, tolerance).map(Auth::StandardWebhooks),
            "secret",
        ),
        AuthKind::Github => checked(Github::new(secret()?).map(Auth::Github), "secret"),
        AuthKind::Stripe => checked(
            Stripe::new(secret()?, tolerance).map(Auth::Stripe),
            "secret",
        ),
    }
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("\"{path}\" must start with '/'"));
    }
    if path.contains(['?', '#']) || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "\"{path}\" must be a plain path, without query, fragment or spaces"
        ));
    }
    Ok(())
}

/// Danube's rule: `/namespace/name`, letters, digits, `_` and `-`.
fn check_topic(topic: &str) -> Result<(), String> {
    let valid = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    match topic.split('/').collect::<Vec<_>>().as_slice() {
        ["", namespace, name] if valid(namespace) && valid(name) => Ok(()),
        _ => Err(format!(
            "\"{topic}\" is not a Danube topic: /namespace/name with letters, digits, '_' and '-' only"
        )),
    }
}

/// A header name in the lower case the host hands headers over in.
fn header_name(name: &str) -> Result<String, String> {
    if is_token(name) {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!("\"{name}\" is not a header name"))
    }
}

/// An HTTP token (RFC 9110): what method and header names are made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use danube_connect_sdk::Config;

    fn routes(json: &str) -> Result<Routes, Error> {
        Config::new(json).parse::<RawConfig>()?.validate()
    }

    fn message(json: &str) -> String {
        routes(json).expect_err("invalid").message().to_string()
    }

    /// A valid first route and `second` after it.
    fn with_second(second: &str) -> String {
        format!(r#"{{"routes":[{{"path":"/a","topic":"/default/a"}},{second}]}}"#)
    }

    #[test]
    fn a_full_route_and_the_defaults() {
        let r = routes(
            r#"{"routes":[
                {"path":"/hooks/orders","topic":"/default/orders","methods":["post","PUT"],
                 "auth":"standard_webhooks","secret":"whsec_c2VjcmV0","tolerance_secs":60,
                 "format":"json_batch","key_header":"X-Request-Id",
                 "forward_headers":["X-GitHub-Event"],"max_records_per_request":5},
                {"path":"/plain","topic":"/default/plain"}]}"#,
        )
        .expect("valid");
        let full = r.find("/hooks/orders").expect("route");
        assert_eq!(full.methods, vec!["POST", "PUT"]);
        assert!(matches!(full.auth, Auth::StandardWebhooks(_)));
        assert_eq!(full.format, Format::JsonBatch);
        assert_eq!(full.key_header.as_deref(), Some("x-request-id"));
        assert_eq!(full.forward_headers, vec!["x-github-event"]);
        assert_eq!(full.max_records, 5);
        let plain = r.find("/plain").expect("route");
        assert_eq!(plain.methods, vec!["POST"]);
        assert!(matches!(plain.auth, Auth::None));
        assert_eq!(plain.format, Format::Raw);
        assert_eq!(plain.key_header, None);
        assert_eq!(plain.max_records, 10_000);
    }

    #[test]
    fn every_auth_kind_takes_its_credential() {
        for (auth, credential) in [
            ("bearer", r#""token":"t""#),
            ("standard_webhooks", r#""secret":"raw""#),
            ("github", r#""secret":"s""#),
            ("stripe", r#""secret":"whsec_anything""#),
        ] {
            let json = format!(
                r#"{{"routes":[{{"path":"/a","topic":"/default/a","auth":"{auth}",{credential}}}]}}"#
            );
            assert!(routes(&json).is_ok(), "{auth}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                r#"{"path":"/b","topic":"/default/b","auth":"basic"}"#,
                "`routes[1].auth`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","auth":"github"}"#,
                "`routes[1].secret`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","auth":"stripe","secret":""}"#,
                "`routes[1].secret`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","auth":"standard_webhooks","secret":"whsec_!!"}"#,
                "`routes[1].secret`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","auth":"bearer"}"#,
                "`routes[1].token`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","auth":"bearer","token":""}"#,
                "`routes[1].token`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","secret":"s"}"#,
                "`routes[1].secret`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","auth":"github","secret":"s","token":"t"}"#,
                "`routes[1].token`",
            ),
            (r#"{"path":"b","topic":"/default/b"}"#, "`routes[1].path`"),
            (
                r#"{"path":"/b?x=1","topic":"/default/b"}"#,
                "`routes[1].path`",
            ),
            (r#"{"path":"/a","topic":"/default/b"}"#, "`routes[1].path`"),
            (r#"{"path":"/b","topic":"default/b"}"#, "`routes[1].topic`"),
            (
                r#"{"path":"/b","topic":"/default/b.c"}"#,
                "`routes[1].topic`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","methods":[]}"#,
                "`routes[1].methods`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","methods":["PO ST"]}"#,
                "`routes[1].methods`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","format":"xml"}"#,
                "`routes[1].format`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","key_header":"a b"}"#,
                "`routes[1].key_header`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","forward_headers":["ok",""]}"#,
                "`routes[1].forward_headers`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","tolerance_secs":0}"#,
                "`routes[1].tolerance_secs`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","max_records_per_request":0}"#,
                "`routes[1].max_records_per_request`",
            ),
            (
                r#"{"path":"/b","topic":"/default/b","bogus":1}"#,
                "`routes[1].bogus`",
            ),
            (r#"{"topic":"/default/b"}"#, "`routes[1]`"),
        ];
        for (second, key) in cases {
            let got = message(&with_second(second));
            assert!(got.contains(key), "{second}: {got}");
        }
        assert!(message(r#"{"routes":[]}"#).contains("`routes`"));
        assert!(message("{}").contains("`routes`"));
        assert!(message(r#"{"routes":[],"extra":1}"#).contains("extra"));
    }

    #[test]
    fn errors_never_echo_a_secret() {
        let got = message(&with_second(
            r#"{"path":"/b","topic":"/default/b","auth":"standard_webhooks","secret":"whsec_hunter2!"}"#,
        ));
        assert!(!got.contains("hunter2"), "{got}");
    }
}
