use crate::broker::names::namespace_of;
use crate::broker::state::BrokerState;
use danube_core::proto::discovery_server::Discovery;
use danube_core::proto::topic_lookup_response::LookupType;
use danube_core::proto::{TopicLookupRequest, TopicLookupResponse, TopicPartitionsResponse};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub(crate) struct DiscoveryHandler {
    state: Arc<BrokerState>,
}

impl DiscoveryHandler {
    pub(crate) fn new(state: &Arc<BrokerState>) -> Self {
        Self {
            state: Arc::clone(state),
        }
    }
}

#[tonic::async_trait]
impl Discovery for DiscoveryHandler {
    /// A single broker serves every topic, so a known topic is always
    /// "connect here".
    async fn topic_lookup(
        &self,
        request: Request<TopicLookupRequest>,
    ) -> Result<Response<TopicLookupResponse>, Status> {
        self.state.check_serving()?;
        let req = request.into_inner();
        namespace_of(&req.topic)?;
        if self.state.topic(&req.topic).is_none() {
            return Err(Status::not_found(format!(
                "Unable to find the requested topic: {}",
                req.topic
            )));
        }
        let url = self.state.url().to_owned();
        Ok(Response::new(TopicLookupResponse {
            request_id: req.request_id,
            response_type: LookupType::Connect.into(),
            connect_url: url.clone(),
            broker_url: url,
            proxy: false,
        }))
    }

    async fn topic_partitions(
        &self,
        request: Request<TopicLookupRequest>,
    ) -> Result<Response<TopicPartitionsResponse>, Status> {
        self.state.check_serving()?;
        let req = request.into_inner();
        namespace_of(&req.topic)?;
        Ok(Response::new(TopicPartitionsResponse {
            request_id: req.request_id,
            partitions: self.state.partitions(&req.topic),
        }))
    }
}
