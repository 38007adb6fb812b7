//! One JSON Schema per table, registered in Danube's registry (`schema_subject`): it describes
//! the change events of the table, with `before` / `after` typed from the columns the stream's
//! Relation message lists. A DDL change sends a new Relation, so a new definition, so a new
//! version; every event is published under the version that describes it.

use crate::event::Table;
use crate::values::{ValueOptions, array_element_oid};
use danube_connect_sdk::log;
use danube_connect_sdk::schemas::{self, Compatibility, SchemaRef, SchemaType};
use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::collections::HashMap;

/// How long a registration that failed waits before it is tried again; events in between go
/// out without a schema reference rather than wait (the slot must keep moving).
const RETRY_MS: u64 = 10_000;

pub struct TableSchemas {
    /// Subject template with `{schema}` and `{table}`.
    subject: String,
    compatibility: Option<Compatibility>,
    /// Per schema, per table (looked up without building a name on every event): the columns
    /// last registered and the outcome.
    known: RefCell<HashMap<String, HashMap<String, Known>>>,
}

struct Known {
    /// Column names and types the definition was made from: compared on every event, where
    /// building the definition again would cost more than the event itself.
    columns: Vec<(String, u32)>,
    state: State,
}

enum State {
    Registered(SchemaRef),
    /// Failed; try again after this time (ms since the epoch).
    RetryAt(u64),
}

impl TableSchemas {
    pub fn new(subject: String, compatibility: Option<Compatibility>) -> Self {
        Self {
            subject,
            compatibility,
            known: RefCell::new(HashMap::new()),
        }
    }

    pub fn subject(&self, table: &Table) -> String {
        self.subject
            .replace("{schema}", table.schema())
            .replace("{table}", &table.relation.name)
    }

    /// The schema `table`'s events are published under, registering its definition when it
    /// is new (first sight, or the table changed).
    pub fn reference(
        &self,
        table: &Table,
        values: &ValueOptions,
        now_ms: u64,
    ) -> Option<SchemaRef> {
        let mut known = self.known.borrow_mut();
        let same = |k: &Known| {
            k.columns.len() == table.relation.columns.len()
                && k.columns
                    .iter()
                    .zip(&table.relation.columns)
                    .all(|((n, t), c)| *n == c.name && *t == c.type_oid)
        };
        if let Some(k) = known
            .get(table.schema())
            .and_then(|tables| tables.get(&table.relation.name))
            && same(k)
        {
            match k.state {
                State::Registered(r) => return Some(r),
                State::RetryAt(at) if now_ms < at => return None,
                State::RetryAt(_) => {}
            }
        }
        let definition = definition(table, values).to_string().into_bytes();
        let name = format!("{}.{}", table.schema(), table.relation.name);
        let subject = self.subject(table);
        let state = match self.register(&subject, &definition) {
            Ok(r) => {
                log::info_with(
                    "publishing the table under its schema",
                    &[
                        ("table", &name),
                        ("subject", &subject),
                        ("version", &r.version),
                    ],
                );
                State::Registered(r)
            }
            Err(e) => {
                log::warn_with(
                    "cannot register the table's schema; its events go without one meanwhile",
                    &[("table", &name), ("subject", &subject), ("error", &e)],
                );
                State::RetryAt(now_ms + RETRY_MS)
            }
        };
        let reference = match state {
            State::Registered(r) => Some(r),
            State::RetryAt(_) => None,
        };
        let columns = table
            .relation
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.type_oid))
            .collect();
        known
            .entry(table.schema().to_string())
            .or_default()
            .insert(table.relation.name.clone(), Known { columns, state });
        reference
    }

    fn register(&self, subject: &str, definition: &[u8]) -> Result<SchemaRef, String> {
        let schema = schemas::register(
            subject,
            SchemaType::JsonSchema,
            definition,
            self.compatibility,
        )
        .map_err(|e| e.0)?;
        Ok(SchemaRef {
            id: schema.id,
            version: schema.version,
        })
    }
}

