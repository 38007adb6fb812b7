//! Stop and restart: kept state, and what danube-client sees.

use crate::common::{TestResult, client, code, consumer, next, reliable_producer};
use danube_client::SubType;
use danube_connect_tests::broker::{BrokerOptions, TestBroker};
use std::time::{Duration, Instant};

#[tokio::test]
async fn restart_keeps_the_position_and_redelivers_unacked() -> TestResult {
    let broker = TestBroker::start_with(BrokerOptions {
        max_unacked: 4,
        ..BrokerOptions::default()
    })
    .await?;
    let topic = "/default/persisted";
    let url = broker.url();
    {
        let client = client(&broker).await?;
        let producer = reliable_producer(&client, topic, "p1").await?;
        let (mut consumer, mut rx) =
            consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;
        for _ in 0..6 {
            producer.send(b"x".to_vec(), None).await?;
        }
        // Offsets 0-3 fill the window; ack 0 and 1, leave 2 and 3 unacked.
        for i in 0..4u64 {
            let message = next(&mut rx).await?;
            assert_eq!(message.msg_id.topic_offset, i);
            if i < 2 {
                consumer.ack(&message).await?;
            }
        }
        assert_eq!(next(&mut rx).await?.msg_id.topic_offset, 4);
        assert_eq!(next(&mut rx).await?.msg_id.topic_offset, 5);
        broker.stop().await;
    }
    broker.restart().await?;
    assert_eq!(broker.url(), url);

    // The client does not reconnect by itself: start over with a new one.
    let client = client(&broker).await?;
    let (mut consumer, mut rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;
    for expected in 2..6u64 {
        let message = next(&mut rx).await?;
        assert_eq!(message.msg_id.topic_offset, expected);
        consumer.ack(&message).await?;
    }
    let producer = reliable_producer(&client, topic, "p1").await?;
    producer.send(b"x".to_vec(), None).await?;
    assert_eq!(next(&mut rx).await?.msg_id.topic_offset, 6);
    assert_eq!(broker.messages_in(topic), 7);
    Ok(())
}

/// Records how the client reacts to a broker going away; the bounds are
/// loose, the point is that both sides notice within seconds.
#[tokio::test]
async fn clients_notice_a_stopped_broker() -> TestResult {
    let broker = TestBroker::start().await?;
    let topic = "/default/stopping";
    let client = client(&broker).await?;
    let producer = reliable_producer(&client, topic, "p1").await?;
    let (_consumer, mut rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;
    producer.send(b"x".to_vec(), None).await?;
    next(&mut rx).await?;

    let stopped = Instant::now();
    broker.stop().await;
    let stop_took = stopped.elapsed();

    // Right away the cut connection fails the call (Cancelled or
    // Unavailable, depending on timing); later calls are refused
    // connections, retried by the client before it gives up.
    let first = producer.send(b"y".to_vec(), None).await;
    let first_after = stopped.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let later_started = Instant::now();
    let later = producer.send(b"z".to_vec(), None).await;
    let later_took = later_started.elapsed();
    let closed = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await;
    let closed_after = stopped.elapsed();
    eprintln!(
        "stop took {stop_took:?}; first send -> {first:?} after {first_after:?}; \
         later send -> {later:?} in {later_took:?}; consumer channel -> {closed:?} after \
         {closed_after:?}"
    );
    let first = first.err().ok_or("send succeeded on a stopped broker")?;
    assert!(matches!(
        code(&first),
        Some(tonic::Code::Cancelled | tonic::Code::Unavailable)
    ));
    let later = later.err().ok_or("send succeeded on a stopped broker")?;
    assert_eq!(code(&later), Some(tonic::Code::Unavailable));
    assert!(matches!(closed, Ok(None)), "consumer channel still open");
    Ok(())
}

/// After a quick restart the old registrations are gone, so the old
/// client's producer and consumer fail instead of resuming.
#[tokio::test]
async fn old_clients_fail_after_a_quick_restart() -> TestResult {
    let broker = TestBroker::start().await?;
    let topic = "/default/bounced";
    let client = client(&broker).await?;
    let producer = reliable_producer(&client, topic, "p1").await?;
    let (_consumer, mut rx) = consumer(&client, topic, "c1", "sub", SubType::Exclusive).await?;
    producer.send(b"x".to_vec(), None).await?;
    next(&mut rx).await?;

    let stopped = Instant::now();
    broker.stop().await;
    broker.restart().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let send = producer.send(b"y".to_vec(), None).await;
    let send_after = stopped.elapsed();
    let closed = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await;
    let closed_after = stopped.elapsed();
    eprintln!(
        "after restart: send -> {send:?} after {send_after:?}; consumer channel -> {closed:?} \
         after {closed_after:?}; messages_in {}",
        broker.messages_in(topic)
    );
    let send = send.err().ok_or("the old producer still publishes")?;
    assert_eq!(code(&send), Some(tonic::Code::NotFound));
    assert!(
        matches!(closed, Ok(None)),
        "old consumer channel still open"
    );
    assert_eq!(broker.messages_in(topic), 1);
    Ok(())
}
