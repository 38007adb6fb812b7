//! A decoded row change becomes a change event: the JSON payload the README documents, the
//! primary key as the message key, `pg.*` attributes and the table's topic.

use crate::lsn;
use crate::pgoutput::{Cell, Relation, TupleData};
use crate::topic::TopicRule;
use crate::typed::TableSchemas;
use crate::values::{ValueOptions, to_json};
use danube_connect_sdk::Record;
use serde_json::{Map, Value, json};

/// What the change events of one transaction share.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxInfo {
    pub xid: u32,
    pub commit_lsn: u64,
    pub commit_time_us: i64,
}

/// A table as the stream described it, with its primary key columns (from the catalog;
/// the replica identity key when the table has no primary key).
#[derive(Debug, Clone)]
pub struct Table {
    pub relation: Relation,
    pub key_columns: Vec<usize>,
}

impl Table {
    pub fn schema(&self) -> &str {
        self.relation.schema()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
    Truncate,
    Read,
}

impl Op {
    fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
            Op::Read => "r",
        }
    }
}

pub struct Change<'a> {
    pub op: Op,
    pub table: &'a Table,
    pub before: Option<&'a TupleData>,
    pub after: Option<&'a TupleData>,
    /// `before` holds only the replica identity key (REPLICA IDENTITY DEFAULT or INDEX).
    pub before_key_only: bool,
    /// WAL position of the change (the slot's consistent point for a snapshot row).
    pub lsn: u64,
}

pub struct EventBuilder {
    pub database: String,
    pub topic: TopicRule,
    pub values: ValueOptions,
    /// Per-table registry schemas, when `schema_subject` is set.
    pub schemas: Option<TableSchemas>,
}

impl EventBuilder {
    pub fn record(&self, change: &Change, tx: &TxInfo, now_ms: u64) -> Record {
        let table = change.table;
        let schema = table.schema();
        let name = &table.relation.name;
        let mut unchanged = Vec::new();
        let before = change
            .before
            .map(|t| self.row(table, t, change.before_key_only, &mut Vec::new()));
        let after = change
            .after
            .map(|t| self.row(table, t, false, &mut unchanged));
        let mut event = json!({
            "op": change.op.code(),
            "table": format!("{schema}.{name}"),
            "before": before,
            "after": after,
            "source": {
                "db": self.database,
                "schema": schema,
                "table": name,
                "lsn": lsn::format(change.lsn),
                "commit_lsn": lsn::format(tx.commit_lsn),
                "tx_id": tx.xid,
                "commit_ts": tx.commit_time_us.div_euclid(1000),
            },
            "ts_ms": now_ms,
        });
        if !unchanged.is_empty()
            && let Some(map) = event.as_object_mut()
        {
            map.insert("unchanged_toast".into(), Value::from(unchanged));
        }
        let key = change
            .after
            .or(change.before)
            .and_then(|row| self.key(table, row));
        let mut record = Record::new(event.to_string().into_bytes())
            .with_attribute("pg.op", change.op.code())
            .with_attribute("pg.schema", schema)
            .with_attribute("pg.table", name.as_str())
            .with_attribute("pg.lsn", lsn::format(change.lsn))
            .with_attribute("pg.tx_id", tx.xid.to_string())
            .with_attribute("content-type", "application/json");
        if let Some(topic) = self.topic.render(schema, name) {
            record = record.with_topic(topic);
        }
        if let Some(key) = key {
            record = record.with_key(key);
        }
        if let Some(schema) = self
            .schemas
            .as_ref()
            .and_then(|s| s.reference(table, &self.values, now_ms))
        {
            record = record.with_schema(schema);
        }
        record
    }

