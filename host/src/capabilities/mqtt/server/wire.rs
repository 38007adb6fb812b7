//! The MQTT wire for the embedded server, over rumqttc's packet codecs: which protocol a
//! client speaks (from its CONNECT), the packets a publish-only ingestion endpoint reads, and
//! the answers it writes, in 3.1.1 or 5.

use bytes::BytesMut;
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

/// What a client sent, as the server needs it.
#[derive(Debug)]
pub enum Incoming {
    Connect(Connect),
    Publish(Publish),
    PubRel(u16),
    PingReq,
    Disconnect,
    /// Anything else (SUBSCRIBE, acks of publishes it never got): this endpoint only ingests.
    Other(&'static str),
}

#[derive(Debug)]
pub struct Connect {
    pub client_id: String,
    /// Clean session (3.1.1) / clean start (5).
    pub clean: bool,
    pub keep_alive_secs: u16,
    pub login: Option<(String, String)>,
}

#[derive(Debug)]
pub struct Publish {
    pub topic: String,
    /// MQTT 5: the alias the topic is sent under, or stands for when `topic` is empty.
    pub topic_alias: Option<u16>,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub pkid: u16,
    pub user_properties: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub response_topic: Option<String>,
}

/// Why a packet could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Not all of it has arrived yet.
    Incomplete,
    TooLarge,
    Malformed(String),
}

/// The protocol of a CONNECT at the front of `buf`, once enough of it arrived: the level byte
/// after the fixed header and the protocol name (4: 3.1.1, 5: 5).
pub fn sniff(buf: &[u8]) -> Result<Version, ReadError> {
    let Some(&first) = buf.first() else {
        return Err(ReadError::Incomplete);
    };
    if first >> 4 != 1 {
        return Err(ReadError::Malformed(
            "the first packet must be CONNECT".into(),
        ));
    }
    // Remaining length: 1 to 4 bytes, 7 bits each.
    let mut at = 1;
    loop {
        let Some(&b) = buf.get(at) else {
            return Err(ReadError::Incomplete);
        };
        at += 1;
        if b & 0x80 == 0 {
            break;
        }
        if at > 4 {
            return Err(ReadError::Malformed("bad remaining length".into()));
        }
    }
    // Protocol name ("MQTT", length-prefixed), then the level.
    let name_len = match (buf.get(at), buf.get(at + 1)) {
        (Some(&h), Some(&l)) => usize::from(u16::from_be_bytes([h, l])),
        _ => return Err(ReadError::Incomplete),
    };
    match buf.get(at + 2 + name_len) {
        None => Err(ReadError::Incomplete),
        Some(4) => Ok(Version::V311),
        Some(5) => Ok(Version::V5),
        Some(level) => Err(ReadError::Malformed(format!(
            "protocol level {level} (3.1.1 and 5 are served)"
        ))),
    }
}

/// The next whole packet at the front of `buf`.
pub fn read(version: Version, buf: &mut BytesMut, max: usize) -> Result<Incoming, ReadError> {
    match version {
        Version::V311 => match v4::Packet::read(buf, max) {
            Ok(p) => Ok(from_v4(p)),
            Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => Err(ReadError::Incomplete),
            Err(rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(_)) => Err(ReadError::TooLarge),
            Err(e) => Err(ReadError::Malformed(e.to_string())),
        },
        Version::V5 => {
            // A v5 DISCONNECT may carry no reason; the codec wants one, so it is read here.
            if buf.len() >= 2 && buf[0] == 0xE0 && buf[1] == 0 {
                let _ = buf.split_to(2);
                return Ok(Incoming::Disconnect);
            }
            match v5::Packet::read(buf, u32::try_from(max).ok()) {
                Ok(p) => Ok(from_v5(p)),
                Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => {
                    Err(ReadError::Incomplete)
                }
                Err(rumqttc::v5::mqttbytes::Error::PayloadSizeLimitExceeded { .. }) => {
                    Err(ReadError::TooLarge)
                }
                Err(e) => Err(ReadError::Malformed(e.to_string())),
            }
        }
    }
}

fn qos_v4(q: rumqttc::QoS) -> u8 {
    q as u8
}

fn from_v4(p: v4::Packet) -> Incoming {
    match p {
        v4::Packet::Connect(c) => Incoming::Connect(Connect {
            client_id: c.client_id,
            clean: c.clean_session,
            keep_alive_secs: c.keep_alive,
            login: c.login.map(|l| (l.username, l.password)),
        }),
        v4::Packet::Publish(p) => Incoming::Publish(Publish {
            topic: p.topic,
            topic_alias: None,
            payload: p.payload.to_vec(),
            qos: qos_v4(p.qos),
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            user_properties: Vec::new(),
            content_type: None,
            correlation_data: None,
            response_topic: None,
        }),
        v4::Packet::PubRel(r) => Incoming::PubRel(r.pkid),
        v4::Packet::PingReq => Incoming::PingReq,
        v4::Packet::Disconnect => Incoming::Disconnect,
        v4::Packet::Subscribe(_) => Incoming::Other("SUBSCRIBE"),
        _ => Incoming::Other("a packet a client does not send to this endpoint"),
    }
}

