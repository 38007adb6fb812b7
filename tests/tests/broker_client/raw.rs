//! Wire-level answers, checked with the generated gRPC clients.

use danube_connect_tests::broker::TestBroker;
use danube_core::proto::consumer_service_client::ConsumerServiceClient;
use danube_core::proto::discovery_client::DiscoveryClient;
use danube_core::proto::health_check_client::HealthCheckClient;
use danube_core::proto::health_check_request::ClientType;
use danube_core::proto::health_check_response::ClientStatus;
use danube_core::proto::producer_service_client::ProducerServiceClient;
use danube_core::proto::topic_lookup_response::LookupType;
use danube_core::proto::{
    ConsumerRequest, DispatchStrategy, HealthCheckRequest, MsgId, ProducerAccessMode,
    ProducerRequest, ReceiveRequest, StreamMessage, TopicLookupRequest,
};
use tonic::Code;

use crate::common::TestResult;

fn producer_request(topic: &str, name: &str, mode: ProducerAccessMode) -> ProducerRequest {
    ProducerRequest {
        request_id: 1,
        producer_name: name.to_owned(),
        topic_name: topic.to_owned(),
        schema_ref: None,
        producer_access_mode: mode.into(),
        dispatch_strategy: DispatchStrategy::Reliable.into(),
    }
}

fn lookup(topic: &str) -> TopicLookupRequest {
    TopicLookupRequest {
        request_id: 1,
        topic: topic.to_owned(),
    }
}

fn health(client: ClientType, id: u64) -> HealthCheckRequest {
    HealthCheckRequest {
        request_id: 1,
        client: client.into(),
        id,
    }
}

#[tokio::test]
async fn discovery_answers_like_a_single_broker() -> TestResult {
    let broker = TestBroker::start().await?;
    let mut producers = ProducerServiceClient::connect(broker.url()).await?;
    let mut discovery = DiscoveryClient::connect(broker.url()).await?;
    let topic = "/default/found";
    producers
        .create_producer(producer_request(topic, "p1", ProducerAccessMode::Shared))
        .await?;

    let found = discovery.topic_lookup(lookup(topic)).await?.into_inner();
    assert_eq!(found.response_type, i32::from(LookupType::Connect));
    assert_eq!(found.broker_url, broker.url());
    assert_eq!(found.connect_url, broker.url());
    assert!(!found.proxy);

    let missing = discovery.topic_lookup(lookup("/default/missing")).await;
    assert_eq!(missing.err().map(|s| s.code()), Some(Code::NotFound));
    let bad = discovery.topic_lookup(lookup("/default/bad.name")).await;
    assert_eq!(bad.err().map(|s| s.code()), Some(Code::InvalidArgument));

    let parts = discovery
        .topic_partitions(lookup(topic))
        .await?
        .into_inner();
    assert_eq!(parts.partitions, vec![topic.to_owned()]);
    let none = discovery
        .topic_partitions(lookup("/default/missing"))
        .await?;
    assert!(none.into_inner().partitions.is_empty());
    Ok(())
}

#[tokio::test]
async fn unknown_ids_and_topics_are_not_found() -> TestResult {
    let broker = TestBroker::start().await?;
    let mut consumers = ConsumerServiceClient::connect(broker.url()).await?;
    let mut producers = ProducerServiceClient::connect(broker.url()).await?;

    let subscribe = consumers
        .subscribe(ConsumerRequest {
            request_id: 1,
            topic_name: "/default/missing".to_owned(),
            consumer_name: "c1".to_owned(),
            subscription: "sub".to_owned(),
            subscription_type: 0,
            key_filters: Vec::new(),
        })
        .await;
    assert_eq!(subscribe.err().map(|s| s.code()), Some(Code::NotFound));

    let receive = consumers
        .receive_messages(ReceiveRequest {
            request_id: 1,
            consumer_id: 424_242,
        })
        .await;
    assert_eq!(receive.err().map(|s| s.code()), Some(Code::NotFound));

    let send = producers
        .send_message(StreamMessage {
            msg_id: Some(MsgId {
                producer_id: 424_242,
                topic_name: "/default/missing".to_owned(),
                ..MsgId::default()
            }),
            ..StreamMessage::default()
        })
        .await;
    assert_eq!(send.err().map(|s| s.code()), Some(Code::NotFound));
    Ok(())
}

#[tokio::test]
async fn a_second_exclusive_producer_is_refused() -> TestResult {
    let broker = TestBroker::start().await?;
    let mut producers = ProducerServiceClient::connect(broker.url()).await?;
    let topic = "/default/owned";
    producers
        .create_producer(producer_request(topic, "p1", ProducerAccessMode::Exclusive))
        .await?;
    // The same name reconnects to its registration, as on the real broker.
    producers
        .create_producer(producer_request(topic, "p1", ProducerAccessMode::Exclusive))
        .await?;
    for mode in [ProducerAccessMode::Exclusive, ProducerAccessMode::Shared] {
        let second = producers
            .create_producer(producer_request(topic, "p2", mode))
            .await;
        assert_eq!(second.err().map(|s| s.code()), Some(Code::PermissionDenied));
    }
    Ok(())
}

#[tokio::test]
async fn health_checks_close_ids_forgotten_by_a_restart() -> TestResult {
    let broker = TestBroker::start().await?;
    let mut producers = ProducerServiceClient::connect(broker.url()).await?;
    let producer_id = producers
        .create_producer(producer_request(
            "/default/health",
            "p1",
            ProducerAccessMode::Shared,
        ))
        .await?
        .into_inner()
        .producer_id;
    let mut checks = HealthCheckClient::connect(broker.url()).await?;
    let status =
        |r: tonic::Response<danube_core::proto::HealthCheckResponse>| r.into_inner().status;

    let known = checks
        .health_check(health(ClientType::Producer, producer_id))
        .await?;
    assert_eq!(status(known), i32::from(ClientStatus::Ok));
    let unknown = checks
        .health_check(health(ClientType::Consumer, producer_id))
        .await?;
    assert_eq!(status(unknown), i32::from(ClientStatus::Close));

    broker.stop().await;
    broker.restart().await?;
    let mut checks = HealthCheckClient::connect(broker.url()).await?;
    let forgotten = checks
        .health_check(health(ClientType::Producer, producer_id))
        .await?;
    assert_eq!(status(forgotten), i32::from(ClientStatus::Close));
    Ok(())
}
