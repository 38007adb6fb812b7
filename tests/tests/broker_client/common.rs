//! Helpers shared by the broker tests.

use danube_client::errors::DanubeError;
use danube_client::{Consumer, DanubeClient, Producer, SubType};
use danube_connect_tests::broker::TestBroker;
use danube_core::message::StreamMessage;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Long enough for any expected delivery on a loaded machine.
pub const DELIVERY: Duration = Duration::from_secs(5);

/// How long to watch for a message that must not come.
pub const QUIET: Duration = Duration::from_millis(300);

pub async fn client(broker: &TestBroker) -> Result<DanubeClient, DanubeError> {
    DanubeClient::builder()
        .service_url(broker.url())
        .build()
        .await
}

pub async fn reliable_producer(
    client: &DanubeClient,
    topic: &str,
    name: &str,
) -> Result<Producer, DanubeError> {
    let mut producer = client
        .new_producer()
        .with_topic(topic)
        .with_name(name)
        .with_reliable_dispatch()
        .build()?;
    producer.create().await?;
    Ok(producer)
}

/// Subscribes and starts receiving right away.
pub async fn consumer(
    client: &DanubeClient,
    topic: &str,
    name: &str,
    subscription: &str,
    kind: SubType,
) -> Result<(Consumer, Receiver<StreamMessage>), DanubeError> {
    let mut consumer = client
        .new_consumer()
        .with_topic(topic)
        .with_consumer_name(name)
        .with_subscription(subscription)
        .with_subscription_type(kind)
        .build()?;
    consumer.subscribe().await?;
    let rx = consumer.receive().await?;
    Ok((consumer, rx))
}

pub async fn next(rx: &mut Receiver<StreamMessage>) -> Result<StreamMessage, String> {
    match tokio::time::timeout(DELIVERY, rx.recv()).await {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err("the consumer channel closed".into()),
        Err(_) => Err(format!("no message within {DELIVERY:?}")),
    }
}

/// True if no message arrives within [`QUIET`].
pub async fn stays_quiet(rx: &mut Receiver<StreamMessage>) -> bool {
    tokio::time::timeout(QUIET, rx.recv()).await.is_err()
}

/// Waits until `check` holds, polling; false on timeout.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + DELIVERY;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

pub fn code(err: &DanubeError) -> Option<tonic::Code> {
    err.extract_status().map(tonic::Status::code)
}

pub fn text(message: &StreamMessage) -> String {
    String::from_utf8_lossy(&message.payload).into_owned()
}
