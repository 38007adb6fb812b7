//! A table from a registry schema (`create_table = true`): one column per field, named as the
//! field, typed from the schema (optional fields `Nullable`), plus the metadata columns the
//! config asks for. Nested records and objects become `String` columns holding their JSON.

use danube_connect_sdk::schemas::{Schema, SchemaType};

use crate::config::{Settings, TimeUnit};

/// The `CREATE TABLE` statement for `schema`.
pub fn create_table(settings: &Settings, schema: &Schema) -> Result<String, String> {
    let text = std::str::from_utf8(&schema.definition)
        .map_err(|e| format!("schema {} is not UTF-8: {e}", schema.subject))?;
    let mut columns = match schema.schema_type {
        SchemaType::JsonSchema => json_schema_columns(text)?,
        SchemaType::Avro => avro_columns(text)?,
        other => {
            return Err(format!(
                "schema {} is {other:?}: a table can be made from JSON Schema or Avro records",
                schema.subject
            ));
        }
    };
    if columns.is_empty() {
        return Err(format!("schema {} has no fields", schema.subject));
    }
    columns.extend(metadata_columns(settings));
    let body = columns
        .iter()
        .map(|(name, ty)| format!("    {} {ty}", quote(name)))
        .collect::<Vec<_>>()
        .join(",\n");
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} (\n{body}\n) ENGINE = MergeTree ORDER BY {}",
        settings.qualified_table(),
        settings.order_by
    ))
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

fn metadata_columns(s: &Settings) -> Vec<(String, String)> {
    let m = &s.metadata;
    let mut columns = Vec::new();
    let mut add = |name: &Option<String>, ty: &str| {
        if let Some(name) = name {
            columns.push((name.clone(), ty.to_string()));
        }
    };
    add(&m.topic, "String");
    add(&m.offset, "UInt64");
    let time = match m.publish_time_unit {
        TimeUnit::Seconds => "DateTime",
        TimeUnit::Milliseconds => "DateTime64(3)",
        TimeUnit::Microseconds => "DateTime64(6)",
    };
    add(&m.publish_time, time);
    add(&m.producer, "String");
    add(&m.key, "Nullable(String)");
    for column in m.attributes.values() {
        columns.push((column.clone(), "Nullable(String)".into()));
    }
    columns
}

/// The parts of a JSON Schema a table is made from, its properties in the order written
/// (columns follow it; a JSON map would sort them).
#[derive(serde::Deserialize)]
struct ObjectSchema {
    properties: Option<OrderedProperties>,
    #[serde(default)]
    required: Vec<String>,
}

struct OrderedProperties(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for OrderedProperties {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> serde::de::Visitor<'de> for InOrder {
            type Value = OrderedProperties;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of property schemas")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(OrderedProperties(entries))
            }
        }
        d.deserialize_map(InOrder)
    }
}

fn json_schema_columns(text: &str) -> Result<Vec<(String, String)>, String> {
    let schema: ObjectSchema = serde_json::from_str(text)
        .map_err(|e| format!("the JSON Schema is not an object schema: {e}"))?;
    let properties = schema
        .properties
        .ok_or("the JSON Schema has no `properties`")?;
    Ok(properties
        .0
        .into_iter()
        .map(|(name, p)| {
            let (ty, nullable) = json_type(&p);
            let ty = if nullable || !schema.required.contains(&name) {
                nullable_of(&ty)
            } else {
                ty
            };
            (name, ty)
        })
        .collect())
}

/// A property's column type, and whether `null` is one of its types.
fn json_type(p: &serde_json::Value) -> (String, bool) {
    let types: Vec<&str> = match p.get("type") {
        Some(serde_json::Value::String(t)) => vec![t.as_str()],
        Some(serde_json::Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str()).collect(),
        _ => Vec::new(),
    };
    let nullable = types.contains(&"null");
    let ty = match types.iter().find(|t| **t != "null").copied() {
        Some("integer") => "Int64".to_string(),
        Some("number") => "Float64".to_string(),
        Some("boolean") => "Bool".to_string(),
        Some("string") => match p.get("format").and_then(|f| f.as_str()) {
            Some("date-time") => "DateTime64(3)".to_string(),
            Some("date") => "Date32".to_string(),
            Some("uuid") => "UUID".to_string(),
            _ => "String".to_string(),
        },
        Some("array") => {
            let items = p.get("items").map(json_type);
            match items {
                Some((item, _)) if !item.starts_with("Array") && item != "String" => {
                    format!("Array({item})")
                }
                Some((item, _)) if item == "String" => "Array(String)".to_string(),
                _ => "String".to_string(),
            }
        }
        // Objects and anything untyped: their JSON text.
        _ => "String".to_string(),
    };
    (ty, nullable)
}

fn nullable_of(ty: &str) -> String {
    // ClickHouse has no Nullable arrays.
    if ty.starts_with("Array(") || ty.starts_with("Nullable(") {
        ty.to_string()
    } else {
        format!("Nullable({ty})")
    }
}

