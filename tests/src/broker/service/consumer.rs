use crate::broker::names::namespace_of;
use crate::broker::state::{BrokerState, ConsumerEntry};
use crate::broker::stream::ConsumerStream;
use crate::broker::subscription::SubKind;
use danube_core::proto::consumer_service_server::ConsumerService;
use danube_core::proto::{
    AckRequest, AckResponse, ConsumerRequest, ConsumerResponse, MsgId, NackRequest, NackResponse,
    ReceiveRequest,
};
use std::sync::Arc;
use std::time::Duration;
use tonic::{Request, Response, Status};

pub(crate) struct ConsumerHandler {
    state: Arc<BrokerState>,
}

impl ConsumerHandler {
    pub(crate) fn new(state: &Arc<BrokerState>) -> Self {
        Self {
            state: Arc::clone(state),
        }
    }
}

#[tonic::async_trait]
impl ConsumerService for ConsumerHandler {
    type ReceiveMessagesStream = ConsumerStream;

    async fn subscribe(
        &self,
        request: Request<ConsumerRequest>,
    ) -> Result<Response<ConsumerResponse>, Status> {
        self.state.check_serving()?;
        let req = request.into_inner();
        namespace_of(&req.topic_name)?;
        let kind = SubKind::from_wire(req.subscription_type).ok_or_else(|| {
            Status::invalid_argument(format!(
                "unknown subscription type {}",
                req.subscription_type
            ))
        })?;
        if req.subscription.is_empty() {
            return Err(Status::invalid_argument("the subscription name is empty"));
        }
        // Only producers create topics.
        let topic = self.state.existing_topic(&req.topic_name)?;
        let consumer_id = topic.subscribe(
            &req.subscription,
            &req.consumer_name,
            kind,
            req.key_filters,
            || self.state.next_id(),
        )?;
        self.state.add_consumer(
            consumer_id,
            ConsumerEntry {
                topic,
                subscription: req.subscription,
            },
        );
        Ok(Response::new(ConsumerResponse {
            request_id: req.request_id,
            consumer_id,
            consumer_name: req.consumer_name,
        }))
    }

    async fn receive_messages(
        &self,
        request: Request<ReceiveRequest>,
    ) -> Result<Response<Self::ReceiveMessagesStream>, Status> {
        self.state.check_serving()?;
        let consumer_id = request.into_inner().consumer_id;
        let missing = || {
            Status::not_found(format!(
                "The consumer with the id {consumer_id} does not exist"
            ))
        };
        let entry = self.state.consumer(consumer_id).ok_or_else(missing)?;
        let generation = self.state.next_id();
        let (tx, rx) = entry.topic.stream_channel();
        // Built before attaching: should this call be abandoned after attaching,
        // dropping the stream still detaches the consumer.
        let stream = ConsumerStream::new(rx, Arc::downgrade(&self.state), consumer_id, generation);
        if !entry
            .topic
            .open_stream(&entry.subscription, consumer_id, generation, tx)
        {
            return Err(missing());
        }
        Ok(Response::new(stream))
    }

    async fn ack(&self, request: Request<AckRequest>) -> Result<Response<AckResponse>, Status> {
        self.state.check_serving()?;
        let req = request.into_inner();
        let msg_id = required(req.msg_id)?;
        let topic = self.state.existing_topic(&msg_id.topic_name)?;
        topic.ack(&req.subscription_name, msg_id.topic_offset);
        Ok(Response::new(AckResponse {
            request_id: req.request_id,
        }))
    }

    async fn nack(&self, request: Request<NackRequest>) -> Result<Response<NackResponse>, Status> {
        self.state.check_serving()?;
        let req = request.into_inner();
        let msg_id = required(req.msg_id)?;
        let topic = self.state.existing_topic(&msg_id.topic_name)?;
        let offset = msg_id.topic_offset;
        let delay = req.delay_ms.filter(|&ms| ms > 0).map(Duration::from_millis);
        if topic.nack(&req.subscription_name, offset, delay.is_some())
            && let Some(delay) = delay
        {
            let subscription = req.subscription_name;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                topic.release(&subscription, offset);
            });
        }
        Ok(Response::new(NackResponse {
            request_id: req.request_id,
        }))
    }
}

fn required(msg_id: Option<MsgId>) -> Result<MsgId, Status> {
    msg_id.ok_or_else(|| Status::invalid_argument("the request has no msg_id"))
}