fn from_v5(p: v5::Packet) -> Incoming {
    match p {
        v5::Packet::Connect(c, _will, login) => Incoming::Connect(Connect {
            client_id: c.client_id,
            clean: c.clean_start,
            keep_alive_secs: c.keep_alive,
            login: login.map(|l| (l.username, l.password)),
        }),
        v5::Packet::Publish(p) => {
            let props = p.properties.unwrap_or_default();
            Incoming::Publish(Publish {
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                topic_alias: props.topic_alias,
                payload: p.payload.to_vec(),
                qos: p.qos as u8,
                retain: p.retain,
                dup: p.dup,
                pkid: p.pkid,
                user_properties: props.user_properties,
                content_type: props.content_type,
                correlation_data: props.correlation_data.map(|d| d.to_vec()),
                response_topic: props.response_topic,
            })
        }
        v5::Packet::PubRel(r) => Incoming::PubRel(r.pkid),
        v5::Packet::PingReq(_) => Incoming::PingReq,
        v5::Packet::Disconnect(_) => Incoming::Disconnect,
        v5::Packet::Subscribe(_) => Incoming::Other("SUBSCRIBE"),
        _ => Incoming::Other("a packet a client does not send to this endpoint"),
    }
}

/// How a CONNECT is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Accepted,
    BadCredentials,
    ServerBusy,
}

/// What the server writes.
#[derive(Debug, Clone, Copy)]
pub enum Outgoing {
    ConnAck {
        admit: Admit,
        /// Said for a device that asked to keep its session: it then sends again what it
        /// holds unacknowledged (an ingestion endpoint keeps no other state that matters).
        session_present: bool,
        receive_maximum: u16,
        max_packet: u32,
    },
    /// The record is safe: PUBACK (QoS 1) or PUBREC (QoS 2).
    Ack {
        qos: u8,
        pkid: u16,
        /// MQTT 5 reason code: 0 success, 0x10 no matching subscribers, 0x99 payload format
        /// invalid.
        reason: u8,
    },
    PubComp(u16),
    PingResp,
    /// MQTT 5 only (3.1.1 just closes): 0x95 packet too large, 0x8D keep-alive timeout…
    Disconnect(u8),
}

pub fn write(version: Version, out: Outgoing, buf: &mut BytesMut) -> Result<(), String> {
    let written = match version {
        Version::V311 => {
            v4_packet(out).map(|p| p.write(buf, usize::MAX).map_err(|e| e.to_string()))
        }
        Version::V5 => v5_packet(out).map(|p| p.write(buf, None).map_err(|e| e.to_string())),
    };
    match written {
        None | Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(e),
    }
}

fn v4_packet(out: Outgoing) -> Option<v4::Packet> {
    use rumqttc::mqttbytes::v4::ConnectReturnCode as Code;
    Some(match out {
        Outgoing::ConnAck {
            admit,
            session_present,
            ..
        } => v4::Packet::ConnAck(v4::ConnAck::new(
            match admit {
                Admit::Accepted => Code::Success,
                Admit::BadCredentials => Code::BadUserNamePassword,
                Admit::ServerBusy => Code::ServiceUnavailable,
            },
            session_present && admit == Admit::Accepted,
        )),
        Outgoing::Ack { qos: 2, pkid, .. } => v4::Packet::PubRec(v4::PubRec::new(pkid)),
        Outgoing::Ack { pkid, .. } => v4::Packet::PubAck(v4::PubAck::new(pkid)),
        Outgoing::PubComp(pkid) => v4::Packet::PubComp(v4::PubComp::new(pkid)),
        Outgoing::PingResp => v4::Packet::PingResp,
        Outgoing::Disconnect(_) => return None,
    })
}

