//! An MQTT device for tests: publishes through rumqttc (3.1.1 or 5) and counts what the broker
//! confirmed, so a test knows every message reached Mosquitto.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

pub use rumqttc::QoS;

enum Client {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

pub struct Device {
    client: Client,
    confirmed: Arc<AtomicU64>,
    /// MQTT 5 reason codes of acknowledgements that were not a plain success.
    reasons: Arc<std::sync::Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

/// MQTT 5 properties a device may attach.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    pub user: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
}

fn host_port(url: &str) -> (String, u16) {
    let rest = url.trim_start_matches("mqtt://");
    let (host, port) = rest.rsplit_once(':').expect("mqtt://host:port");
    (host.to_string(), port.parse().expect("port"))
}

/// How a device connects, beyond its URL and client id.
#[derive(Debug, Clone, Default)]
pub struct DeviceOptions {
    pub v5: bool,
    /// Keep the session: unacknowledged messages are sent again after a reconnect.
    pub persistent: bool,
    pub login: Option<(String, String)>,
    /// Publishes the client queues before its event loop takes them. rumqttc moves what is
    /// queued at a disconnect in front of its retransmissions, and past a second packet-id
    /// collision it then drops a message; a device that must survive its server going away
    /// queues nothing (0), as rumqttc advises.
    pub queue: usize,
}

impl Device {
    pub async fn connect(url: &str, client_id: &str, v5: bool) -> Self {
        Self::connect_with(
            url,
            client_id,
            DeviceOptions {
                v5,
                queue: 1000,
                ..DeviceOptions::default()
            },
        )
        .await
    }

    pub async fn connect_with(url: &str, client_id: &str, options: DeviceOptions) -> Self {
        let (host, port) = host_port(url);
        let v5 = options.v5;
        let confirmed = Arc::new(AtomicU64::new(0));
        let counter = confirmed.clone();
        let reasons = Arc::new(std::sync::Mutex::new(Vec::new()));
        let heard = reasons.clone();
        let (client, task) = if v5 {
            let mut o = rumqttc::v5::MqttOptions::new(client_id, host, port);
            o.set_keep_alive(Duration::from_secs(30))
                .set_clean_start(!options.persistent);
            if let Some((user, password)) = &options.login {
                o.set_credentials(user, password);
            }
            let (client, mut events) = rumqttc::v5::AsyncClient::new(o, options.queue);
            let task = tokio::spawn(async move {
                use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, PubRecReason};
                let note = |reason: String| {
                    if let Ok(mut r) = heard.lock() {
                        r.push(reason);
                    }
                };
                loop {
                    match events.poll().await {
                        Ok(rumqttc::v5::Event::Incoming(Packet::PubAck(ack))) => {
                            if ack.reason != PubAckReason::Success {
                                note(format!("{:?}", ack.reason));
                            }
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(rumqttc::v5::Event::Incoming(Packet::PubRec(rec)))
                            if rec.reason != PubRecReason::Success =>
                        {
                            // A failed PUBREC ends the exchange: no PUBCOMP follows.
                            note(format!("{:?}", rec.reason));
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(rumqttc::v5::Event::Incoming(Packet::PubComp(_))) => {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            });
            (Client::V5(client), task)
        } else {
            let mut o = rumqttc::MqttOptions::new(client_id, host, port);
            o.set_keep_alive(Duration::from_secs(30))
                .set_inflight(200)
                .set_clean_session(!options.persistent);
            if let Some((user, password)) = &options.login {
                o.set_credentials(user, password);
            }
            let (client, mut events) = rumqttc::AsyncClient::new(o, options.queue);
            let task = tokio::spawn(async move {
                use rumqttc::Packet;
                loop {
                    match events.poll().await {
                        Ok(rumqttc::Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_))) => {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            });
            (Client::V311(client), task)
        };
        Self {
            client,
            confirmed,
            reasons,
            task,
        }
    }

    pub async fn publish(&self, topic: &str, qos: QoS, payload: impl Into<Vec<u8>>) {
        self.publish_with(topic, qos, payload, Properties::default())
            .await
    }

    /// Properties are sent only over MQTT 5.
    pub async fn publish_with(
        &self,
        topic: &str,
        qos: QoS,
        payload: impl Into<Vec<u8>>,
        props: Properties,
    ) {
        let payload: Vec<u8> = payload.into();
        match &self.client {
            Client::V311(c) => c
                .publish(topic, qos, false, payload)
                .await
                .expect("publish"),
            Client::V5(c) => {
                use rumqttc::v5::mqttbytes::v5::PublishProperties;
                let qos = match qos {
                    QoS::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
                    QoS::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                    QoS::ExactlyOnce => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
                };
                let properties = PublishProperties {
                    user_properties: props.user,
                    content_type: props.content_type,
                    correlation_data: props.correlation_data.map(Into::into),
                    ..Default::default()
                };
                c.publish_with_properties(topic, qos, false, payload, properties)
                    .await
                    .expect("publish")
            }
        }
    }

    /// MQTT 5: the reason codes of acknowledgements that were not a plain success, e.g.
    /// `PayloadFormatInvalid`.
    pub fn reasons(&self) -> Vec<String> {
        self.reasons.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// QoS 1/2 messages the broker confirmed so far.
    pub fn confirmed(&self) -> u64 {
        self.confirmed.load(Ordering::SeqCst)
    }

    /// Wait until the broker confirmed `n` QoS 1/2 messages.
    pub async fn wait_confirmed(&self, n: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.confirmed() < n {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}
