//! Danube's gRPC services reached directly, with the same TLS and token as the connector's
//! client, for the calls the client only makes one at a time: `Ack` (its consumer takes
//! itself mutably) and `SendMessage` (its producer holds a lock across each round trip).
//! Channels are HTTP/2, so calls in flight at once share one connection per broker.

use super::connection::{Broker, BrokerTls};
use danube_client::errors::DanubeError as ClientError;
use std::collections::HashMap;
use std::sync::Mutex;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub struct Direct {
    /// Where calls go that do not name their broker.
    service_url: String,
    tls: Option<ClientTlsConfig>,
    bearer: Option<MetadataValue<Ascii>>,
    /// One channel per broker address, opened on first use.
    channels: Mutex<HashMap<String, Channel>>,
}

impl Direct {
    pub fn new(broker: &Broker) -> Result<Self, ClientError> {
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
            tls,
            bearer,
            channels: Mutex::new(HashMap::new()),
        })
    }

    /// The service URL the connector was configured with.
    pub fn service_url(&self) -> &str {
        &self.service_url
    }

    /// The channel to `broker_addr` (a message's broker; empty: the service URL).
    pub fn channel(&self, broker_addr: &str) -> Result<Channel, ClientError> {
        let url = if broker_addr.is_empty() {
            self.service_url.clone()
        } else if broker_addr.contains("://") {
            broker_addr.to_owned()
        } else {
            format!("http://{broker_addr}")
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

    /// `message` as a request carrying the connector's token.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(bearer) = &self.bearer {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
        }
        request
    }
}
