//! Shared, failover, key-shared and non-reliable delivery.

use crate::common::{
    TestResult, client, consumer, eventually, next, reliable_producer, stays_quiet, text,
};
use danube_client::SubType;
use danube_connect_tests::broker::TestBroker;
use danube_core::message::StreamMessage;
use std::collections::{HashMap, HashSet};
use tokio::sync::mpsc::Receiver;

/// Receives `count` messages from two consumers, tagging each with 0 or 1.
async fn from_either(
    a: &mut Receiver<StreamMessage>,
    b: &mut Receiver<StreamMessage>,
    count: usize,
) -> Result<Vec<(usize, StreamMessage)>, String> {
    let mut received = Vec::new();
    while received.len() < count {
        let got = tokio::time::timeout(crate::common::DELIVERY, async {
            tokio::select! {
                Some(m) = a.recv() => Some((0, m)),
                Some(m) = b.recv() => Some((1, m)),
                else => None,
            }
        })
        .await;
        match got {
            Ok(Some(tagged)) => received.push(tagged),
            _ => {
                return Err(format!(
                    "only {} of {count} messages arrived",
                    received.len()
                ));
            }
        }
    }
    Ok(received)
}

#[tokio::test]
async fn a_shared_subscription_takes_turns() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/shared";
    let producer = reliable_producer(&client, topic, "p1").await?;
    let (_a, mut rx_a) = consumer(&client, topic, "a", "sub", SubType::Shared).await?;
    let (_b, mut rx_b) = consumer(&client, topic, "b", "sub", SubType::Shared).await?;
    assert!(eventually(|| broker.active_consumers(topic, "sub") == 2).await);

    for _ in 0..10 {
        producer.send(b"x".to_vec(), None).await?;
    }
    let received = from_either(&mut rx_a, &mut rx_b, 10).await?;
    let to_a = received.iter().filter(|(who, _)| *who == 0).count();
    assert_eq!(to_a, 5);
    Ok(())
}

#[tokio::test]
async fn failover_moves_to_the_standby_consumer() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/failover";
    let producer = reliable_producer(&client, topic, "p1").await?;
    let (mut active, mut rx_active) =
        consumer(&client, topic, "active", "sub", SubType::FailOver).await?;
    let (_standby, mut rx_standby) =
        consumer(&client, topic, "standby", "sub", SubType::FailOver).await?;
    assert!(eventually(|| broker.active_consumers(topic, "sub") == 2).await);

    for _ in 0..3 {
        producer.send(b"x".to_vec(), None).await?;
    }
    for expected in 0..3u64 {
        assert_eq!(next(&mut rx_active).await?.msg_id.topic_offset, expected);
    }
    assert!(stays_quiet(&mut rx_standby).await);

    // Unacked messages follow to the standby, then new ones.
    active.close().await;
    producer.send(b"x".to_vec(), None).await?;
    for expected in 0..4u64 {
        assert_eq!(next(&mut rx_standby).await?.msg_id.topic_offset, expected);
    }
    Ok(())
}

#[tokio::test]
async fn key_shared_keeps_a_key_on_one_consumer() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/keyed";
    let producer = reliable_producer(&client, topic, "p1").await?;
    let (mut a, mut rx_a) = consumer(&client, topic, "a", "sub", SubType::KeyShared).await?;
    let (mut b, mut rx_b) = consumer(&client, topic, "b", "sub", SubType::KeyShared).await?;
    assert!(eventually(|| broker.active_consumers(topic, "sub") == 2).await);

    for i in 0..20 {
        let key = format!("k{}", i % 4);
        producer
            .send_with_key(key.clone().into_bytes(), None, &key)
            .await?;
    }
    // More messages than the window: ack as they come.
    let mut owners: HashMap<String, HashSet<usize>> = HashMap::new();
    for _ in 0..20 {
        let (who, message) = from_either(&mut rx_a, &mut rx_b, 1)
            .await?
            .pop()
            .ok_or("no message")?;
        assert_eq!(
            message.routing_key.as_deref(),
            Some(text(&message).as_str())
        );
        owners.entry(text(&message)).or_default().insert(who);
        if who == 0 {
            a.ack(&message).await?;
        } else {
            b.ack(&message).await?;
        }
    }
    assert_eq!(owners.len(), 4);
    assert!(owners.values().all(|who| who.len() == 1), "{owners:?}");
    Ok(())
}

#[tokio::test]
async fn non_reliable_topics_deliver_only_to_connected_consumers() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/fleeting";
    let mut producer = client
        .new_producer()
        .with_topic(topic)
        .with_name("p1")
        .build()?;
    producer.create().await?;

    let (mut first, mut rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;
    assert!(eventually(|| broker.active_consumers(topic, "sub") == 1).await);
    for i in 0..3 {
        producer.send(format!("m{i}").into_bytes(), None).await?;
    }
    for i in 0..3 {
        assert_eq!(text(&next(&mut rx).await?), format!("m{i}"));
    }
    first.close().await;
    assert!(eventually(|| broker.active_consumers(topic, "sub") == 0).await);
    producer.send(b"lost".to_vec(), None).await?;

    let (_second, mut rx) = consumer(&client, topic, "c2", "sub", SubType::Exclusive).await?;
    assert!(eventually(|| broker.active_consumers(topic, "sub") == 1).await);
    producer.send(b"late".to_vec(), None).await?;
    let message = next(&mut rx).await?;
    assert_eq!(text(&message), "late");
    assert_eq!(message.msg_id.topic_offset, 4);
    assert_eq!(broker.messages_in(topic), 5);
    Ok(())
}
