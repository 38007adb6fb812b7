//! Allow-list patterns (`capabilities.http.allowed_hosts`, `capabilities.mqtt.allowed_brokers`,
//! `capabilities.postgres.allowed_hosts`):
//! `scheme://host:port`, where `*` stands for any scheme, any port, a whole host, or leading
//! labels (`*.example.com`). A missing port means the scheme's default.

/// The schemes a capability accepts, with their default ports.
pub type Schemes = &'static [(&'static str, u16)];

pub const HTTP_SCHEMES: Schemes = &[("http", 80), ("https", 443)];
pub const MQTT_SCHEMES: Schemes = &[("mqtt", 1883), ("mqtts", 8883)];
pub const POSTGRES_SCHEMES: Schemes = &[("postgres", 5432)];
pub const KAFKA_SCHEMES: Schemes = &[("kafka", 9092)];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: Option<String>,
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// `*.example.com` matches `a.example.com` and `a.b.example.com`, not `example.com`.
    Suffix(String),
}

pub fn default_port(schemes: Schemes, scheme: &str) -> Option<u16> {
    schemes
        .iter()
        .find_map(|&(name, port)| (name == scheme).then_some(port))
}

impl HostPattern {
    /// An HTTP pattern (`http` or `https`).
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::parse_for(s, HTTP_SCHEMES)
    }

    pub fn parse_for(s: &str, schemes: Schemes) -> Result<Self, String> {
        let example = match schemes.first() {
            Some((name, port)) => format!("{name}://*.example.com:{port}"),
            None => "scheme://host:port".into(),
        };
        let bad = |why: &str| {
            format!(
                "\"{s}\" is not a host pattern ({why}); expected scheme://host:port, e.g. {example}"
            )
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad("missing scheme://"))?;
        let scheme = match scheme {
            "*" => None,
            s if default_port(schemes, s).is_some() => Some(scheme.to_string()),
            _ => {
                let names: Vec<&str> = schemes.iter().map(|(n, _)| *n).collect();
                return Err(bad(&format!("scheme must be {} or *", names.join(", "))));
            }
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(bad("no path allowed"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p))
                if !h.ends_with(']')
                    || p.chars().all(|c| c.is_ascii_digit() || c == '*')
                        && !p.is_empty()
                        && !h.is_empty() =>
            {
                let port = if p == "*" {
                    None
                } else {
                    Some(
                        p.parse::<u16>()
                            .map_err(|_| bad("port must be a number or *"))?,
                    )
                };
                (h, port)
            }
            _ => {
                let port = match &scheme {
                    Some(sch) => default_port(schemes, sch),
                    None => {
                        return Err(bad("a pattern with scheme * needs an explicit port or :*"));
                    }
                };
                (rest, port)
            }
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostMatch::Suffix(format!(".{suffix}"))
        } else if host.is_empty() || host.contains('*') {
            return Err(bad("`*` may only be the whole host or its leading label"));
        } else {
            HostMatch::Exact(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            )
        };
        Ok(Self { scheme, host, port })
    }

    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme) {
            return false;
        }
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        match &self.host {
            HostMatch::Any => true,
            HostMatch::Exact(h) => *h == host,
            HostMatch::Suffix(sfx) => host.ends_with(sfx.as_str()),
        }
    }
}

/// The patterns of one connector; empty denies everything.
#[derive(Debug, Clone)]
pub struct AllowList {
    patterns: Vec<HostPattern>,
    schemes: Schemes,
}

impl Default for AllowList {
    fn default() -> Self {
        Self {
            patterns: Vec::new(),
            schemes: HTTP_SCHEMES,
        }
    }
}

impl AllowList {
    /// HTTP patterns.
    pub fn parse(patterns: &[String]) -> Result<Self, String> {
        Self::parse_for(patterns, HTTP_SCHEMES)
    }

    pub fn parse_for(patterns: &[String], schemes: Schemes) -> Result<Self, String> {
        let patterns = patterns
            .iter()
            .map(|p| HostPattern::parse_for(p, schemes))
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns, schemes })
    }

    /// Whether `scheme://host:port` may be reached (`port` absent: the scheme's default).
    pub fn allows_addr(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let Some(port) = port.or_else(|| default_port(self.schemes, scheme)) else {
            return false;
        };
        self.patterns.iter().any(|p| p.matches(scheme, host, port))
    }

    pub fn allows(&self, uri: &http::Uri) -> bool {
        let Some(scheme) = uri.scheme_str() else {
            return false;
        };
        let Some(host) = uri.host() else { return false };
        self.allows_addr(scheme, host, uri.port_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(patterns: &[&str], url: &str) -> bool {
        let list = AllowList::parse(&patterns.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("patterns");
        list.allows(&url.parse().expect("uri"))
    }

    #[test]
    fn exact_and_wildcards() {
        assert!(allows(
            &["http://127.0.0.1:*"],
            "http://127.0.0.1:8080/hook"
        ));
        assert!(!allows(
            &["http://127.0.0.1:*"],
            "https://127.0.0.1:8080/hook"
        ));
        assert!(!allows(&["http://127.0.0.1:*"], "http://10.0.0.1:8080/"));
        assert!(allows(
            &["https://*.example.com"],
            "https://api.example.com/x"
        ));
        assert!(!allows(&["https://*.example.com"], "https://example.com/x"));
        assert!(!allows(
            &["https://*.example.com"],
            "https://api.example.com:8443/x"
        ));
        assert!(allows(
            &["https://api.example.com"],
            "https://API.example.com:443/"
        ));
        assert!(allows(&["*://localhost:9000"], "http://localhost:9000/"));
        assert!(!allows(&[], "http://localhost/"));
    }

    #[test]
    fn rejects_bad_patterns() {
        for p in [
            "127.0.0.1:80",
            "ftp://x",
            "http://a*b.com",
            "http://x:port",
            "*://x",
            "http://x/path",
        ] {
            assert!(HostPattern::parse(p).is_err(), "{p}");
        }
    }

    #[test]
    fn mqtt_brokers_with_their_default_ports() {
        let list = AllowList::parse_for(
            &["mqtt://127.0.0.1:*".into(), "mqtts://*.example.com".into()],
            MQTT_SCHEMES,
        )
        .expect("patterns");
        assert!(list.allows_addr("mqtt", "127.0.0.1", Some(18830)));
        assert!(list.allows_addr("mqtt", "127.0.0.1", None));
        assert!(list.allows_addr("mqtts", "iot.example.com", None));
        assert!(!list.allows_addr("mqtts", "iot.example.com", Some(1883)));
        assert!(!list.allows_addr("mqtt", "10.0.0.1", Some(1883)));
        assert!(!list.allows_addr("mqtts", "127.0.0.1", Some(8883)));
        let err = HostPattern::parse_for("http://x", MQTT_SCHEMES).expect_err("http is not mqtt");
        assert!(err.contains("mqtt, mqtts"), "{err}");
    }
}
