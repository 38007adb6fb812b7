//! Deny by default: which imports a connector's grants allow, from the units' own tables.

use super::{Granting, Grants, UNITS, UnitInfo};
use std::path::Path;

/// Interfaces that only declare data types: nothing to serve or grant.
const DATA_ONLY: &[&str] = &["danube:connect/types"];

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error(
        "component imports `{import}` but {config} does not grant it: add a [{key}] section \
         (capabilities are denied by default)"
    )]
    NotGranted {
        import: String,
        key: String,
        config: String,
    },
    #[error("component imports `{import}`, which this host does not provide")]
    Unknown { import: String },
}

/// The unit serving `import`, if any.
fn unit_for(import: &str) -> Option<&'static UnitInfo> {
    UNITS
        .iter()
        .find(|u| u.imports.iter().any(|p| import.starts_with(p)))
}

/// Refuse imports the grants do not allow; `imports` are a component's import names and
/// `config` the file the grants came from (named in the error).
pub fn check<'a>(
    imports: impl IntoIterator<Item = &'a str>,
    grants: &Grants,
    config: &Path,
) -> Result<(), GrantError> {
    for import in imports {
        if DATA_ONLY.iter().any(|p| import.starts_with(p)) {
            continue;
        }
        let unit = unit_for(import).ok_or_else(|| GrantError::Unknown {
            import: import.to_string(),
        })?;
        if unit.granting == Granting::BySection && !grants.granted(unit.name) {
            return Err(GrantError::NotGranted {
                import: import.to_string(),
                key: format!("capabilities.{}", unit.name),
                config: config.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Config key that grants an import, for `inspect`; `None` when always available (or
/// served by no unit, which loading reports).
pub fn granting_key(import: &str) -> Option<String> {
    unit_for(import).and_then(UnitInfo::key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn grants(extra: &str) -> Grants {
        let text = format!(
            "[connector]\nname='a'\n[sink]\ntopics=['/default/a']\nsubscription='s'\n{extra}"
        );
        let config = crate::config::load_str(&text, Path::new("c.toml"), &|_| None).expect("valid");
        Grants::from_config(&config).expect("valid grants")
    }

    fn check_with(imports: &[&str], extra: &str) -> Result<(), GrantError> {
        check(imports.iter().copied(), &grants(extra), Path::new("c.toml"))
    }

    #[test]
    fn http_needs_grant() {
        let imports = [
            "wasi:io/streams@0.2.12",
            "wasi:http/outgoing-handler@0.2.12",
        ];
        let err = check_with(&imports, "").expect_err("denied").to_string();
        assert!(
            err.contains("wasi:http/outgoing-handler") && err.contains("capabilities.http"),
            "{err}"
        );
        check_with(
            &imports,
            "[capabilities.http]\nallowed_hosts=['http://127.0.0.1:*']",
        )
        .expect("granted");
    }

    #[test]
    fn unknown_import_refused() {
        let err = check_with(&["acme:thing/x"], "")
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("acme:thing/x"), "{err}");
    }

    #[test]
    fn every_grantable_unit_is_named_in_inspect() {
        assert_eq!(
            granting_key("danube:connect/mqtt@0.1.0").as_deref(),
            Some("capabilities.mqtt")
        );
        assert_eq!(granting_key("wasi:clocks/monotonic-clock@0.2.0"), None);
        assert_eq!(granting_key("danube:connect/log@0.1.0"), None);
    }
}
