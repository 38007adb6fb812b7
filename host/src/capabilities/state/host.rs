//! `danube:connect/state`: a small durable key/value store per connector (redb file).

/// Host bindings of the `state` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world state { import danube:connect/state@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/state",
    });
}

use bindings::danube::connect::state::Host;
use redb::{Database, ReadableDatabase, TableDefinition};
use std::path::Path;
use std::sync::Arc;

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");

#[derive(Clone)]
pub struct StateCapability {
    db: Option<Arc<Database>>,
}

impl StateCapability {
    pub fn open(path: &Path) -> Result<Self, redb::DatabaseError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        Ok(Self {
            db: Some(Arc::new(Database::create(path)?)),
        })
    }

    /// For connectors without the grant: every call fails (the import check normally stops
    /// such a component before it runs).
    pub fn denied() -> Self {
        Self { db: None }
    }

    fn db(&self) -> Result<&Database, String> {
        self.db.as_deref().ok_or_else(|| {
            "state is not granted: add [capabilities.state] to the connector config".into()
        })
    }
}

impl Host for StateCapability {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, String> {
        let db = self.db()?;
        let tx = db.begin_read().map_err(|e| e.to_string())?;
        let table = match tx.open_table(TABLE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let value = table.get(key.as_str()).map_err(|e| e.to_string())?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        let db = self.db()?;
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = tx.open_table(TABLE).map_err(|e| e.to_string())?;
            table
                .insert(key.as_str(), value.as_slice())
                .map_err(|e| e.to_string())?;
        }
        tx.commit().map_err(|e| e.to_string())
    }

    fn delete(&mut self, key: String) -> Result<(), String> {
        let db = self.db()?;
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = tx.open_table(TABLE).map_err(|e| e.to_string())?;
            table.remove(key.as_str()).map_err(|e| e.to_string())?;
        }
        tx.commit().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s.redb");
        {
            let mut s = StateCapability::open(&path).expect("open");
            assert_eq!(s.get("pos".into()), Ok(None));
            s.set("pos".into(), b"42".to_vec()).expect("set");
        }
        let mut s = StateCapability::open(&path).expect("reopen");
        assert_eq!(s.get("pos".into()), Ok(Some(b"42".to_vec())));
        s.delete("pos".into()).expect("delete");
        assert_eq!(s.get("pos".into()), Ok(None));
    }

    #[test]
    fn denied_explains_grant() {
        let mut s = StateCapability::denied();
        let err = s.get("k".into()).expect_err("denied");
        assert!(err.contains("capabilities.state"));
    }
}