fn v5_packet(out: Outgoing) -> Option<v5::Packet> {
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as Code;
    Some(match out {
        Outgoing::ConnAck {
            admit,
            session_present,
            receive_maximum,
            max_packet,
        } => v5::Packet::ConnAck(v5::ConnAck {
            session_present: session_present && admit == Admit::Accepted,
            code: match admit {
                Admit::Accepted => Code::Success,
                Admit::BadCredentials => Code::BadUserNamePassword,
                Admit::ServerBusy => Code::ServerBusy,
            },
            properties: Some(v5::ConnAckProperties {
                session_expiry_interval: None,
                receive_max: Some(receive_maximum),
                max_qos: None,
                // No retained messages or subscriptions here: this endpoint only ingests.
                retain_available: Some(0),
                max_packet_size: Some(max_packet),
                assigned_client_identifier: None,
                topic_alias_max: Some(u16::MAX),
                reason_string: None,
                user_properties: Vec::new(),
                wildcard_subscription_available: Some(0),
                subscription_identifiers_available: Some(0),
                shared_subscription_available: Some(0),
                server_keep_alive: None,
                response_information: None,
                server_reference: None,
                authentication_method: None,
                authentication_data: None,
            }),
        }),
        Outgoing::Ack {
            qos: 2,
            pkid,
            reason,
        } => {
            let mut rec = v5::PubRec::new(pkid, None);
            rec.reason = match reason {
                0x10 => v5::PubRecReason::NoMatchingSubscribers,
                0x99 => v5::PubRecReason::PayloadFormatInvalid,
                _ => v5::PubRecReason::Success,
            };
            v5::Packet::PubRec(rec)
        }
        Outgoing::Ack { pkid, reason, .. } => {
            let mut ack = v5::PubAck::new(pkid, None);
            ack.reason = match reason {
                0x10 => v5::PubAckReason::NoMatchingSubscribers,
                0x99 => v5::PubAckReason::PayloadFormatInvalid,
                _ => v5::PubAckReason::Success,
            };
            v5::Packet::PubAck(ack)
        }
        Outgoing::PubComp(pkid) => v5::Packet::PubComp(v5::PubComp::new(pkid, None)),
        Outgoing::PingResp => v5::Packet::PingResp(v5::PingResp),
        Outgoing::Disconnect(code) => v5::Packet::Disconnect(v5::Disconnect {
            reason_code: match code {
                0x95 => v5::DisconnectReasonCode::PacketTooLarge,
                0x8D => v5::DisconnectReasonCode::KeepAliveTimeout,
                0x82 => v5::DisconnectReasonCode::ProtocolError,
                0x8B => v5::DisconnectReasonCode::ServerShuttingDown,
                _ => v5::DisconnectReasonCode::UnspecifiedError,
            },
            properties: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_bytes(version: Version) -> BytesMut {
        let mut buf = BytesMut::new();
        match version {
            Version::V311 => {
                let mut c = v4::Connect::new("dev-1");
                c.keep_alive = 30;
                c.set_login("u", "p");
                v4::Packet::Connect(c)
                    .write(&mut buf, 1 << 20)
                    .expect("write");
            }
            Version::V5 => {
                let c = v5::Connect {
                    keep_alive: 30,
                    client_id: "dev-1".into(),
                    clean_start: true,
                    properties: None,
                };
                v5::Packet::Connect(c, None, Some(v5::Login::new("u", "p")))
                    .write(&mut buf, None)
                    .expect("write");
            }
        }
        buf
    }

    #[test]
    fn the_protocol_is_read_from_the_connect() {
        for version in [Version::V311, Version::V5] {
            let mut buf = connect_bytes(version);
            assert_eq!(sniff(&buf[..3]).err().map(|_| ()), Some(()), "partial");
            assert_eq!(sniff(&buf).ok(), Some(version));
            match read(version, &mut buf, 1 << 20) {
                Ok(Incoming::Connect(c)) => {
                    assert_eq!(c.client_id, "dev-1");
                    assert_eq!(c.keep_alive_secs, 30);
                    assert_eq!(c.login, Some(("u".into(), "p".into())));
                }
                other => panic!("{other:?}"),
            }
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn a_publish_over_the_limit_is_too_large() {
        let mut buf = BytesMut::new();
        let mut publish = v4::Publish::new("t", rumqttc::QoS::AtLeastOnce, vec![0u8; 2000]);
        publish.pkid = 1;
        v4::Packet::Publish(publish)
            .write(&mut buf, 1 << 20)
            .expect("write");
        assert!(matches!(
            read(Version::V311, &mut buf, 1000),
            Err(ReadError::TooLarge)
        ));
    }

    #[test]
    fn answers_are_written_in_either_protocol() {
        for version in [Version::V311, Version::V5] {
            let mut buf = BytesMut::new();
            for out in [
                Outgoing::ConnAck {
                    admit: Admit::Accepted,
                    session_present: true,
                    receive_maximum: 100,
                    max_packet: 1 << 20,
                },
                Outgoing::Ack {
                    qos: 1,
                    pkid: 7,
                    reason: 0,
                },
                Outgoing::Ack {
                    qos: 2,
                    pkid: 8,
                    reason: 0,
                },
                Outgoing::PubComp(8),
                Outgoing::PingResp,
            ] {
                write(version, out, &mut buf).expect("written");
            }
            assert!(buf.len() > 10, "{version:?}");
        }
    }
}