fn avro_columns(text: &str) -> Result<Vec<(String, String)>, String> {
    use danube_connect_sdk::decode::apache_avro::Schema as A;
    let schema = A::parse_str(text).map_err(|e| format!("the Avro schema does not parse: {e}"))?;
    let A::Record(record) = schema else {
        return Err("the Avro schema is not a record".into());
    };
    Ok(record
        .fields
        .iter()
        .map(|f| (f.name.clone(), avro_type(&f.schema)))
        .collect())
}

fn avro_type(s: &danube_connect_sdk::decode::apache_avro::Schema) -> String {
    use danube_connect_sdk::decode::apache_avro::Schema as A;
    match s {
        A::Boolean => "Bool".into(),
        A::Int => "Int32".into(),
        A::Long => "Int64".into(),
        A::Float => "Float32".into(),
        A::Double => "Float64".into(),
        A::Date => "Date32".into(),
        A::Uuid => "UUID".into(),
        A::TimestampMillis | A::LocalTimestampMillis => "DateTime64(3)".into(),
        A::TimestampMicros | A::LocalTimestampMicros => "DateTime64(6)".into(),
        A::TimestampNanos | A::LocalTimestampNanos => "DateTime64(9)".into(),
        A::TimeMillis => "Int32".into(),
        A::TimeMicros => "Int64".into(),
        A::Array(a) => {
            let item = avro_type(&a.items);
            if item.starts_with("Nullable(Array") || item.starts_with("Array") {
                "String".into()
            } else {
                format!("Array({item})")
            }
        }
        A::Map(m) => format!("Map(String, {})", avro_type(&m.types)),
        A::Union(u) => {
            let variants = u.variants();
            let others: Vec<&A> = variants.iter().filter(|v| **v != A::Null).collect();
            match others.as_slice() {
                [one] => {
                    let ty = avro_type(one);
                    if variants.len() > 1 {
                        nullable_of(&ty)
                    } else {
                        ty
                    }
                }
                _ => "String".into(),
            }
        }
        // Strings, enums, bytes (base64), fixed, decimals, nested records: text.
        _ => "String".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use danube_connect_sdk::Config;

    fn settings(extra: &str) -> Settings {
        let json = format!(r#"{{"url":"http://h:8123","table":"orders"{extra}}}"#);
        Config::new(json)
            .parse::<RawConfig>()
            .unwrap()
            .validate()
            .unwrap()
    }

    fn schema(schema_type: SchemaType, definition: &str) -> Schema {
        Schema {
            subject: "orders-value".into(),
            id: 1,
            version: 1,
            schema_type,
            definition: definition.as_bytes().to_vec(),
        }
    }

    #[test]
    fn avro_fields_become_typed_columns() {
        let avro = r#"{"type":"record","name":"O","fields":[
            {"name":"id","type":"long"},
            {"name":"price","type":"double"},
            {"name":"gift","type":["null","string"],"default":null},
            {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"tags","type":{"type":"array","items":"string"}},
            {"name":"kind","type":{"type":"enum","name":"K","symbols":["a","b"]}}
        ]}"#;
        let ddl = create_table(
            &settings(r#","metadata":{"offset":"_offset"}"#),
            &schema(SchemaType::Avro, avro),
        )
        .unwrap();
        for column in [
            "`id` Int64",
            "`price` Float64",
            "`gift` Nullable(String)",
            "`at` DateTime64(3)",
            "`tags` Array(String)",
            "`kind` String",
            "`_offset` UInt64",
        ] {
            assert!(ddl.contains(column), "{column} in {ddl}");
        }
        assert!(
            ddl.starts_with("CREATE TABLE IF NOT EXISTS `default`.`orders` ("),
            "{ddl}"
        );
        assert!(
            ddl.ends_with("ENGINE = MergeTree ORDER BY tuple()"),
            "{ddl}"
        );
    }

    #[test]
    fn json_schema_properties_become_columns_optional_ones_nullable() {
        let js = r#"{"type":"object","required":["id"],"properties":{
            "id":{"type":"integer"},
            "note":{"type":"string"},
            "ok":{"type":["boolean","null"]},
            "at":{"type":"string","format":"date-time"},
            "nested":{"type":"object"}
        }}"#;
        let ddl = create_table(
            &settings(r#","order_by":"id""#),
            &schema(SchemaType::JsonSchema, js),
        )
        .unwrap();
        for column in [
            "`id` Int64",
            "`note` Nullable(String)",
            "`ok` Nullable(Bool)",
            "`at` Nullable(DateTime64(3))",
            "`nested` Nullable(String)",
        ] {
            assert!(ddl.contains(column), "{column} in {ddl}");
        }
        assert!(ddl.ends_with("ORDER BY id"), "{ddl}");
        let id = ddl.find("`id`").unwrap_or(usize::MAX);
        let note = ddl.find("`note`").unwrap_or(0);
        let nested = ddl.find("`nested`").unwrap_or(0);
        assert!(
            id < note && note < nested,
            "columns in the schema's order: {ddl}"
        );
    }

    #[test]
    fn schemas_without_fields_are_refused() {
        let s = settings("");
        assert!(create_table(&s, &schema(SchemaType::String, "")).is_err());
        assert!(create_table(&s, &schema(SchemaType::Avro, r#""long""#)).is_err());
        assert!(create_table(&s, &schema(SchemaType::JsonSchema, r#"{"type":"object"}"#)).is_err());
    }
}
