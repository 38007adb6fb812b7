//! Throughput of the test broker driven by the real client. Run with
//! `cargo test --release -p danube-connect-tests --test broker_throughput -- --ignored --nocapture`;
//! set `DANUBE_BROKER_URL` to measure a broker running elsewhere instead.

use danube_client::{DanubeClient, SubType};
use danube_connect_tests::broker::{BrokerOptions, TestBroker};
use std::time::Instant;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const PRODUCERS: usize = 4;
const PER_PRODUCER: usize = 25_000;

/// Several producers publish 256-byte messages; one consumer receives
/// them all, acknowledging each if `ack`.
async fn run(max_unacked: usize, ack: bool) -> TestResult {
    let broker = TestBroker::start_with(BrokerOptions {
        max_unacked,
        ..BrokerOptions::default()
    })
    .await?;
    let url = std::env::var("DANUBE_BROKER_URL").unwrap_or(broker.url());
    let topic = format!(
        "/default/throughput-{}",
        if ack { "acked" } else { "unacked" }
    );
    let client = DanubeClient::builder().service_url(url).build().await?;
    let mut producers = Vec::new();
    for i in 0..PRODUCERS {
        let mut producer = client
            .new_producer()
            .with_topic(&topic)
            .with_name(format!("p{i}"))
            .with_reliable_dispatch()
            .build()?;
        producer.create().await?;
        producers.push(producer);
    }
    let mut consumer = client
        .new_consumer()
        .with_topic(&topic)
        .with_consumer_name("c")
        .with_subscription("sub")
        .with_subscription_type(SubType::Exclusive)
        .build()?;
    consumer.subscribe().await?;
    let mut rx = consumer.receive().await?;

    let total = PRODUCERS * PER_PRODUCER;
    let started = Instant::now();
    let mut sends = Vec::new();
    for producer in producers {
        sends.push(tokio::spawn(async move {
            for _ in 0..PER_PRODUCER {
                producer.send(vec![0u8; 256], None).await?;
            }
            Ok::<_, danube_client::errors::DanubeError>(())
        }));
    }
    for _ in 0..total {
        let message = rx.recv().await.ok_or("consumer closed")?;
        if ack {
            consumer.ack(&message).await?;
        }
    }
    let elapsed = started.elapsed();
    for send in sends {
        send.await??;
    }
    consumer.close().await;
    eprintln!(
        "max_unacked {max_unacked}, ack {ack}: {total} messages in {elapsed:?} = {:.0} msg/s",
        total as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures throughput; run in release"]
async fn throughput() -> TestResult {
    run(10, true).await?;
    run(usize::MAX, false).await?;
    Ok(())
}
