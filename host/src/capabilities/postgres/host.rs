//! The WIT side of `danube:connect/postgres`: `connection` and `replication` resources are
//! sessions kept by rep.

use super::access::PostgresAccess;
use super::errors::PgError;
use super::replication::{ReplicationSession, StreamSpec, WalEvent};
use super::sql::{SqlSession, Target};
use bindings::danube::connect::postgres as wit;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Resource;

/// Host bindings of the `postgres` interface alone.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        inline: "package danube:connect-host; world postgres { import danube:connect/postgres@0.1.0; }",
        path: "../wit",
        world: "danube:connect-host/postgres",
        imports: { default: async },
    });
}

pub use bindings::danube::connect::postgres::{
    Connection as PostgresConnection, Replication as PostgresReplication,
};

const DEFAULT_PORT: u16 = 5432;

pub struct PostgresCapability {
    connector: Arc<str>,
    /// `None`: not granted (the import check normally stops such a component at load).
    access: Option<Arc<PostgresAccess>>,
    connections: HashMap<u32, SqlSession>,
    replications: HashMap<u32, ReplicationSession>,
    next: u32,
}

impl PostgresCapability {
    pub fn new(connector: Arc<str>, access: Option<Arc<PostgresAccess>>) -> Self {
        Self {
            connector,
            access,
            connections: HashMap::new(),
            replications: HashMap::new(),
            next: 0,
        }
    }

    fn access(&self) -> Result<Arc<PostgresAccess>, PgError> {
        self.access.clone().ok_or_else(|| {
            PgError::Denied(format!(
                "Postgres is not granted to connector {}: add [capabilities.postgres]",
                self.connector
            ))
        })
    }

    fn target(&self, access: &PostgresAccess, o: wit::ConnectOptions) -> Result<Target, PgError> {
        let target = Target {
            host: o.host,
            port: o.port.unwrap_or(DEFAULT_PORT),
            database: o.database,
            user: o.user,
            password: o.password,
            application_name: o.application_name,
            timeout: Duration::from_millis(o.timeout_ms.max(1).into()),
        };
        target.check(access, &self.connector)?;
        Ok(target)
    }

    fn rep(&mut self) -> u32 {
        self.next = self.next.wrapping_add(1);
        self.next
    }

    fn replication(
        &mut self,
        r: &Resource<PostgresReplication>,
    ) -> Result<&mut ReplicationSession, PgError> {
        self.replications
            .get_mut(&r.rep())
            .ok_or_else(|| PgError::Invalid("this replication session was closed".into()))
    }
}

impl From<PgError> for wit::PgError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Denied(m) => Self::Denied(m),
            PgError::Refused(m) => Self::Refused(m),
            PgError::Connection(m) => Self::Connection(m),
            PgError::Server {
                code,
                message,
                detail,
                hint,
            } => Self::Server(wit::ServerError {
                code,
                message,
                detail,
                hint,
            }),
            PgError::Invalid(m) => Self::Invalid(m),
        }
    }
}

impl wit::Host for PostgresCapability {}

impl wit::HostConnection for PostgresCapability {
    async fn connect(
        &mut self,
        options: wit::ConnectOptions,
    ) -> Result<Resource<PostgresConnection>, wit::PgError> {
        let access = self.access()?;
        let target = self.target(&access, options)?;
        let session = SqlSession::connect(&access, &target).await?;
        let rep = self.rep();
        self.connections.insert(rep, session);
        Ok(Resource::new_own(rep))
    }

    async fn query(
        &mut self,
        connection: Resource<PostgresConnection>,
        sql: String,
    ) -> Result<Vec<wit::Rows>, wit::PgError> {
        let session = self
            .connections
            .get(&connection.rep())
            .ok_or_else(|| PgError::Invalid("this connection was closed".into()))?;
        let results = session.query(&sql).await?;
        Ok(results
            .into_iter()
            .map(|r| wit::Rows {
                columns: r.columns,
                values: r.values,
                affected: r.affected,
            })
            .collect())
    }

    async fn drop(&mut self, connection: Resource<PostgresConnection>) -> wasmtime::Result<()> {
        self.connections.remove(&connection.rep());
        Ok(())
    }
}

impl wit::HostReplication for PostgresCapability {
    async fn connect(
        &mut self,
        options: wit::ConnectOptions,
        streaming: wit::StreamOptions,
    ) -> Result<Resource<PostgresReplication>, wit::PgError> {
        let access = self.access()?;
        let target = self.target(&access, options)?;
        let spec = StreamSpec {
            slot: streaming.slot,
            publications: streaming.publications,
            start_lsn: streaming.start_lsn,
            messages: streaming.messages,
            status_interval: Duration::from_millis(streaming.status_interval_ms.max(100).into()),
        };
        let session = ReplicationSession::connect(&access, &target, spec).await?;
        let rep = self.rep();
        self.replications.insert(rep, session);
        Ok(Resource::new_own(rep))
    }

    async fn command(
        &mut self,
        replication: Resource<PostgresReplication>,
        sql: String,
    ) -> Result<Vec<Vec<Option<String>>>, wit::PgError> {
        Ok(self.replication(&replication)?.command(&sql).await?)
    }

    async fn start(
        &mut self,
        replication: Resource<PostgresReplication>,
    ) -> Result<(), wit::PgError> {
        Ok(self.replication(&replication)?.start().await?)
    }

    async fn receive(
        &mut self,
        replication: Resource<PostgresReplication>,
        max: u32,
        timeout_ms: u32,
    ) -> Result<Vec<wit::WalEvent>, wit::PgError> {
        let events = self
            .replication(&replication)?
            .receive(max as usize, Duration::from_millis(timeout_ms.into()))
            .await?;
        Ok(events.into_iter().map(wal_event).collect())
    }

    async fn confirm(&mut self, replication: Resource<PostgresReplication>, lsn: u64) -> () {
        if let Ok(session) = self.replication(&replication) {
            session.confirm(lsn);
        }
    }

    async fn drop(&mut self, replication: Resource<PostgresReplication>) -> wasmtime::Result<()> {
        self.replications.remove(&replication.rep());
        Ok(())
    }
}

fn wal_event(e: WalEvent) -> wit::WalEvent {
    match e {
        WalEvent::Begin {
            final_lsn,
            xid,
            commit_time_us,
        } => wit::WalEvent::Begin(wit::Begin {
            final_lsn,
            xid,
            commit_time_us,
        }),
        WalEvent::Change { wal_start, data } => wit::WalEvent::Change((wal_start, data)),
        WalEvent::Commit {
            lsn,
            end_lsn,
            commit_time_us,
        } => wit::WalEvent::Commit(wit::Commit {
            lsn,
            end_lsn,
            commit_time_us,
        }),
        WalEvent::Message {
            transactional,
            lsn,
            prefix,
            content,
        } => wit::WalEvent::Message(wit::LogicalMessage {
            transactional,
            lsn,
            prefix,
            content,
        }),
        WalEvent::KeepAlive {
            wal_end,
            server_time_us,
        } => wit::WalEvent::Keepalive((wal_end, server_time_us)),
    }
}
