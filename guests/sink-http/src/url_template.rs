//! URL templates: `{topic}`, `{key}` and `{attr.NAME}` replaced per message.

use danube_connect_sdk::Message;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters, so a value can never add path segments, a
/// query or a fragment.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A parsed `url` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Topic,
    Key,
    Attribute(String),
}

impl UrlTemplate {
    /// Parses the template; unknown or unterminated placeholders are errors.
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unterminated placeholder `{{{after}`"))?;
            let name = &after[..close];
            parts.push(match name {
                "topic" => Part::Topic,
                "key" => Part::Key,
                _ => match name.strip_prefix("attr.") {
                    Some(attr) if !attr.is_empty() && !attr.contains('{') => {
                        Part::Attribute(attr.to_string())
                    }
                    _ => {
                        return Err(format!(
                            "unknown placeholder `{{{name}}}`; use {{topic}}, {{key}} or {{attr.NAME}}"
                        ));
                    }
                },
            });
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err("`}` without a matching `{`".to_string());
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(UrlTemplate { parts })
    }

    /// The URL with every placeholder replaced by `x`, for validating the fixed parts.
    pub fn sample(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.as_str(),
                _ => "x",
            })
            .collect()
    }

    /// The URL for `message`. A `{key}` or `{attr.NAME}` the message lacks is an error,
    /// since an empty path segment would silently address a different resource.
    pub fn render(&self, message: &Message) -> Result<String, String> {
        let mut url = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => url.push_str(s),
                Part::Topic => encode_into(&mut url, message.topic()),
                Part::Key => {
                    let key = message
                        .key()
                        .ok_or("the url uses {key} but the message has no key")?;
                    encode_into(&mut url, key);
                }
                Part::Attribute(name) => {
                    let value = message.attribute(name).ok_or_else(|| {
                        format!(
                            "the url uses {{attr.{name}}} but the message has no attribute `{name}`"
                        )
                    })?;
                    encode_into(&mut url, value);
                }
            }
        }
        Ok(url)
    }
}

fn encode_into(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, VALUE));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message::new("/default/orders", 1, b"{}".to_vec())
            .with_key("user 42/ü")
            .with_attribute("tenant", "acme?x=1#f")
    }

    #[test]
    fn renders_and_encodes() {
        let t = UrlTemplate::parse("https://h/{topic}/k/{key}?t={attr.tenant}").unwrap();
        assert_eq!(
            t.render(&msg()).unwrap(),
            "https://h/%2Fdefault%2Forders/k/user%2042%2F%C3%BC?t=acme%3Fx%3D1%23f"
        );
        assert_eq!(t.sample(), "https://h/x/k/x?t=x");
    }

    #[test]
    fn static_urls_render_verbatim() {
        let t = UrlTemplate::parse("https://h/a?b=c").unwrap();
        assert_eq!(t.render(&msg()).unwrap(), "https://h/a?b=c");
    }

    #[test]
    fn missing_values_are_errors() {
        let t = UrlTemplate::parse("https://h/{key}").unwrap();
        assert!(t.render(&Message::new("t", 0, vec![])).is_err());
        let t = UrlTemplate::parse("https://h/{attr.region}").unwrap();
        let err = t.render(&msg()).unwrap_err();
        assert!(err.contains("region"), "{err}");
    }

    #[test]
    fn bad_templates() {
        for bad in [
            "https://h/{",
            "https://h/{topic",
            "https://h/{nope}",
            "https://h/{attr.}",
            "https://h/}",
            "https://h/{attr.a{b}",
        ] {
            assert!(UrlTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
