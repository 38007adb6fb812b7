//! SQL sessions on tokio-postgres: the simple query protocol, every value as text, so a
//! connector decodes query results and replicated rows with the same rules.

use super::access::PostgresAccess;
use super::errors::PgError;
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage, config::SslMode};

/// Where and as whom to connect, checked against the grant.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: Option<String>,
    pub application_name: Option<String>,
    pub timeout: Duration,
}

impl Target {
    pub fn check(&self, access: &PostgresAccess, connector: &str) -> Result<(), PgError> {
        if self.host.starts_with('/') {
            return Err(PgError::Invalid(format!(
                "host {}: Unix sockets are not offered, use a TCP address",
                self.host
            )));
        }
        if !access.allows(&self.host, self.port) {
            return Err(PgError::Denied(format!(
                "{}:{} is not in [capabilities.postgres] allowed_hosts of connector {connector}",
                self.host, self.port
            )));
        }
        Ok(())
    }
}

/// The result of one statement.
#[derive(Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub values: Vec<Vec<Option<String>>>,
    pub affected: Option<u64>,
}

pub struct SqlSession {
    client: Client,
}

impl SqlSession {
    pub async fn connect(access: &PostgresAccess, target: &Target) -> Result<Self, PgError> {
        let mut config = Config::new();
        config
            .host(&target.host)
            .port(target.port)
            .dbname(&target.database)
            .user(&target.user)
            .connect_timeout(target.timeout)
            .application_name(
                target
                    .application_name
                    .as_deref()
                    .unwrap_or("danube-connect"),
            );
        if let Some(p) = &target.password {
            config.password(p.as_str());
        }
        let connecting = async {
            match &access.tls {
                Some(tls) => {
                    config.ssl_mode(SslMode::Require);
                    let connector =
                        tokio_postgres_rustls::MakeRustlsConnect::new((*tls.config).clone());
                    let (client, connection) = config.connect(connector).await?;
                    tokio::spawn(async move { drive(connection).await });
                    Ok::<_, tokio_postgres::Error>(client)
                }
                None => {
                    config.ssl_mode(SslMode::Disable);
                    let (client, connection) = config.connect(NoTls).await?;
                    tokio::spawn(async move { drive(connection).await });
                    Ok(client)
                }
            }
        };
        match tokio::time::timeout(target.timeout, connecting).await {
            Ok(client) => Ok(Self { client: client? }),
            Err(_) => Err(PgError::Connection(format!(
                "no answer from {}:{} within {:?}",
                target.host, target.port, target.timeout
            ))),
        }
    }

    pub async fn query(&self, sql: &str) -> Result<Vec<Rows>, PgError> {
        let mut out = Vec::new();
        let mut current: Option<Rows> = None;
        for message in self.client.simple_query(sql).await? {
            match message {
                SimpleQueryMessage::RowDescription(columns) => {
                    current = Some(Rows {
                        columns: columns.iter().map(|c| c.name().to_string()).collect(),
                        values: Vec::new(),
                        affected: None,
                    });
                }
                SimpleQueryMessage::Row(row) => {
                    let rows = current.get_or_insert_with(Rows::default);
                    rows.values.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => {
                    let mut rows = current.take().unwrap_or_default();
                    rows.affected = Some(n);
                    out.push(rows);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Runs the connection until the client is dropped or the server closes it; the client's
/// next call then reports the failure.
async fn drive<F>(connection: F)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>>,
{
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "postgres session ended");
    }
}
