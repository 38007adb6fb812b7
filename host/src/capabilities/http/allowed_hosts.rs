//! `allowed_hosts` patterns: `scheme://host:port`, where `*` stands for any scheme, any port,
//! a whole host, or leading labels (`*.example.com`). A missing port means the scheme's default.

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

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "\"{s}\" is not a host pattern ({why}); expected scheme://host:port, e.g. https://*.example.com:443"
            )
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad("missing scheme://"))?;
        let scheme = match scheme {
            "*" => None,
            "http" | "https" => Some(scheme.to_string()),
            _ => return Err(bad("scheme must be http, https or *")),
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
                    Some(sch) => default_port(sch),
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
#[derive(Debug, Clone, Default)]
pub struct AllowList(Vec<HostPattern>);

impl AllowList {
    pub fn parse(patterns: &[String]) -> Result<Self, String> {
        patterns
            .iter()
            .map(|p| HostPattern::parse(p))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn allows(&self, uri: &http::Uri) -> bool {
        let Some(scheme) = uri.scheme_str() else {
            return false;
        };
        let Some(host) = uri.host() else { return false };
        let Some(port) = uri.port_u16().or_else(|| default_port(scheme)) else {
            return false;
        };
        self.0.iter().any(|p| p.matches(scheme, host, port))
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
}
