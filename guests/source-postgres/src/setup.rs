//! Before streaming: the server can do logical replication, the role may, every chosen
//! table keeps a key for updates and deletes, and the publication and slot exist. Each
//! failure is a named configuration error, so the connector stops with the reason instead
//! of retrying in a loop while the slot retains WAL.

use crate::config::Settings;
use crate::tables::TableName;
use danube_connect_sdk::postgres::{Connection, Replication, Rows};
use danube_connect_sdk::{Error, log};

pub fn check_server(db: &Connection) -> Result<(), Error> {
    let wal_level = scalar(db, "SHOW wal_level")?.unwrap_or_default();
    if wal_level != "logical" {
        return Err(Error::config(format!(
            "wal_level is {wal_level}: set wal_level = logical in postgresql.conf and restart PostgreSQL"
        )));
    }
    let may = scalar(
        db,
        "SELECT (rolreplication OR rolsuper)::text FROM pg_roles WHERE rolname = current_user",
    )?;
    if may.as_deref() != Some("true") {
        return Err(Error::config(
            "user: the role lacks the REPLICATION privilege (ALTER ROLE … WITH REPLICATION)",
        ));
    }
    Ok(())
}

/// Every included table exists and keeps a key for updates and deletes.
pub fn check_tables(db: &Connection, tables: &[TableName]) -> Result<(), Error> {
    for t in tables {
        let sql = format!(
            "SELECT c.relreplident::text, EXISTS (SELECT 1 FROM pg_index i \
               WHERE i.indrelid = c.oid AND i.indisprimary)::text AS pk \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{}' AND c.relname = '{}' AND c.relkind IN ('r', 'p')",
            t.schema.replace('\'', "''"),
            t.table.replace('\'', "''")
        );
        let rows = first(db.query(&sql).map_err(Error::from)?);
        let (Some(identity), Some(pk)) = (rows.get(0, "relreplident"), rows.get(0, "pk")) else {
            return Err(Error::config(format!("tables: {t} does not exist")));
        };
        let keyless = identity == "n" || (identity == "d" && pk != "true");
        if keyless {
            return Err(Error::config(format!(
                "tables: {t} has no primary key and REPLICA IDENTITY {}: its updates and deletes \
                 would carry no key. Add a primary key, or ALTER TABLE {} REPLICA IDENTITY FULL",
                if identity == "n" {
                    "NOTHING"
                } else {
                    "DEFAULT"
                },
                t.quoted()
            )));
        }
    }
    Ok(())
}

/// With no `tables` list the publication decides what streams: its tables (less the
/// excluded ones) must keep a key just the same.
pub fn check_published_tables(db: &Connection, s: &Settings) -> Result<(), Error> {
    if !s.tables.include.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = '{}'",
        s.publication
    );
    let published: Vec<TableName> = values(db, &sql)?
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [Some(schema), Some(table)] => Some(TableName {
                schema: schema.clone(),
                table: table.clone(),
            }),
            _ => None,
        })
        .filter(|t| s.tables.includes(&t.schema, &t.table))
        .collect();
    check_tables(db, &published)
}

/// Which of `tables` no longer exist, in one query.
pub fn missing_tables<'a>(
    db: &Connection,
    tables: impl IntoIterator<Item = &'a TableName>,
) -> Result<Vec<String>, Error> {
    let names: Vec<String> = tables
        .into_iter()
        .map(|t| format!("'{}'", t.quoted().replace('\'', "''")))
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT t FROM unnest(ARRAY[{}]::text[]) AS t WHERE to_regclass(t) IS NULL",
        names.join(", ")
    );
    Ok(values(db, &sql)?
        .into_iter()
        .filter_map(|row| row.into_iter().next().flatten())
        .collect())
}

