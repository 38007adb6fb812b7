//! Both clients' errors, sorted into what the connector can act on: the grant, credentials
//! and privileges (retrying will not help), the network (retry), or a statement the server
//! rejected (its SQLSTATE decides).

use pgwire_replication::PgWireError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PgError {
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Connection(String),
    #[error("{message} (SQLSTATE {code})")]
    Server {
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Invalid authorization (class 28) and insufficient privilege: the role, not the moment.
fn refusal(code: &str) -> bool {
    code.starts_with("28") || code == "42501"
}

impl PgError {
    fn server(code: String, message: String, detail: Option<String>, hint: Option<String>) -> Self {
        if refusal(&code) {
            return PgError::Refused(format!("{message} (SQLSTATE {code})"));
        }
        PgError::Server {
            code,
            message,
            detail,
            hint,
        }
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => PgError::server(
                db.code().code().to_string(),
                db.message().to_string(),
                db.detail().map(str::to_string),
                db.hint().map(str::to_string),
            ),
            None => PgError::Connection(with_causes(&e)),
        }
    }
}

/// The message and its causes: tokio-postgres says "error performing TLS handshake" and
/// keeps the why (`invalid peer certificate: UnknownIssuer`) in its source.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

impl From<PgWireError> for PgError {
    fn from(e: PgWireError) -> Self {
        match e {
            PgWireError::Server(text) => match split_sqlstate(&text) {
                Some((message, code)) => PgError::server(code, message, None, None),
                None => PgError::Server {
                    code: String::new(),
                    message: text,
                    detail: None,
                    hint: None,
                },
            },
            PgWireError::Auth(m) => PgError::Refused(format!("authentication failed: {m}")),
            PgWireError::Tls(m) => PgError::Connection(format!("TLS: {m}")),
            other => PgError::Connection(other.to_string()),
        }
    }
}

/// `"message (SQLSTATE 55006)"` → (`message`, `55006`).
fn split_sqlstate(text: &str) -> Option<(String, String)> {
    let (message, rest) = text.rsplit_once(" (SQLSTATE ")?;
    let code = rest.strip_suffix(')')?;
    Some((message.to_string(), code.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replication_server_error_keeps_its_sqlstate() {
        let e = PgError::from(PgWireError::Server(
            "replication slot \"s\" is active for PID 7 (SQLSTATE 55006)".into(),
        ));
        match e {
            PgError::Server { code, message, .. } => {
                assert_eq!(code, "55006");
                assert_eq!(message, "replication slot \"s\" is active for PID 7");
            }
            other => panic!("expected a server error, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_privilege_is_a_refusal() {
        let e = PgError::from(PgWireError::Server(
            "permission denied to start WAL sender (SQLSTATE 42501)".into(),
        ));
        assert!(matches!(e, PgError::Refused(m) if m.contains("WAL sender")));
        let e = PgError::from(PgWireError::Server(
            "password authentication failed for user \"x\" (SQLSTATE 28P01)".into(),
        ));
        assert!(matches!(e, PgError::Refused(_)));
    }
}
