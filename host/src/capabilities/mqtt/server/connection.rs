//! One device's connection: CONNECT and credentials, then PUBLISH after PUBLISH into the
//! connector's inbox. A QoS 1 message is acknowledged (PUBACK) and a QoS 2 one received
//! (PUBREC) only when the connector acks it, i.e. after Danube persisted its record; until
//! then the device keeps it and sends it again after a reconnect.

use super::Core;
use super::registry::{Command, Link};
use super::wire::{self, Admit, Incoming, Outgoing, ReadError, Version};
use crate::capabilities::mqtt::Delivery;
use bytes::BytesMut;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long a client has to send its CONNECT.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

pub async fn serve<S>(core: Arc<Core>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (reader, writer) = tokio::io::split(stream);
    let mut conn = Connection {
        core,
        peer,
        reader,
        writer,
        buf: BytesMut::with_capacity(8 * 1024),
        out: BytesMut::new(),
        version: Version::V311,
        client_id: String::new(),
        in_flight: HashSet::new(),
        awaiting_release: HashSet::new(),
        aliases: HashMap::new(),
    };
    if let Err(why) = conn.run().await {
        tracing::debug!(
            connector = %conn.core.connector,
            peer = %conn.peer,
            client_id = conn.client_id,
            "MQTT connection closed: {why}"
        );
    }
}

