//! JSON Schemas of the two files a user writes, generated from the types serde reads them
//! with, so editors and CI can check a file without running the host. The capability
//! sections are filled in by `capabilities::schema`, which knows the units.

use super::host_file::HostFileToml;
use super::types::ConnectorFile;
use schemars::{Schema, generate::SchemaSettings};

/// A connector file (`connector.toml`): exactly one of `[sink]` or `[source]`.
pub fn connector_file() -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<ConnectorFile>();
    schema.insert(
        "oneOf".into(),
        serde_json::json!([{ "required": ["sink"] }, { "required": ["source"] }]),
    );
    schema.insert("title".into(), "danube-connect connector file".into());
    schema.insert(
        "description".into(),
        "One connector: where it reads or writes in Danube ([sink] or [source]), what it may \
         reach ([capabilities.*]) and its own settings ([config]). Environment variables \
         override some keys (`danube-connect-host --help`); `${VAR}` in a string reads VAR, \
         and this schema describes the values after that substitution."
            .into(),
    );
    schema
}

/// A host file (`host.toml`) listing the connectors of one process.
pub fn host_file() -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<HostFileToml>();
    schema.insert("title".into(), "danube-connect host file".into());
    schema.insert(
        "description".into(),
        "The connectors one process runs, each from its own connector file, and the \
         process-wide metrics and log settings."
            .into(),
    );
    schema
}
