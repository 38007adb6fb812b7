//! The unacked window, redelivery and nack.

use crate::common::{TestResult, client, consumer, next, reliable_producer, stays_quiet};
use danube_client::SubType;
use danube_connect_tests::broker::{BrokerOptions, TestBroker};
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_eleventh_message_waits_for_an_ack() -> TestResult {
    let broker = TestBroker::start_with(BrokerOptions {
        max_unacked: 10,
        ..BrokerOptions::default()
    })
    .await?;
    let client = client(&broker).await?;
    let topic = "/default/window";
    let producer = reliable_producer(&client, topic, "p1").await?;
    let (mut consumer, mut rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;

    for _ in 0..11 {
        producer.send(b"x".to_vec(), None).await?;
    }
    let mut first = None;
    for i in 0..10u64 {
        let message = next(&mut rx).await?;
        assert_eq!(message.msg_id.topic_offset, i);
        first.get_or_insert(message);
    }
    assert!(stays_quiet(&mut rx).await, "11th delivered before any ack");

    let first = first.ok_or("no first message")?;
    consumer.ack(&first).await?;
    assert_eq!(next(&mut rx).await?.msg_id.topic_offset, 10);
    Ok(())
}

#[tokio::test]
async fn unacked_messages_go_to_the_next_consumer_in_order() -> TestResult {
    let broker = TestBroker::start().await?;
    let topic = "/default/handover";
    let first_client = client(&broker).await?;
    let producer = reliable_producer(&first_client, topic, "p1").await?;
    let (mut first, mut rx) =
        consumer(&first_client, topic, "c1", "sub", SubType::Exclusive).await?;
    for _ in 0..5 {
        producer.send(b"x".to_vec(), None).await?;
    }
    for i in 0..5u64 {
        let message = next(&mut rx).await?;
        if i < 2 {
            first.ack(&message).await?;
        }
    }
    first.close().await;

    let second_client = client(&broker).await?;
    let (_second, mut rx) =
        consumer(&second_client, topic, "c2", "sub", SubType::Exclusive).await?;
    for expected in 2..5u64 {
        assert_eq!(next(&mut rx).await?.msg_id.topic_offset, expected);
    }
    producer.send(b"x".to_vec(), None).await?;
    assert_eq!(next(&mut rx).await?.msg_id.topic_offset, 5);
    Ok(())
}

#[tokio::test]
async fn a_nacked_message_comes_again_after_its_delay() -> TestResult {
    let broker = TestBroker::start().await?;
    let client = client(&broker).await?;
    let topic = "/default/nacked";
    let producer = reliable_producer(&client, topic, "p1").await?;
    let (mut consumer, mut rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;
    producer.send(b"x".to_vec(), None).await?;

    let message = next(&mut rx).await?;
    consumer.nack(&message, None, None).await?;
    let again = next(&mut rx).await?;
    assert_eq!(again.msg_id.topic_offset, 0);

    let delay = Duration::from_millis(300);
    let nacked_at = Instant::now();
    let delay_ms = u64::try_from(delay.as_millis())?;
    consumer
        .nack(&again, Some(delay_ms), Some("retry".into()))
        .await?;
    let third = next(&mut rx).await?;
    assert_eq!(third.msg_id.topic_offset, 0);
    assert!(nacked_at.elapsed() >= delay - Duration::from_millis(20));
    consumer.ack(&third).await?;
    assert!(stays_quiet(&mut rx).await);
    Ok(())
}