pub fn ensure_publication(db: &Connection, s: &Settings) -> Result<(), Error> {
    let name = &s.publication;
    let all = scalar(
        db,
        &format!("SELECT puballtables::text FROM pg_publication WHERE pubname = '{name}'"),
    )?;
    let include = &s.tables.include;
    match all.as_deref() {
        None if !s.create_publication => Err(Error::config(format!(
            "publication: {name} does not exist (create it, or set create_publication = true)"
        ))),
        None => {
            let what = if include.is_empty() {
                "ALL TABLES".to_string()
            } else {
                let list: Vec<String> = include.iter().map(TableName::quoted).collect();
                format!("TABLE {}", list.join(", "))
            };
            db.query(&format!("CREATE PUBLICATION {name} FOR {what}"))?;
            log::info(&format!("created publication {name} for {what}"));
            Ok(())
        }
        Some("true") => Ok(()),
        Some(_) => {
            if !s.create_publication {
                return Ok(());
            }
            for t in include {
                let published = scalar(
                    db,
                    &format!(
                        "SELECT 1 FROM pg_publication_tables WHERE pubname = '{name}' \
                         AND schemaname = '{}' AND tablename = '{}'",
                        t.schema, t.table
                    ),
                )?;
                if published.is_none() {
                    db.query(&format!(
                        "ALTER PUBLICATION {name} ADD TABLE {}",
                        t.quoted()
                    ))?;
                    log::info(&format!("added {t} to publication {name}"));
                }
            }
            Ok(())
        }
    }
}

/// Whether the slot exists; an existing one must be a free `pgoutput` slot.
pub fn slot_exists(db: &Connection, s: &Settings) -> Result<bool, Error> {
    let slot = &s.slot;
    let sql = format!(
        "SELECT plugin, active::text, active_pid::text, database FROM pg_replication_slots \
         WHERE slot_name = '{slot}'"
    );
    let rows = first(db.query(&sql)?);
    match rows.get(0, "plugin") {
        None if !s.create_slot => Err(Error::config(format!(
            "slot: replication slot {slot} does not exist (create it, or set create_slot = true)"
        ))),
        None => Ok(false),
        Some(plugin) if plugin != "pgoutput" => Err(Error::config(format!(
            "slot: replication slot {slot} uses plugin {plugin}, not pgoutput"
        ))),
        Some(_) if rows.get(0, "active") == Some("true") => Err(Error::retryable(format!(
            "replication slot {slot} is active for PID {}: another client is streaming it",
            rows.get(0, "active_pid").unwrap_or("?")
        ))),
        Some(_) => Ok(true),
    }
}

/// Create the slot without a snapshot: streaming starts at its creation.
pub fn create_slot(stream: &Replication, slot: &str) -> Result<(), Error> {
    stream.command(&format!(
        "CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput NOEXPORT_SNAPSHOT"
    ))?;
    log::info(&format!("created replication slot {slot}"));
    Ok(())
}

pub fn drop_slot(db: &Connection, slot: &str) -> Result<(), Error> {
    db.query(&format!("SELECT pg_drop_replication_slot('{slot}')"))?;
    Ok(())
}

/// Primary key column names of a table, in key order; empty when it has none.
pub fn primary_key(db: &Connection, schema: &str, table: &str) -> Result<Vec<String>, Error> {
    let sql = format!(
        "SELECT a.attname FROM pg_index i \
           JOIN pg_class c ON c.oid = i.indrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
         WHERE i.indisprimary AND n.nspname = '{}' AND c.relname = '{}' ORDER BY k.ord",
        schema.replace('\'', "''"),
        table.replace('\'', "''")
    );
    Ok(values(db, &sql)?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

/// The first value of the first row of one statement, `None` for no row or SQL NULL.
pub fn scalar(db: &Connection, sql: &str) -> Result<Option<String>, Error> {
    Ok(values(db, sql)?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}

/// The rows of one statement, values as text.
pub fn values(db: &Connection, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
    Ok(first(db.query(sql)?).values)
}

/// The result of the first statement (each call here runs one).
fn first(mut results: Vec<Rows>) -> Rows {
    if results.is_empty() {
        Rows {
            columns: Vec::new(),
            values: Vec::new(),
            affected: None,
        }
    } else {
        results.swap_remove(0)
    }
}
