use crate::broker::state::BrokerState;
use danube_core::proto::health_check_request::ClientType;
use danube_core::proto::health_check_response::ClientStatus;
use danube_core::proto::health_check_server::HealthCheck;
use danube_core::proto::{HealthCheckRequest, HealthCheckResponse};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub(crate) struct HealthHandler {
    state: Arc<BrokerState>,
}

impl HealthHandler {
    pub(crate) fn new(state: &Arc<BrokerState>) -> Self {
        Self {
            state: Arc::clone(state),
        }
    }
}

#[tonic::async_trait]
impl HealthCheck for HealthHandler {
    /// OK while the client is registered; CLOSE tells it to stop.
    async fn health_check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.state.check_serving()?;
        let req = request.into_inner();
        let known = match ClientType::try_from(req.client) {
            Ok(ClientType::Producer) => self.state.has_producer(req.id),
            Ok(ClientType::Consumer) => self.state.has_consumer(req.id),
            Err(_) => return Err(Status::invalid_argument("Invalid client type")),
        };
        let status = if known {
            ClientStatus::Ok
        } else {
            ClientStatus::Close
        };
        Ok(Response::new(HealthCheckResponse {
            status: status.into(),
        }))
    }
}
