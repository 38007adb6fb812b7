use crate::broker::state::BrokerState;
use danube_core::proto::producer_service_server::ProducerService;
use danube_core::proto::{
    DispatchStrategy, MessageResponse, ProducerAccessMode, ProducerRequest, ProducerResponse,
    StreamMessage,
};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub(crate) struct ProducerHandler {
    state: Arc<BrokerState>,
}

impl ProducerHandler {
    pub(crate) fn new(state: &Arc<BrokerState>) -> Self {
        Self {
            state: Arc::clone(state),
        }
    }
}

#[tonic::async_trait]
impl ProducerService for ProducerHandler {
    async fn create_producer(
        &self,
        request: Request<ProducerRequest>,
    ) -> Result<Response<ProducerResponse>, Status> {
        self.state.check_serving()?;
        let req = request.into_inner();
        let strategy = DispatchStrategy::try_from(req.dispatch_strategy).map_err(|_| {
            Status::invalid_argument(format!(
                "unknown dispatch strategy {}",
                req.dispatch_strategy
            ))
        })?;
        let topic = self.state.topic_for_producer(&req.topic_name, strategy)?;
        let exclusive = req.producer_access_mode == ProducerAccessMode::Exclusive as i32;
        let (producer_id, new) =
            topic.add_producer(&req.producer_name, exclusive, || self.state.next_id())?;
        if new {
            self.state.add_producer(producer_id, topic);
        }
        Ok(Response::new(ProducerResponse {
            request_id: req.request_id,
            producer_id,
            producer_name: req.producer_name,
        }))
    }

    async fn send_message(
        &self,
        request: Request<StreamMessage>,
    ) -> Result<Response<MessageResponse>, Status> {
        self.state.check_serving()?;
        if self.state.refuses_publishes() {
            return Err(Status::unavailable("the broker refuses publishes"));
        }
        let message = request.into_inner();
        let producer_id = message
            .msg_id
            .as_ref()
            .map(|id| id.producer_id)
            .ok_or_else(|| Status::invalid_argument("the message has no msg_id"))?;
        let topic = self.state.producer_topic(producer_id).ok_or_else(|| {
            Status::not_found(format!("The producer with id {producer_id} does not exist"))
        })?;
        let request_id = message.request_id;
        if let Some(delay) = self.state.publish_delay(request_id) {
            tokio::time::sleep(delay).await;
        }
        topic.publish(message, producer_id);
        Ok(Response::new(MessageResponse { request_id }))
    }
}
