//! Logical replication sessions on pgwire-replication. Its worker reads the stream into a
//! bounded queue and, when the queue is full, stops reading but keeps sending standby
//! status, so the server neither times the session out nor sees progress that was not
//! confirmed.

use super::access::PostgresAccess;
use super::errors::PgError;
use super::sql::Target;
use futures::FutureExt;
use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, ReplicationEvent, TlsConfig};
use std::time::Duration;

/// Microseconds from the Unix epoch to Postgres' epoch (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

pub struct StreamSpec {
    pub slot: String,
    pub publications: Vec<String>,
    pub start_lsn: u64,
    pub messages: bool,
    pub status_interval: Duration,
}

/// A replication event, timestamps in microseconds since the Unix epoch.
#[derive(Debug)]
pub enum WalEvent {
    Begin {
        final_lsn: u64,
        xid: u32,
        commit_time_us: i64,
    },
    Change {
        wal_start: u64,
        data: Vec<u8>,
    },
    Commit {
        lsn: u64,
        end_lsn: u64,
        commit_time_us: i64,
    },
    Message {
        transactional: bool,
        lsn: u64,
        prefix: String,
        content: Vec<u8>,
    },
    KeepAlive {
        wal_end: u64,
        server_time_us: i64,
    },
}

pub struct ReplicationSession {
    client: ReplicationClient,
    started: bool,
    /// The highest LSN confirmed; confirmations never go back.
    confirmed: u64,
    /// Set once the stream ended: every later call reports it.
    ended: Option<PgError>,
}

impl ReplicationSession {
    /// Connects, authenticates and asks `IDENTIFY_SYSTEM`, so a bad password, a missing
    /// REPLICATION privilege or `wal_level` below logical surface here, not on `start`.
    pub async fn connect(
        access: &PostgresAccess,
        target: &Target,
        stream: StreamSpec,
    ) -> Result<Self, PgError> {
        if !stream.messages && stream.publications.is_empty() {
            return Err(PgError::Invalid("name at least one publication".into()));
        }
        let mut config = ReplicationConfig::new(
            target.host.clone(),
            target.user.clone(),
            target.password.clone().unwrap_or_default(),
            target.database.clone(),
            stream.slot,
            stream.publications,
        )
        .with_port(target.port)
        .with_start_lsn(Lsn(stream.start_lsn))
        .with_status_interval(stream.status_interval)
        .with_buffer_size(access.max_buffered)
        .with_application_name(
            target
                .application_name
                .clone()
                .unwrap_or_else(|| "danube-connect".into()),
        );
        if let Some(tls) = &access.tls {
            let mut t = TlsConfig::verify_full(tls.ca_file.clone());
            if let Some((cert, key)) = &tls.client_cert {
                t = t.with_client_cert(cert.clone(), key.clone());
            }
            config = config.with_tls(t);
        }
        let connecting = async {
            let mut client = ReplicationClient::connect_gated(config).await?;
            client.identify_system().await?;
            Ok::<_, pgwire_replication::PgWireError>(client)
        };
        let client = match tokio::time::timeout(target.timeout, connecting).await {
            Ok(client) => client?,
            Err(_) => {
                return Err(PgError::Connection(format!(
                    "no answer from {}:{} within {:?}",
                    target.host, target.port, target.timeout
                )));
            }
        };
        Ok(Self {
            client,
            started: false,
            confirmed: stream.start_lsn,
            ended: None,
        })
    }

    pub async fn command(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PgError> {
        if self.started {
            return Err(PgError::Invalid(
                "commands run before start, not while streaming".into(),
            ));
        }
        let rows = self.client.simple_query(sql).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
                    .collect()
            })
            .collect())
    }

    pub async fn start(&mut self) -> Result<(), PgError> {
        if self.started {
            return Err(PgError::Invalid("the stream is already started".into()));
        }
        self.client.start().await?;
        self.client.wait_started().await?;
        self.started = true;
        Ok(())
    }

    /// Up to `max` events, waiting at most `timeout` for the first one.
    pub async fn receive(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<WalEvent>, PgError> {
        if let Some(e) = &self.ended {
            return Err(e.clone());
        }
        if !self.started {
            return Err(PgError::Invalid("start the stream before receiving".into()));
        }
        let mut out = Vec::new();
        let first = match tokio::time::timeout(timeout, self.client.recv()).await {
            Err(_) => return Ok(out),
            Ok(event) => event,
        };
        self.take(first, &mut out)?;
        while out.len() < max.max(1) {
            let Some(next) = self.client.recv().now_or_never() else {
                break;
            };
            // What arrived before a failure is handed over; `take` kept the failure for the
            // next call.
            if self.take(next, &mut out).is_err() {
                break;
            }
        }
        Ok(out)
    }

    fn take(
        &mut self,
        event: pgwire_replication::Result<Option<ReplicationEvent>>,
        out: &mut Vec<WalEvent>,
    ) -> Result<(), PgError> {
        let event = match event {
            Ok(Some(event)) => event,
            Ok(None) => {
                let e = PgError::Connection("the server ended the replication stream".into());
                self.ended = Some(e.clone());
                return Err(e);
            }
            Err(e) => {
                let e = PgError::from(e);
                self.ended = Some(e.clone());
                return Err(e);
            }
        };
        if let Some(e) = wal_event(event) {
            out.push(e);
        }
        Ok(())
    }

    pub fn confirm(&mut self, lsn: u64) {
        if lsn > self.confirmed {
            self.confirmed = lsn;
            self.client.update_applied_lsn(Lsn(lsn));
        }
    }
}

impl Drop for ReplicationSession {
    fn drop(&mut self) {
        self.client.stop();
    }
}

fn wal_event(event: ReplicationEvent) -> Option<WalEvent> {
    Some(match event {
        ReplicationEvent::KeepAlive {
            wal_end,
            server_time_micros,
            ..
        } => WalEvent::KeepAlive {
            wal_end: wal_end.0,
            server_time_us: server_time_micros + PG_EPOCH_US,
        },
        ReplicationEvent::Begin {
            final_lsn,
            xid,
            commit_time_micros,
        } => WalEvent::Begin {
            final_lsn: final_lsn.0,
            xid,
            commit_time_us: commit_time_micros + PG_EPOCH_US,
        },
        ReplicationEvent::XLogData {
            wal_start, data, ..
        } => WalEvent::Change {
            wal_start: wal_start.0,
            data: data.to_vec(),
        },
        ReplicationEvent::Commit {
            lsn,
            end_lsn,
            commit_time_micros,
        } => WalEvent::Commit {
            lsn: lsn.0,
            end_lsn: end_lsn.0,
            commit_time_us: commit_time_micros + PG_EPOCH_US,
        },
        ReplicationEvent::Message {
            transactional,
            lsn,
            prefix,
            content,
        } => WalEvent::Message {
            transactional,
            lsn: lsn.0,
            prefix,
            content: content.to_vec(),
        },
        ReplicationEvent::StoppedAt { .. } => return None,
    })
}
