//! Ordered delivery, message fields, subscription start and partitions.

use crate::common::{TestResult, client, consumer, next, reliable_producer, text};
use danube_client::SubType;
use danube_connect_tests::broker::TestBroker;
use std::collections::HashMap;

#[tokio::test]
async fn messages_arrive_in_order_with_their_metadata() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/ordered";
    let producer = reliable_producer(&client, topic, "p1").await?;
    let (mut consumer, mut rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;

    let attributes = HashMap::from([("kind".to_owned(), "test".to_owned())]);
    for i in 0..50 {
        producer
            .send(format!("m{i}").into_bytes(), Some(attributes.clone()))
            .await?;
    }
    for i in 0..50u64 {
        let message = next(&mut rx).await?;
        assert_eq!(message.msg_id.topic_offset, i);
        assert_eq!(text(&message), format!("m{i}"));
        assert_eq!(message.msg_id.topic_name, topic);
        assert_eq!(message.producer_name, "p1");
        assert_eq!(message.subscription_name.as_deref(), Some("sub"));
        assert_eq!(message.attributes, attributes);
        assert!(message.publish_time > 0);
        consumer.ack(&message).await?;
    }
    assert_eq!(broker.messages_in(topic), 50);
    assert_eq!(broker.messages_in("/default/unknown"), 0);
    Ok(())
}

#[tokio::test]
async fn a_new_subscription_starts_at_the_latest_message() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/latest";
    let producer = reliable_producer(&client, topic, "p1").await?;
    for _ in 0..3 {
        producer.send(b"before".to_vec(), None).await?;
    }
    let (_consumer, mut rx) = consumer(&client, topic, "c1", "late", SubType::Exclusive).await?;
    producer.send(b"after".to_vec(), None).await?;

    let message = next(&mut rx).await?;
    assert_eq!(text(&message), "after");
    assert_eq!(message.msg_id.topic_offset, 3);
    assert_eq!(broker.messages_in(topic), 4);
    Ok(())
}

#[tokio::test]
async fn partitioned_topics_spread_over_partitions() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/parted";
    let mut producer = client
        .new_producer()
        .with_topic(topic)
        .with_name("p1")
        .with_reliable_dispatch()
        .with_partitions(3)
        .build()?;
    producer.create().await?;
    let (mut consumer, mut rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;

    for i in 0..9 {
        producer.send(format!("m{i}").into_bytes(), None).await?;
    }
    let mut per_partition: HashMap<String, Vec<u64>> = HashMap::new();
    for _ in 0..9 {
        let message = next(&mut rx).await?;
        consumer.ack(&message).await?;
        per_partition
            .entry(message.msg_id.topic_name.clone())
            .or_default()
            .push(message.msg_id.topic_offset);
    }
    assert_eq!(per_partition.len(), 3);
    for (partition, mut offsets) in per_partition {
        assert!(
            partition.starts_with("/default/parted-part-"),
            "{partition}"
        );
        offsets.sort_unstable();
        assert_eq!(offsets, vec![0, 1, 2]);
        assert_eq!(broker.messages_in(&partition), 3);
    }
    assert_eq!(broker.messages_in(topic), 9);
    Ok(())
}
