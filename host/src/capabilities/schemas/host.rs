//! The WIT side of `danube:connect/schemas`.

use super::access::{Fetched, SchemaAccess};
use crate::config::{Compatibility, SchemaKind};
use bindings::danube::connect::schemas as wit;
use std::sync::Arc;

/// Host bindings of the `schemas` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world schemas { import danube:connect/schemas@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/schemas",
        imports: { default: async },
    });
}

pub struct SchemasCapability {
    access: Arc<SchemaAccess>,
}

impl SchemasCapability {
    pub fn new(access: Arc<SchemaAccess>) -> Self {
        Self { access }
    }
}

impl bindings::danube::connect::types::Host for SchemasCapability {}

impl wit::Host for SchemasCapability {
    async fn get(&mut self, r: wit::SchemaRef) -> Result<wit::Schema, String> {
        self.access.get(r.id, r.version).await.map(to_wit)
    }

    async fn latest(&mut self, subject: String) -> Result<wit::Schema, String> {
        self.access.latest(&subject).await.map(to_wit)
    }

    async fn register(
        &mut self,
        subject: String,
        schema_type: wit::SchemaType,
        definition: Vec<u8>,
        mode: Option<wit::Compatibility>,
    ) -> Result<wit::Schema, String> {
        self.access
            .register(
                &subject,
                from_wit(schema_type),
                &definition,
                mode.map(Self::mode),
            )
            .await
            .map(to_wit)
    }
}

impl SchemasCapability {
    fn mode(m: wit::Compatibility) -> Compatibility {
        match m {
            wit::Compatibility::None => Compatibility::None,
            wit::Compatibility::Backward => Compatibility::Backward,
            wit::Compatibility::Forward => Compatibility::Forward,
            wit::Compatibility::Full => Compatibility::Full,
        }
    }
}

fn to_wit(f: Fetched) -> wit::Schema {
    wit::Schema {
        subject: f.subject,
        id: f.id,
        version: f.version,
        schema_type: match f.kind {
            SchemaKind::JsonSchema => wit::SchemaType::JsonSchema,
            SchemaKind::Avro => wit::SchemaType::Avro,
            SchemaKind::Protobuf => wit::SchemaType::Protobuf,
            SchemaKind::String => wit::SchemaType::String,
            SchemaKind::Number => wit::SchemaType::Number,
            SchemaKind::Bytes => wit::SchemaType::Bytes,
        },
        definition: f.definition,
    }
}

fn from_wit(t: wit::SchemaType) -> SchemaKind {
    match t {
        wit::SchemaType::JsonSchema => SchemaKind::JsonSchema,
        wit::SchemaType::Avro => SchemaKind::Avro,
        wit::SchemaType::Protobuf => SchemaKind::Protobuf,
        wit::SchemaType::String => SchemaKind::String,
        wit::SchemaType::Number => SchemaKind::Number,
        wit::SchemaType::Bytes => SchemaKind::Bytes,
    }
}
