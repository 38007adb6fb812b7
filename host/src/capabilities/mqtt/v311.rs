//! MQTT 3.1.1 through rumqttc.

use super::ack_ids::Pending;
use super::driver::{Event, EventSource};
use super::session::Delivery;
use rumqttc::{AsyncClient, ConnectionError, EventLoop, Packet, Publish, QoS, SubscribeFilter};

pub struct Source {
    pub events: EventLoop,
    pub client: AsyncClient,
}

impl EventSource for Source {
    async fn next(&mut self) -> Event {
        match self.events.poll().await {
            Ok(rumqttc::Event::Incoming(Packet::ConnAck(ack))) => Event::ConnAck {
                session_present: ack.session_present,
                refused: (ack.code != rumqttc::ConnectReturnCode::Success)
                    .then(|| refusal(&format!("{:?}", ack.code))),
            },
            Ok(rumqttc::Event::Incoming(Packet::Publish(p))) => publish(p),
            Ok(rumqttc::Event::Incoming(Packet::SubAck(s))) => Event::SubAck(
                s.return_codes
                    .iter()
                    .map(|c| match c {
                        rumqttc::SubscribeReasonCode::Success(q) => Some(*q as u8),
                        rumqttc::SubscribeReasonCode::Failure => None,
                    })
                    .collect(),
            ),
            Ok(rumqttc::Event::Outgoing(
                rumqttc::Outgoing::PubAck(_) | rumqttc::Outgoing::PubRec(_),
            )) => Event::AckWritten,
            Ok(_) => Event::Other,
            Err(ConnectionError::ConnectionRefused(code)) => Event::Error {
                message: refusal(&format!("{code:?}")),
                refused: true,
            },
            Err(e) => Event::Error {
                message: e.to_string(),
                refused: false,
            },
        }
    }

    fn resubscribe(&self, filters: &[(String, u8)]) {
        let _ = self.client.try_subscribe_many(subscribe_filters(filters));
    }
}

fn publish(p: Publish) -> Event {
    let pending = (p.qos != QoS::AtMostOnce).then_some(Pending {
        qos: p.qos as u8,
        pkid: p.pkid,
    });
    Event::Publish(
        Delivery {
            topic: p.topic,
            payload: p.payload.to_vec(),
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            ack_id: 0,
            user_properties: Vec::new(),
            content_type: None,
            correlation_data: None,
            response_topic: None,
        },
        pending,
    )
}

pub fn subscribe_filters(filters: &[(String, u8)]) -> Vec<SubscribeFilter> {
    filters
        .iter()
        .map(|(f, q)| SubscribeFilter::new(f.clone(), qos(*q)))
        .collect()
}

pub fn qos(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

pub fn ack_packet(p: Pending) -> Publish {
    let mut publish = Publish::new("", qos(p.qos), Vec::new());
    publish.pkid = p.pkid;
    publish
}

/// The broker's reason in words an operator acts on.
pub fn refusal(code: &str) -> String {
    let why = match code {
        "BadUserNamePassword" => "bad user name or password",
        "NotAuthorized" => "not authorized (check the user name and password)",
        "BadClientId" | "ClientIdentifierNotValid" => "client id rejected",
        "RefusedProtocolVersion" | "UnsupportedProtocolVersion" => "protocol version not supported",
        "ServiceUnavailable" | "ServerUnavailable" | "ServerBusy" => "broker unavailable",
        "Banned" => "client banned",
        other => other,
    };
    format!("the broker refused the connection: {why}")
}
