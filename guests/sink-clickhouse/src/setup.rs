//! At `open`: the table exists (created from `create_table` if asked) and whether the server
//! takes deduplication tokens.

use danube_connect_sdk::{Error, log, schemas};

use crate::ClickHouseSink;
use crate::classify::Failure;
use crate::config::{Deduplicate, TableSource};
use crate::ddl;

/// An error at `open`: a server that is not up yet is retried, anything else is reported
/// as configuration.
fn open_error(f: Failure) -> Error {
    match f {
        Failure::Transient { .. } => f.to_error(),
        Failure::Data(r) | Failure::Fatal(r) => Error::config(r),
    }
}

impl ClickHouseSink {
    fn table_exists(&self) -> Result<bool, Error> {
        let sql = format!("EXISTS TABLE {}", self.settings.qualified_table());
        let answer = self.client.statement(&sql).map_err(open_error)?;
        Ok(answer.trim() == "1")
    }

    pub(crate) fn ensure_table(&self) -> Result<(), Error> {
        if self.table_exists()? {
            return Ok(());
        }
        let table = self.settings.qualified_table();
        let ddl = match &self.settings.create_table {
            None => {
                return Err(Error::config(format!(
                    "table {table} does not exist: create it, give its DDL in `create_table`, \
                     or set `create_table = true` and `schema_subject`"
                )));
            }
            Some(TableSource::Ddl(ddl)) => ddl.clone(),
            Some(TableSource::Schema(subject)) => {
                let schema = schemas::latest(subject)?;
                let ddl = ddl::create_table(&self.settings, &schema).map_err(|e| {
                    Error::config(format!(
                        "invalid config at `create_table`: cannot make {table} from {subject} v{}: {e}",
                        schema.version
                    ))
                })?;
                log::info_with(
                    "creating the table from a schema",
                    &[("subject", subject), ("version", &schema.version)],
                );
                ddl
            }
        };
        log::info_with("creating the table", &[("table", &table)]);
        self.client.statement(&ddl).map_err(open_error)?;
        if !self.table_exists()? {
            return Err(Error::config(format!(
                "`create_table` ran but table {table} still does not exist: does the DDL create `{}`.`{}`?",
                self.settings.database, self.settings.table
            )));
        }
        Ok(())
    }

    pub(crate) fn server_deduplicates(&self) -> Result<bool, Error> {
        match self.settings.deduplicate {
            Deduplicate::Always => Ok(true),
            Deduplicate::Never => Ok(false),
            Deduplicate::Auto => {
                let sql =
                    "SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token'";
                let answer = self.client.statement(sql).map_err(open_error)?;
                Ok(answer.trim() == "1")
            }
        }
    }
}
