//! `${VAR}` in any string value reads an environment variable, so secrets stay out of files;
//! `${VAR:-default}` falls back to `default` when `VAR` is unset or empty (as in a shell), so
//! one file serves every deployment. `$${` writes a literal `${`.

use super::ConfigError;
use std::path::Path;

pub fn substitute(
    table: &mut toml::Table,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        walk(value, key, path, lookup)?;
    }
    Ok(())
}

fn walk(
    value: &mut toml::Value,
    key: &str,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => {
            *s = expand(s, lookup).map_err(|message| ConfigError::Key {
                path: path.to_path_buf(),
                key: key.to_string(),
                message,
            })?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{key}[{i}]"), path, lookup)?;
            }
        }
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                walk(v, &format!("{key}.{k}"), path, lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expand `${NAME}` references in one string.
pub fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in \"{s}\""))?;
            let reference = &after[..end];
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{reference}}}` is not a valid environment variable name"
                ));
            }
            let value = match (lookup(name), default) {
                (Some(value), Some(default)) if value.is_empty() => default.to_string(),
                (Some(value), _) => value,
                (None, Some(default)) => default.to_string(),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set (referenced as ${{{name}}})"
                    ));
                }
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cr3t".to_string())
    }

    #[test]
    fn expands_and_escapes() {
        assert_eq!(
            expand("Bearer ${TOKEN}", &env).as_deref(),
            Ok("Bearer s3cr3t")
        );
        assert_eq!(expand("$${TOKEN} $5", &env).as_deref(), Ok("${TOKEN} $5"));
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let env = |name: &str| match name {
            "TOKEN" => Some("s3cr3t".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            expand("${TARGET_URL:-http://h:8080/hook}", &env).as_deref(),
            Ok("http://h:8080/hook")
        );
        assert_eq!(expand("${TOKEN:-none}", &env).as_deref(), Ok("s3cr3t"));
        assert_eq!(expand("${EMPTY:-x}", &env).as_deref(), Ok("x"));
        assert_eq!(expand("${EMPTY:-}", &env).as_deref(), Ok(""));
        assert!(expand("${BAD NAME:-x}", &env).is_err());
    }

    #[test]
    fn missing_variable_is_named() {
        let err = expand("${NOPE}", &env).expect_err("unset");
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn error_names_nested_key() {
        let mut t: toml::Table = "[config.headers]\nauth = \"${NOPE}\""
            .parse()
            .expect("toml");
        let err = substitute(&mut t, Path::new("c.toml"), &env)
            .expect_err("unset")
            .to_string();
        assert!(
            err.contains("config.headers.auth") && err.contains("NOPE"),
            "{err}"
        );
    }
}
