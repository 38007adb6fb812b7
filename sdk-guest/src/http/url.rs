//! Splits an absolute `http(s)` URL into the parts `wasi:http` wants.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub scheme: Scheme,
    /// `host[:port]`
    pub authority: String,
    /// Path and query, at least `/`; the fragment is dropped since it never goes on the wire.
    pub path_with_query: String,
}

pub(crate) fn parse(url: &str) -> Result<Target, String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("URL contains whitespace or control characters".into());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "URL must start with http:// or https://".to_string())?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("unsupported URL scheme `{other}`")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() {
        return Err("URL has no host".into());
    }
    if authority.contains('@') {
        return Err("credentials in the URL are not supported; use an authorization header".into());
    }
    let tail = tail.split('#').next().unwrap_or("");
    let path_with_query = if tail.starts_with('/') {
        tail.to_string()
    } else {
        format!("/{tail}")
    };
    Ok(Target {
        scheme,
        authority: authority.to_string(),
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
        assert_eq!(parse("http://[::1]:80/a").unwrap().authority, "[::1]:80");
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "example.com/x",
            "ftp://h/",
            "http:///path",
            "http://u:p@h/",
            "http://h/a b",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
