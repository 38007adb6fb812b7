//! Splits an absolute `http(s)` URL into the parts `wasi:http` wants, parsed by the `url`
//! crate, with the stricter rules of a configured endpoint on top.

use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub scheme: Scheme,
    /// `host[:port]`; a scheme's default port is left out, the host assumes it.
    pub authority: String,
    /// Path and query, at least `/`; the fragment is dropped since it never goes on the wire.
    pub path_with_query: String,
}

pub(crate) fn parse(raw: &str) -> Result<Target, String> {
    // The WHATWG rules would quietly strip or encode these; in a configured URL they are typos.
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("URL contains whitespace or control characters".into());
    }
    let url = Url::parse(raw).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => {
            "URL must start with http:// or https://".to_string()
        }
        url::ParseError::EmptyHost => "URL has no host".to_string(),
        other => format!("not a valid URL: {other}"),
    })?;
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("unsupported URL scheme `{other}`")),
    };
    // WHATWG also forgives `http:host` and `http:///host`; a host must follow `://`.
    let after_scheme = raw.get(url.scheme().len()..).unwrap_or("");
    match after_scheme.strip_prefix("://") {
        Some(rest) if !rest.starts_with(['/', '\\']) => {}
        Some(_) => return Err("URL has no host".into()),
        None => return Err("URL must start with http:// or https://".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL are not supported; use an authorization header".into());
    }
    let host = url.host_str().ok_or("URL has no host")?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let path_with_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    Ok(Target {
        scheme,
        authority,
        path_with_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let t = parse("https://api.example.com:8443/v1/hook?a=1#frag").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(t.authority, "api.example.com:8443");
        assert_eq!(t.path_with_query, "/v1/hook?a=1");
        let t = parse("HTTP://localhost").unwrap();
        assert_eq!(t.scheme, Scheme::Http);
        assert_eq!(t.path_with_query, "/");
        assert_eq!(parse("http://h?x=1").unwrap().path_with_query, "/?x=1");
        assert_eq!(
            parse("http://[::1]:8080/a").unwrap().authority,
            "[::1]:8080"
        );
        // The default port is implied, as the host's allow-list assumes it.
        assert_eq!(parse("http://[::1]:80/a").unwrap().authority, "[::1]");
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "example.com/x",
            "ftp://h/",
            "http:///path",
            "http:h/path",
            "http://u:p@h/",
            "http://h/a b",
            "http://h:99999/",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
