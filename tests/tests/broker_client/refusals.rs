//! Requests the broker refuses, as seen through danube-client.

use crate::common::{TestResult, client, code, consumer, reliable_producer};
use danube_client::SubType;
use danube_connect_tests::broker::TestBroker;
use std::time::Duration;

#[tokio::test]
async fn bad_topic_names_and_unknown_namespaces_are_refused() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    for bad in [
        "default/t",
        "/default/a.b",
        "/default/a/b",
        "/default/",
        "/default/a b",
    ] {
        let err = reliable_producer(&client, bad, "p1")
            .await
            .err()
            .ok_or(format!("{bad} was accepted"))?;
        assert_eq!(
            code(&err),
            Some(tonic::Code::InvalidArgument),
            "{bad}: {err}"
        );
    }
    let err = reliable_producer(&client, "/nowhere/t", "p1")
        .await
        .err()
        .ok_or("an unknown namespace was accepted")?;
    assert_eq!(code(&err), Some(tonic::Code::NotFound), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_topic_keeps_its_dispatch_strategy() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/strategy";
    reliable_producer(&client, topic, "p1").await?;
    let mut non_reliable = client
        .new_producer()
        .with_topic(topic)
        .with_name("p2")
        .build()?;
    let err = non_reliable
        .create()
        .await
        .err()
        .ok_or("a non-reliable producer joined a reliable topic")?;
    assert_eq!(code(&err), Some(tonic::Code::FailedPrecondition), "{err}");
    Ok(())
}

#[tokio::test]
async fn consumers_cannot_create_topics() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let refused = consumer(&client, "/default/absent", "c1", "sub", SubType::Exclusive).await;
    assert!(refused.is_err());
    assert_eq!(broker.messages_in("/default/absent"), 0);
    Ok(())
}

#[tokio::test]
async fn an_exclusive_subscription_refuses_a_second_consumer() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/exclusive";
    reliable_producer(&client, topic, "p1").await?;
    let (mut first, _rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;
    let err = consumer(&client, topic, "c2", "sub", SubType::Exclusive)
        .await
        .err()
        .ok_or("a second exclusive consumer was accepted")?;
    assert_eq!(code(&err), Some(tonic::Code::PermissionDenied), "{err}");

    // Once the first one leaves, the subscription is free again.
    first.close().await;
    consumer(&client, topic, "c2", "sub", SubType::Exclusive).await?;
    Ok(())
}

#[tokio::test]
async fn refused_publishes_are_retried_by_the_client() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/refusing";
    let producer = reliable_producer(&client, topic, "p1").await?;

    broker.set_refuse_publishes(true);
    let mut send = tokio::spawn(async move { producer.send(b"x".to_vec(), None).await });
    let early = tokio::time::timeout(Duration::from_millis(500), &mut send).await;
    assert!(early.is_err(), "send finished while publishes were refused");
    assert_eq!(broker.messages_in(topic), 0);

    broker.set_refuse_publishes(false);
    tokio::time::timeout(Duration::from_secs(10), send).await???;
    assert_eq!(broker.messages_in(topic), 1);
    Ok(())
}
