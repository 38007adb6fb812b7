//! Acknowledgements straight over Danube's gRPC `Ack`, several in flight at once. The client's
//! `Consumer::ack` takes the consumer mutably and awaits each round trip in turn; the broker
//! only dispatches more once acks arrive, so serial acks cap a subscription at one message per
//! round trip once its small window is full.

use super::connection::Broker;
use crate::client::direct::Direct;
use danube_client::errors::DanubeError as ClientError;
use danube_core::message::StreamMessage;
use danube_core::proto::AckRequest;
use danube_core::proto::consumer_service_client::ConsumerServiceClient;
use std::future::Future;

pub struct AckSender {
    direct: Direct,
    subscription: String,
}

impl AckSender {
    pub fn new(broker: &Broker, subscription: &str) -> Result<Self, ClientError> {
        Ok(Self {
            direct: Direct::new(broker)?,
            subscription: subscription.to_owned(),
        })
    }

    /// Acknowledge `m` at the broker that delivered it; the returned future owns what it
    /// needs, so many can be in flight.
    pub fn ack(
        &self,
        m: &StreamMessage,
    ) -> impl Future<Output = Result<(), ClientError>> + Send + 'static {
        let request = self.direct.request(AckRequest {
            request_id: m.request_id,
            msg_id: Some(m.msg_id.clone().into()),
            subscription_name: self.subscription.clone(),
        });
        let channel = self.direct.channel(&m.msg_id.broker_addr);
        async move {
            let mut client = ConsumerServiceClient::new(channel?);
            client
                .ack(request)
                .await
                .map(|_| ())
                .map_err(ClientError::FromStatus)
        }
    }
}
