//! From the one list of units to what the host needs of all of them: typed grants read from
//! the config, what a connector opens once, what each instance holds, the linker and the
//! import table that `grants::check` reads.

/// `register_units! { field: Type, ... }`: the field is the unit's store field; it must
/// equal the unit's [`Capability::NAME`](super::Capability::NAME) (checked by a test).
macro_rules! register_units {
    ($($field:ident: $unit:ty),+ $(,)?) => {
        /// Every unit's grant; `None` where the config has no section for it.
        pub struct Grants {
            $(pub $field: Option<<$unit as $crate::capabilities::Capability>::Grant>,)+
        }

        /// What one connector opened, shared by all its instances.
        pub struct Shared {
            $(pub $field: <$unit as $crate::capabilities::Capability>::Shared,)+
        }

        /// What one instance's store holds: one field per unit.
        pub struct Instances {
            $(pub $field: <$unit as $crate::capabilities::Capability>::Instance,)+
        }

        /// Each unit: its name, the imports it serves and how it is granted.
        pub const UNITS: &[$crate::capabilities::registry::UnitInfo] = &[
            $($crate::capabilities::registry::UnitInfo {
                field: stringify!($field),
                name: <$unit as $crate::capabilities::Capability>::NAME,
                imports: <$unit as $crate::capabilities::Capability>::IMPORTS,
                granting: <$unit as $crate::capabilities::Capability>::GRANTING,
                grant_schema: $crate::capabilities::registry::grant_schema::<$unit>,
            },)+
        ];

        impl Grants {
            /// Read and check every `[capabilities.*]` section of `config`; errors name the
            /// file and the key.
            pub fn from_config(
                config: &$crate::config::ConnectorConfig,
            ) -> Result<Self, $crate::config::ConfigError> {
                let sections = &config.capabilities;
                $crate::capabilities::registry::refuse_unknown(sections, &config.path)?;
                Ok(Self {
                    $($field: $crate::capabilities::registry::grant::<$unit>(sections, &config.path)?,)+
                })
            }

            /// Whether the unit called `name` is granted.
            pub fn granted(&self, name: &str) -> bool {
                $(if name == <$unit as $crate::capabilities::Capability>::NAME {
                    return self.$field.is_some();
                })+
                false
            }
        }

        impl Shared {
            pub fn open(
                grants: &Grants,
                connector: &$crate::capabilities::ConnectorContext,
            ) -> anyhow::Result<Self> {
                use anyhow::Context as _;
                Ok(Self {
                    $($field: <$unit as $crate::capabilities::Capability>::open(
                        grants.$field.as_ref(),
                        connector,
                    )
                    .with_context(|| format!(
                        "opening capability `{}` of connector `{}` ({})",
                        <$unit as $crate::capabilities::Capability>::NAME,
                        connector.name,
                        connector.config.path.display(),
                    ))?,)+
                })
            }

            /// A fresh instance's capabilities.
            pub fn instance(&self) -> Instances {
                Instances {
                    $($field: <$unit as $crate::capabilities::Capability>::instance(&self.$field),)+
                }
            }
        }

        /// Link every unit's imports; which a connector may use is decided before
        /// instantiation by `grants::check`, so the error can name the config key.
        pub fn link<T: $crate::capabilities::CapabilityHost>(
            linker: &mut wasmtime::component::Linker<T>,
        ) -> wasmtime::Result<()> {
            $(<$unit as $crate::capabilities::Capability>::link(
                linker,
                |host: &mut T| &mut host.capabilities().$field,
            )?;)+
            Ok(())
        }
    };
}

pub(super) use register_units;

use super::{Capability, Granting};
use crate::config::ConfigError;
use schemars::{Schema, SchemaGenerator};
use std::path::Path;

/// One registered unit, as `grants::check` and `inspect` see it.
#[derive(Debug, Clone, Copy)]
pub struct UnitInfo {
    pub field: &'static str,
    pub name: &'static str,
    pub imports: &'static [&'static str],
    pub granting: Granting,
    /// The JSON Schema of its `[capabilities.<name>]` section.
    pub grant_schema: fn(&mut SchemaGenerator) -> Schema,
}

impl UnitInfo {
    /// The config key that grants it; `None` when always granted.
    pub fn key(&self) -> Option<String> {
        (self.granting == Granting::BySection).then(|| format!("capabilities.{}", self.name))
    }
}

fn section_error(path: &Path, key: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        path: path.to_path_buf(),
        key,
        message: message.into(),
    }
}