struct Connection<R, W> {
    core: Arc<Core>,
    peer: SocketAddr,
    reader: R,
    writer: W,
    buf: BytesMut,
    out: BytesMut,
    version: Version,
    client_id: String,
    /// Packet ids handed to the connector and not yet acknowledged: a resent copy (DUP) of
    /// one of these is not handed over twice.
    in_flight: HashSet<u16>,
    /// QoS 2 packet ids received (PUBREC sent), waiting for the device's PUBREL.
    awaiting_release: HashSet<u16>,
    /// MQTT 5 topic aliases the device set up on this connection.
    aliases: HashMap<u16, String>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Connection<R, W> {
    async fn run(&mut self) -> Result<(), String> {
        let (keep_alive, session_present) =
            match tokio::time::timeout(CONNECT_WITHIN, self.handshake()).await {
                Ok(Ok(Some(admitted))) => admitted,
                Ok(Ok(None)) => return Ok(()),
                Ok(Err(why)) => return Err(why),
                Err(_) => return Err("no CONNECT within 10 s".into()),
            };
        let _permit = match self.core.connections.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                self.send(Outgoing::ConnAck {
                    admit: Admit::ServerBusy,
                    session_present: false,
                    receive_maximum: 0,
                    max_packet: 0,
                })
                .await?;
                return Err("max_connections reached".into());
            }
        };
        self.send(Outgoing::ConnAck {
            admit: Admit::Accepted,
            session_present,
            receive_maximum: self.core.settings.receive_maximum,
            max_packet: u32::try_from(self.core.settings.max_packet_bytes).unwrap_or(u32::MAX),
        })
        .await?;
        let (answers, mut commands) = mpsc::unbounded_channel();
        let link = Link {
            id: self.core.next_connection(),
            answers,
        };
        // The MQTT keep-alive is a promise to send something within it; 1.5 times is the
        // grace the specification gives before the server may close.
        let grace = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        let mut deadline = grace.map(|g| Instant::now() + g);
        loop {
            match wire::read(
                self.version,
                &mut self.buf,
                self.core.settings.max_packet_bytes,
            ) {
                Ok(packet) => {
                    deadline = grace.map(|g| Instant::now() + g);
                    if !self.handle(packet, &link).await? {
                        return Ok(());
                    }
                    continue;
                }
                Err(ReadError::Incomplete) => {}
                Err(ReadError::TooLarge) => {
                    let _ = self.send(Outgoing::Disconnect(0x95)).await;
                    return Err(format!(
                        "a packet larger than max_packet_bytes ({})",
                        self.core.settings.max_packet_bytes
                    ));
                }
                Err(ReadError::Malformed(why)) => {
                    let _ = self.send(Outgoing::Disconnect(0x82)).await;
                    return Err(why);
                }
            }
            let expired = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                read = self.reader.read_buf(&mut self.buf) => match read {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                },
                Some(command) = commands.recv() => {
                    // Acks come in bursts (a committed batch): one write for all that wait.
                    let mut next = Some(command);
                    while let Some(command) = next {
                        if let Err(why) = self.command(command) {
                            let _ = self.flush().await;
                            return Err(why);
                        }
                        next = commands.try_recv().ok();
                    }
                    self.flush().await?;
                }
                () = expired => {
                    let _ = self.send(Outgoing::Disconnect(0x8D)).await;
                    return Err(format!("nothing received within 1.5 × keep-alive ({keep_alive} s)"));
                }
            }
        }
    }

    /// Reads the CONNECT and checks credentials; the keep-alive and whether the device keeps
    /// its session, or `None` when refused.
    async fn handshake(&mut self) -> Result<Option<(u16, bool)>, String> {
        let Some(version) = self.read_until(|buf| wire::sniff(buf)).await? else {
            return Ok(None);
        };
        self.version = version;
        let max = self.core.settings.max_packet_bytes;
        let Some(packet) = self.read_until(|buf| wire::read(version, buf, max)).await? else {
            return Ok(None);
        };
        let Incoming::Connect(connect) = packet else {
            return Err("the first packet must be CONNECT".into());
        };
        self.client_id = connect.client_id;
        if !self.core.settings.admits(connect.login.as_ref()) {
            tracing::warn!(
                connector = %self.core.connector,
                peer = %self.peer,
                client_id = self.client_id,
                "MQTT client refused: bad username or password"
            );
            self.send(Outgoing::ConnAck {
                admit: Admit::BadCredentials,
                session_present: false,
                receive_maximum: 0,
                max_packet: 0,
            })
            .await?;
            return Ok(None);
        }
        Ok(Some((connect.keep_alive_secs, !connect.clean)))
    }

    /// Reads until `parse` finds what it wants at the front of the buffer; `None` when the
    /// client closed first.
    async fn read_until<T>(
        &mut self,
        parse: impl Fn(&mut BytesMut) -> Result<T, ReadError>,
    ) -> Result<Option<T>, String> {
        loop {
            match parse(&mut self.buf) {
                Ok(found) => return Ok(Some(found)),
                Err(ReadError::Incomplete) => {}
                Err(ReadError::TooLarge) => return Err("CONNECT too large".into()),
                Err(ReadError::Malformed(why)) => return Err(why),
            }
            let read = self.reader.read_buf(&mut self.buf).await;
            if read.map_err(|e| e.to_string())? == 0 {
                return Ok(None);
            }
        }
    }

    /// False when the device said goodbye.
    async fn handle(&mut self, packet: Incoming, link: &Link) -> Result<bool, String> {
        match packet {
            Incoming::Publish(p) => self.publish(p, link).await?,
            Incoming::PubRel(pkid) => {
                self.awaiting_release.remove(&pkid);
                self.send(Outgoing::PubComp(pkid)).await?;
            }
            Incoming::PingReq => self.send(Outgoing::PingResp).await?,
            Incoming::Disconnect => return Ok(false),
            Incoming::Connect(_) => return Err("a second CONNECT".into()),
            Incoming::Other(what) => {
                let _ = self.send(Outgoing::Disconnect(0x82)).await;
                return Err(format!(
                    "{what}: this endpoint only takes PUBLISH (it is an ingestion endpoint)"
                ));
            }
        }
        Ok(true)
    }

    async fn publish(&mut self, p: wire::Publish, link: &Link) -> Result<(), String> {
        let topic = match (p.topic.is_empty(), p.topic_alias) {
            (false, Some(alias)) => {
                self.aliases.insert(alias, p.topic.clone());
                p.topic
            }
            (false, None) => p.topic,
            (true, Some(alias)) => self
                .aliases
                .get(&alias)
                .cloned()
                .ok_or_else(|| format!("topic alias {alias} was never set"))?,
            (true, None) => return Err("a PUBLISH without a topic".into()),
        };
        if !rumqttc::valid_topic(&topic) {
            return Err(format!("\"{topic}\" is not a topic name"));
        }
        if p.qos > 0
            && (self.in_flight.contains(&p.pkid) || self.awaiting_release.contains(&p.pkid))
        {
            // A resent copy: the first is already with the connector (or safe, for QoS 2).
            tracing::debug!(
                connector = %self.core.connector,
                client_id = self.client_id,
                pkid = p.pkid,
                dup = p.dup,
                "a copy of a message in flight, not handed over again"
            );
            if self.awaiting_release.contains(&p.pkid) {
                self.send(Outgoing::Ack {
                    qos: 2,
                    pkid: p.pkid,
                    reason: 0,
                })
                .await?;
            }
            return Ok(());
        }
        if !self.core.wanted(&topic) {
            // Nothing maps this topic: like a broker with no subscriber, the message goes
            // nowhere; MQTT 5 devices are told so.
            self.core.unmatched(&topic);
            if p.qos > 0 {
                self.send(Outgoing::Ack {
                    qos: p.qos,
                    pkid: p.pkid,
                    reason: 0x10,
                })
                .await?;
                if p.qos == 2 {
                    self.awaiting_release.insert(p.pkid);
                }
            }
            return Ok(());
        }
        let ack_id = if p.qos > 0 {
            self.in_flight.insert(p.pkid);
            self.core.registry.issue(link, p.qos, p.pkid)
        } else {
            0
        };
        let delivery = Delivery {
            topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            dup: p.dup,
            ack_id,
            user_properties: p.user_properties,
            content_type: p.content_type,
            correlation_data: p.correlation_data,
            response_topic: p.response_topic,
        };
        // Waits while the connector's buffer is full, so a device cannot outrun Danube: TCP
        // pushes back on it meanwhile.
        self.core
            .inbox
            .send(delivery)
            .await
            .map_err(|_| "the connector is gone".to_string())
    }

    /// Queues what a command says to write; [`flush`](Self::flush) sends it.
    fn command(&mut self, command: Command) -> Result<(), String> {
        match command {
            Command::Send(out) => {
                if let Outgoing::Ack { qos, pkid, reason } = out {
                    self.in_flight.remove(&pkid);
                    // A failure reason in PUBREC ends the exchange: no PUBREL follows.
                    if qos == 2 && reason < 0x80 {
                        self.awaiting_release.insert(pkid);
                    }
                }
                wire::write(self.version, out, &mut self.out)
            }
            Command::Close => {
                let _ = wire::write(self.version, Outgoing::Disconnect(0x8B), &mut self.out);
                Err(
                    "the connector restarted; the device sends its unacknowledged messages again"
                        .into(),
                )
            }
        }
    }

    /// Writes `out` now, after anything queued.
    async fn send(&mut self, out: Outgoing) -> Result<(), String> {
        wire::write(self.version, out, &mut self.out)?;
        self.flush().await
    }

    async fn flush(&mut self) -> Result<(), String> {
        if self.out.is_empty() {
            return Ok(());
        }
        let written = self.writer.write_all(&self.out).await;
        self.out.clear();
        written.map_err(|e| e.to_string())?;
        self.writer.flush().await.map_err(|e| e.to_string())
    }
}
