//! Sends to a producer that danube-client created, without the client's per-producer lock:
//! asking the broker to create a producer of the same name on the same topic answers the
//! existing producer's id (the broker treats it as a reconnect), and `SendMessage` calls for
//! that id may then be in flight together. The client still creates the topic and the
//! producer, with everything its options imply; this only takes over the sends.

use super::lane::Outgoing;
use crate::client::direct::Direct;
use crate::client::{DanubeError, Timeouts};
use danube_client::errors::DanubeError as ClientError;
use danube_core::proto::producer_service_client::ProducerServiceClient;
use danube_core::proto::{
    DispatchStrategy, MsgId, ProducerAccessMode, ProducerRequest, StreamMessage,
};
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;

pub struct DirectProducer {
    direct: Arc<Direct>,
    channel: Channel,
    producer_id: u64,
    topic: Arc<str>,
    name: String,
    next_request: u64,
}

impl DirectProducer {
    /// Take over the sends of the producer `name` on `topic`, already created by the client.
    pub async fn attach(
        direct: Arc<Direct>,
        topic: Arc<str>,
        name: String,
        reliable: bool,
        timeouts: Timeouts,
    ) -> Result<Self, DanubeError> {
        let what = || format!("attaching to the producer {name} of {topic}");
        let channel = direct.channel("").map_err(|source| DanubeError::Client {
            what: what(),
            source,
        })?;
        let strategy = if reliable {
            DispatchStrategy::Reliable
        } else {
            DispatchStrategy::NonReliable
        };
        let request = direct.request(ProducerRequest {
            request_id: 0,
            producer_name: name.clone(),
            topic_name: topic.to_string(),
            schema_ref: None,
            producer_access_mode: ProducerAccessMode::Shared.into(),
            dispatch_strategy: strategy.into(),
        });
        let mut client = ProducerServiceClient::new(channel.clone());
        let created = timeouts
            .run(what, async {
                client
                    .create_producer(request)
                    .await
                    .map_err(ClientError::FromStatus)
            })
            .await?;
        Ok(Self {
            direct,
            channel,
            producer_id: created.into_inner().producer_id,
            topic,
            name,
            next_request: 1,
        })
    }

    /// Publish `record`; the returned future owns what it needs, so many can be in flight.
    pub fn send(
        &mut self,
        record: &Outgoing,
    ) -> impl Future<Output = Result<(), ClientError>> + Send + 'static {
        let publish_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let request = self.direct.request(StreamMessage {
            request_id: self.next_request,
            msg_id: Some(MsgId {
                producer_id: self.producer_id,
                topic_name: self.topic.to_string(),
                broker_addr: self.direct.service_url().to_owned(),
                topic_offset: 0,
            }),
            payload: record.payload.clone(),
            publish_time,
            producer_name: self.name.clone(),
            subscription_name: String::new(),
            attributes: record.attributes.clone(),
            schema_id: None,
            schema_version: None,
            routing_key: record.key.clone(),
        });
        self.next_request += 1;
        let mut client = ProducerServiceClient::new(self.channel.clone());
        async move {
            client
                .send_message(request)
                .await
                .map(|_| ())
                .map_err(ClientError::FromStatus)
        }
    }
}