/// A `[capabilities.x]` section no unit answers to is a typo or a capability this host
/// lacks: refuse it rather than ignore it.
pub fn refuse_unknown(sections: &toml::Table, path: &Path) -> Result<(), ConfigError> {
    let grantable: Vec<&str> = super::UNITS
        .iter()
        .filter(|u| u.granting == Granting::BySection)
        .map(|u| u.name)
        .collect();
    match sections.keys().find(|k| !grantable.contains(&k.as_str())) {
        Some(unknown) => Err(section_error(
            path,
            format!("capabilities.{unknown}"),
            format!(
                "unknown capability; this host grants {}",
                grantable.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

pub fn grant_schema<U: Capability>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<U::Grant>()
}

/// Deserialise and check one unit's section, if present.
pub fn grant<U: Capability>(
    sections: &toml::Table,
    path: &Path,
) -> Result<Option<U::Grant>, ConfigError> {
    let name = U::NAME;
    let section = match (U::GRANTING, sections.get(name)) {
        (Granting::Always, _) => toml::Value::Table(toml::Table::new()),
        (Granting::BySection, None) => return Ok(None),
        (Granting::BySection, Some(v)) => v.clone(),
    };
    let grant: U::Grant = serde_path_to_error::deserialize(section).map_err(|e| {
        let inner = e.path().to_string();
        let key = match inner.as_str() {
            "." | "" => format!("capabilities.{name}"),
            _ => format!("capabilities.{name}.{inner}"),
        };
        section_error(path, key, e.into_inner().to_string())
    })?;
    U::validate(&grant)
        .map_err(|e| section_error(path, format!("capabilities.{name}.{}", e.key), e.message))?;
    Ok(Some(grant))
}

#[cfg(test)]
mod tests {
    use crate::capabilities::Grants;
    use crate::config::{ConnectorConfig, load, load_str};
    use std::path::Path;

    const MINIMAL: &str =
        "[connector]\nname = 'hook'\n[sink]\ntopics = ['/default/orders']\nsubscription = 'hook'\n";

    fn config(extra: &str) -> ConnectorConfig {
        load_str(&format!("{MINIMAL}{extra}"), Path::new("c.toml"), &|_| None).expect("valid")
    }

    fn refused(extra: &str) -> String {
        match Grants::from_config(&config(extra)) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_mqtt_source_example_grants_its_broker() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/source-mqtt/connector.toml");
        let grants = Grants::from_config(&load(&path).expect("valid")).expect("valid grants");
        let mqtt = grants.mqtt.expect("the mqtt grant");
        assert_eq!(mqtt.allowed_brokers, ["mqtt://127.0.0.1:1883"]);
        assert!(grants.http.is_none() && grants.state.is_none());
    }

    #[test]
    fn nothing_is_granted_without_a_section() {
        let grants = Grants::from_config(&config("")).expect("valid");
        for unit in crate::capabilities::UNITS {
            let always = unit.granting == crate::capabilities::Granting::Always;
            assert_eq!(grants.granted(unit.name), always, "{}", unit.name);
        }
    }

    #[test]
    fn a_bad_value_names_file_and_key() {
        let e = refused("[capabilities.mqtt]\nallowed_brokers = ['http://x']\n");
        assert!(
            e.contains("c.toml") && e.contains("capabilities.mqtt.allowed_brokers[0]"),
            "{e}"
        );
        let e = refused("[capabilities.http]\nallowed_hosts = ['ftp://x']\n");
        assert!(e.contains("capabilities.http.allowed_hosts[0]"), "{e}");
        let e = refused("[capabilities.http]\nallowed_hosts = ['http://x']\ntimeout_ms = 'soon'\n");
        assert!(e.contains("capabilities.http.timeout_ms"), "{e}");
        let e = refused("[capabilities.mqtt]\nallowed_brokers = []\nclient_cert_file = 'c.pem'\n");
        assert!(e.contains("capabilities.mqtt.client_key_file"), "{e}");
    }

    #[test]
    fn unknown_sections_and_keys_are_refused() {
        let e = refused("[capabilities.htpp]\nallowed_hosts = []\n");
        assert!(e.contains("capabilities.htpp") && e.contains("http"), "{e}");
        let e = refused("[capabilities.log]\n");
        assert!(e.contains("capabilities.log"), "{e}");
        let e = refused("[capabilities.state]\nfile = 'x'\n");
        assert!(
            e.contains("capabilities.state") && e.contains("file"),
            "{e}"
        );
    }
}
