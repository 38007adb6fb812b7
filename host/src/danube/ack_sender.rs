//! Acknowledgements straight over Danube's gRPC `Ack`, several in flight at once. The client's
//! `Consumer::ack` takes the consumer mutably and awaits each round trip in turn; the broker
//! only dispatches more once acks arrive, so serial acks cap a subscription at one message per
//! round trip once its small window is full.

use super::connection::{Broker, BrokerTls};
use danube_client::errors::DanubeError as ClientError;
use danube_core::message::StreamMessage;
use danube_core::proto::AckRequest;
use danube_core::proto::consumer_service_client::ConsumerServiceClient;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub struct AckSender {
    /// Where messages that do not name their broker are acknowledged.
    service_url: String,
    subscription: String,
    /// The same TLS and token as the connector's client.
    tls: Option<ClientTlsConfig>,
    bearer: Option<MetadataValue<tonic::metadata::Ascii>>,
    /// One channel per broker address, opened on first use (HTTP/2: acks share it).
    channels: Mutex<HashMap<String, Channel>>,
}

impl AckSender {
    pub fn new(broker: &Broker, subscription: &str) -> Result<Self, ClientError> {
        let tls = match &broker.tls {
            Some(BrokerTls { ca, identity }) => {
                let mut tls = ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(std::fs::read(ca)?));
                if let Some((cert, key)) = identity {
                    tls = tls.identity(Identity::from_pem(
                        std::fs::read(cert)?,
                        std::fs::read(key)?,
                    ));
                }
                Some(tls)
            }
            // A token alone means TLS configured as the client configures it.
            None if broker.token.is_some() => Some(ClientTlsConfig::new()),
            None => None,
        };
        let bearer = match &broker.token {
            Some(token) => Some(
                MetadataValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| ClientError::InvalidToken)?,
            ),
            None => None,
        };
        Ok(Self {
            service_url: broker.url.clone(),
            subscription: subscription.to_owned(),
            tls,
            bearer,
            channels: Mutex::new(HashMap::new()),
        })
    }

    /// The channel to the broker that delivered `m`.
    fn channel(&self, m: &StreamMessage) -> Result<Channel, ClientError> {
        let addr = &m.msg_id.broker_addr;
        let url = if addr.is_empty() {
            self.service_url.clone()
        } else if addr.contains("://") {
            addr.clone()
        } else {
            format!("http://{addr}")
        };
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(channel) = channels.get(&url) {
            return Ok(channel.clone());
        }
        let mut endpoint = Endpoint::from_shared(url.clone())?;
        if let Some(tls) = &self.tls {
            endpoint = endpoint.tls_config(tls.clone())?;
        }
        let channel = endpoint.connect_lazy();
        channels.insert(url, channel.clone());
        Ok(channel)
    }

    /// Acknowledge `m`; the returned future owns what it needs, so many can be in flight.
    pub fn ack(
        &self,
        m: &StreamMessage,
    ) -> impl Future<Output = Result<(), ClientError>> + Send + 'static {
        let mut request = tonic::Request::new(AckRequest {
            request_id: m.request_id,
            msg_id: Some(m.msg_id.clone().into()),
            subscription_name: self.subscription.clone(),
        });
        if let Some(bearer) = &self.bearer {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
        }
        let channel = self.channel(m);
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