    /// Columns by name; a TOASTed value the change did not touch is left out and named in
    /// `unchanged` (it was not sent, so it is not known here: never a silent null). A
    /// key-only image holds the key columns alone (the others were not sent).
    fn row(
        &self,
        table: &Table,
        row: &TupleData,
        key_only: bool,
        unchanged: &mut Vec<String>,
    ) -> Value {
        let mut map = Map::new();
        for (column, cell) in table.relation.columns.iter().zip(&row.0) {
            if key_only && !column.key {
                continue;
            }
            let value = match cell {
                Cell::Null => Value::Null,
                Cell::Text(t) => to_json(column.type_oid, t, &self.values),
                Cell::Binary(b) => Value::from(crate::values::base64(b)),
                Cell::UnchangedToast => {
                    unchanged.push(column.name.clone());
                    continue;
                }
            };
            map.insert(column.name.clone(), value);
        }
        Value::Object(map)
    }

    /// The key columns' text values: one column as is, several as a JSON array. `None` when
    /// a key value is missing (no key columns, or an unchanged TOASTed key).
    fn key(&self, table: &Table, row: &TupleData) -> Option<String> {
        let texts: Option<Vec<&str>> = table
            .key_columns
            .iter()
            .map(|&i| match row.0.get(i) {
                Some(Cell::Text(t)) => Some(t.as_str()),
                Some(Cell::Null) => Some(""),
                _ => None,
            })
            .collect();
        match texts?.as_slice() {
            [] => None,
            [one] => Some((*one).to_string()),
            many => Some(Value::from(many.to_vec()).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgoutput::Column;

    fn table() -> Table {
        let column = |name: &str, oid, key| Column {
            key,
            name: name.into(),
            type_oid: oid,
            type_modifier: -1,
        };
        Table {
            relation: Relation {
                id: 1,
                namespace: "public".into(),
                name: "orders".into(),
                replica_identity: b'd',
                columns: vec![
                    column("id", 23, true),
                    column("note", 25, false),
                    column("doc", 3802, false),
                ],
            },
            key_columns: vec![0],
        }
    }

    fn builder() -> EventBuilder {
        EventBuilder {
            database: "shop".into(),
            topic: TopicRule::template("/cdc/{schema}_{table}").expect("valid"),
            values: ValueOptions::default(),
            schemas: None,
        }
    }

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn an_update_names_its_unchanged_toast_columns() {
        let t = table();
        let before = TupleData(vec![text("7"), text("old"), Cell::Null]);
        let after = TupleData(vec![text("7"), text("new"), Cell::UnchangedToast]);
        let tx = TxInfo {
            xid: 42,
            commit_lsn: 0x1_0000_0010,
            commit_time_us: 1_700_000_000_123_456,
        };
        let change = Change {
            op: Op::Update,
            table: &t,
            before: Some(&before),
            after: Some(&after),
            before_key_only: false,
            lsn: 0x1_0000_0008,
        };
        let r = builder().record(&change, &tx, 5);
        let v: Value = serde_json::from_slice(&r.payload).expect("json");
        assert_eq!(v["op"], "u");
        assert_eq!(v["table"], "public.orders");
        assert_eq!(v["before"]["note"], "old");
        assert_eq!(v["after"], json!({"id": 7, "note": "new"}));
        assert_eq!(v["unchanged_toast"], json!(["doc"]));
        assert_eq!(v["source"]["lsn"], "1/8");
        assert_eq!(v["source"]["commit_ts"], 1_700_000_000_123_i64);
        assert_eq!(r.key.as_deref(), Some("7"));
        assert_eq!(r.topic.as_deref(), Some("/cdc/public_orders"));
        assert!(r.attributes.contains(&("pg.op".into(), "u".into())));
    }

    #[test]
    fn a_composite_key_is_a_json_array() {
        let mut t = table();
        t.key_columns = vec![0, 1];
        let row = TupleData(vec![text("7"), text("a,b"), Cell::Null]);
        let change = Change {
            op: Op::Delete,
            table: &t,
            before: Some(&row),
            after: None,
            before_key_only: true,
            lsn: 1,
        };
        let r = builder().record(&change, &TxInfo::default(), 0);
        assert_eq!(r.key.as_deref(), Some(r#"["7","a,b"]"#));
        let v: Value = serde_json::from_slice(&r.payload).expect("json");
        assert_eq!(v["after"], Value::Null);
    }
}
