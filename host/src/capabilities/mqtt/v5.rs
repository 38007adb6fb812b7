//! MQTT 5 through rumqttc, with the properties connectors see: user properties, content type,
//! correlation data, response topic.

use super::ack_ids::Pending;
use super::driver::{Event, EventSource};
use super::session::Delivery;
use super::v311::refusal;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, ConnectionError, EventLoop};

pub struct Source {
    pub events: EventLoop,
    pub client: AsyncClient,
}

impl EventSource for Source {
    async fn next(&mut self) -> Event {
        match self.events.poll().await {
            Ok(rumqttc::v5::Event::Incoming(Packet::ConnAck(ack))) => Event::ConnAck {
                session_present: ack.session_present,
                refused: (ack.code != rumqttc::v5::mqttbytes::v5::ConnectReturnCode::Success)
                    .then(|| refusal(&format!("{:?}", ack.code))),
            },
            Ok(rumqttc::v5::Event::Incoming(Packet::Publish(p))) => publish(p),
            Ok(rumqttc::v5::Event::Incoming(Packet::SubAck(s))) => Event::SubAck(
                s.return_codes
                    .iter()
                    .map(|c| match c {
                        SubscribeReasonCode::Success(q) => Some(*q as u8),
                        _ => None,
                    })
                    .collect(),
            ),
            Ok(rumqttc::v5::Event::Outgoing(
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
    let props = p.properties.unwrap_or_default();
    Event::Publish(
        Delivery {
            topic: String::from_utf8_lossy(&p.topic).into_owned(),
            payload: p.payload.to_vec(),
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            ack_id: 0,
            user_properties: props.user_properties,
            content_type: props.content_type,
            correlation_data: props.correlation_data.map(|b| b.to_vec()),
            response_topic: props.response_topic,
        },
        pending,
    )
}

pub fn subscribe_filters(filters: &[(String, u8)]) -> Vec<Filter> {
    filters
        .iter()
        .map(|(f, q)| Filter::new(f.clone(), qos(*q)))
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
    let mut publish = Publish::new("", qos(p.qos), Vec::new(), None);
    publish.pkid = p.pkid;
    publish
}
