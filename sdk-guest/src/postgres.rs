//! PostgreSQL through the host (`danube:connect/postgres`), for connectors granted
//! `[capabilities.postgres]`: SQL sessions, and logical replication streams whose keepalives
//! the host answers, reporting as flushed only what the connector confirmed.
//!
//! ```ignore
//! use danube_connect_sdk::postgres::{ConnectOptions, Connection};
//! let db = Connection::connect(&ConnectOptions::new("127.0.0.1", "app", "cdc"))?;
//! let rows = db.query("SELECT current_setting('wal_level')")?;
//! ```

use crate::Error;
pub use crate::bindings::source::danube::connect::postgres::{
    Begin, Commit, ConnectOptions, Connection, LogicalMessage, PgError, Replication, Rows,
    ServerError, StreamOptions, WalEvent,
};

impl ConnectOptions {
    /// Port 5432, no password, 10 s to connect.
    pub fn new(
        host: impl Into<String>,
        database: impl Into<String>,
        user: impl Into<String>,
    ) -> Self {
        ConnectOptions {
            host: host.into(),
            port: None,
            database: database.into(),
            user: user.into(),
            password: None,
            application_name: None,
            timeout_ms: 10_000,
        }
    }
}

impl Rows {
    /// The value of `column` in row `row`, `None` for SQL NULL or a missing column.
    pub fn get(&self, row: usize, column: &str) -> Option<&str> {
        let i = self.columns.iter().position(|c| c == column)?;
        self.values.get(row)?.get(i)?.as_deref()
    }
}

impl PgError {
    /// The SQLSTATE of a server error.
    pub fn code(&self) -> Option<&str> {
        match self {
            PgError::Server(e) => Some(&e.code),
            _ => None,
        }
    }
}

impl PgError {
    /// The message, with a server error's SQLSTATE, detail and hint.
    pub fn describe(&self) -> String {
        match self {
            PgError::Denied(m)
            | PgError::Refused(m)
            | PgError::Connection(m)
            | PgError::Invalid(m) => m.clone(),
            PgError::Server(e) => {
                let mut s = format!("{} (SQLSTATE {})", e.message, e.code);
                if let Some(d) = &e.detail {
                    s.push_str(&format!("; {d}"));
                }
                if let Some(h) = &e.hint {
                    s.push_str(&format!("; hint: {h}"));
                }
                s
            }
        }
    }
}

/// SQLSTATE classes worth retrying: connection exceptions, insufficient resources, operator
/// intervention (shutdown, recovery) and serialization failures.
fn transient(code: &str) -> bool {
    ["08", "53", "57", "40"].iter().any(|c| code.starts_with(c))
}

impl From<PgError> for Error {
    /// An unreachable server is worth retrying; a refusal (credentials, privileges), a server
    /// outside the grant or bad options are configuration problems; a rejected statement is
    /// retried only when its SQLSTATE says the moment, not the statement, was wrong.
    fn from(e: PgError) -> Self {
        let text = e.describe();
        match &e {
            PgError::Connection(_) => Error::retryable(text),
            PgError::Server(s) if transient(&s.code) => Error::retryable(text),
            PgError::Server(_) => Error::fatal(text),
            PgError::Refused(_) | PgError::Denied(_) | PgError::Invalid(_) => Error::config(text),
        }
    }
}