/// The JSON Schema of `table`'s change events.
pub fn definition(table: &Table, values: &ValueOptions) -> Value {
    let mut columns = Map::new();
    for c in &table.relation.columns {
        columns.insert(c.name.clone(), nullable(column_type(c.type_oid, values)));
    }
    let row = json!({ "type": "object", "properties": columns });
    let image = json!({ "anyOf": [{ "type": "null" }, { "$ref": "#/$defs/row" }] });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("{}.{} change event", table.schema(), table.relation.name),
        "type": "object",
        "required": ["op", "table", "source", "ts_ms"],
        "properties": {
            "op": { "enum": ["c", "u", "d", "t", "r"] },
            "table": { "type": "string" },
            "before": image,
            "after": image,
            "source": { "type": "object" },
            "ts_ms": { "type": "integer" },
            "unchanged_toast": { "type": "array", "items": { "type": "string" } }
        },
        "$defs": { "row": row }
    })
}

/// What `values::to_json` makes of a column of this type. Floats (and numerics read as
/// numbers) may be strings: NaN and the infinities have no JSON number.
fn column_type(oid: u32, values: &ValueOptions) -> Value {
    if let Some(element) = array_element_oid(oid) {
        return json!({ "type": "array", "items": column_type(element, values) });
    }
    match oid {
        16 => json!({ "type": "boolean" }),
        20 | 21 | 23 | 26 => json!({ "type": "integer" }),
        700 | 701 => json!({ "type": ["number", "string"] }),
        1700 if values.numeric_as_number => json!({ "type": ["number", "string"] }),
        114 | 3802 => json!({}),
        17 => json!({ "type": "string", "contentEncoding": "base64" }),
        1114 | 1184 => json!({ "type": "string", "format": "date-time" }),
        2950 => json!({ "type": "string", "format": "uuid" }),
        _ => json!({ "type": "string" }),
    }
}

/// Any column may be NULL: the Relation message does not say which are NOT NULL.
fn nullable(t: Value) -> Value {
    if t.as_object().is_some_and(|o| o.is_empty()) {
        return t;
    }
    json!({ "anyOf": [t, { "type": "null" }] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgoutput::{Column, Relation};

    fn table(columns: &[(&str, u32)]) -> Table {
        Table {
            relation: Relation {
                id: 1,
                namespace: "public".into(),
                name: "orders".into(),
                replica_identity: b'd',
                columns: columns
                    .iter()
                    .map(|(name, oid)| Column {
                        key: *name == "id",
                        name: (*name).into(),
                        type_oid: *oid,
                        type_modifier: -1,
                    })
                    .collect(),
            },
            key_columns: vec![0],
        }
    }

    #[test]
    fn columns_are_typed_and_the_definition_follows_the_table() {
        let t = table(&[("id", 23), ("note", 25), ("at", 1184), ("tags", 1009)]);
        let d = definition(&t, &ValueOptions::default());
        let row = &d["$defs"]["row"]["properties"];
        assert_eq!(row["id"]["anyOf"][0]["type"], "integer");
        assert_eq!(row["at"]["anyOf"][0]["format"], "date-time");
        assert_eq!(row["tags"]["anyOf"][0]["items"]["type"], "string");
        let wider = table(&[
            ("id", 23),
            ("note", 25),
            ("at", 1184),
            ("tags", 1009),
            ("n", 20),
        ]);
        assert_ne!(definition(&wider, &ValueOptions::default()), d);
    }

    #[test]
    fn a_table_registers_once_per_definition_and_again_when_it_changes() {
        let schemas = TableSchemas::new("cdc-{schema}-{table}".into(), None);
        let values = ValueOptions::default();
        let v1 = schemas
            .reference(&table(&[("id", 23)]), &values, 0)
            .expect("v1");
        let again = schemas
            .reference(&table(&[("id", 23)]), &values, 1)
            .expect("v1");
        assert_eq!((again.id, again.version), (v1.id, v1.version));
        let v2 = schemas
            .reference(&table(&[("id", 23), ("note", 25)]), &values, 2)
            .expect("v2");
        assert_eq!((v2.id, v2.version), (v1.id, v1.version + 1));
        assert_eq!(
            schemas::latest("cdc-public-orders")
                .expect("subject")
                .version,
            v2.version
        );
    }
}
