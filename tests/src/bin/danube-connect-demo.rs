//! `make demo`: an HTTP sink pipeline end to end on one machine — the embedded test broker, a
//! local webhook receiver, and `danube-connect-host` running `sink_http.wasm` between them.

use danube_connect_tests::broker::TestBroker;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{HostProcess, HostSpec, Receiver, eventually};
use std::path::PathBuf;
use std::time::Duration;

const ORDERS: u64 = 10;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host_bin = arg("--host").unwrap_or_else(|| "target/debug/danube-connect-host".into());
    let component = PathBuf::from(
        arg("--component").unwrap_or_else(|| "target/wasm32-wasip2/guest/sink_http.wasm".into()),
    );
    // SAFETY: set before any other thread of this program reads the environment.
    unsafe { std::env::set_var("DANUBE_CONNECT_HOST_BIN", &host_bin) };

    let broker = TestBroker::start().await?;
    println!("1. Danube test broker listening on {}", broker.url());
    let receiver = Receiver::start().await;
    println!(
        "2. webhook receiver listening on {}",
        receiver.url("/orders")
    );

    let topic = "/default/orders";
    let client = danube_client::DanubeClient::builder()
        .service_url(broker.url())
        .build()
        .await?;
    let mut producer = client
        .new_producer()
        .with_topic(topic)
        .with_name("demo-shop")
        .with_reliable_dispatch()
        .build()?;
    producer.create().await?;

    let config = format!(
        "[runtime]\nbatch_size = 100\n\n[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\nbody = \"json_array\"\nheaders = {{ \"X-Shop\" = \"demo\" }}\n",
        receiver.url("/orders")
    );
    let mut host = HostProcess::start(
        HostSpec::sink("orders-webhook", component.clone(), topic, &config),
        &broker.url(),
    );
    if !host.wait_ready(Duration::from_secs(30)).await {
        return Err(format!("host did not become ready:\n{}", host.log()).into());
    }
    println!(
        "3. danube-connect-host running {} (metrics on http://{}/metrics)",
        component.display(),
        host.metrics_addr
    );

    let items = ["coffee", "tea", "cocoa", "juice", "water"];
    for i in 0..ORDERS {
        let order = format!(
            "{{\"n\":{i},\"item\":\"{}\",\"qty\":{}}}",
            items[i as usize % items.len()],
            i % 3 + 1
        );
        producer
            .send_with_key(order.into_bytes(), None, &format!("customer-{}", i % 4))
            .await?;
    }
    println!("4. published {ORDERS} orders to {topic}");

    let arrived = eventually(Duration::from_secs(30), async || {
        (receiver.accepted_numbers().len() as u64 >= ORDERS).then_some(())
    })
    .await;
    println!("5. what the receiver got:");
    for r in receiver.accepted() {
        println!(
            "   {} {}  X-Danube-Topic={}  offsets {}..={}  {} bytes",
            r.method,
            r.path,
            r.header("x-danube-topic").unwrap_or("-"),
            r.header("x-danube-first-offset").unwrap_or("-"),
            r.header("x-danube-last-offset").unwrap_or("-"),
            r.body.len()
        );
        println!("   {}", String::from_utf8_lossy(&r.body));
    }
    let metrics = host.metrics().await;
    let processed = metric_sum(&metrics, "danube_connector_messages_processed_total", &[]);
    host.sigterm();
    let status = host.wait_exit(Duration::from_secs(20)).await;
    let stopped = match status {
        Some(s) if s.success() => "exit 0".to_string(),
        Some(s) => s.to_string(),
        None => "still running after 20 s".to_string(),
    };
    println!("6. host acknowledged {processed} messages and stopped on SIGTERM ({stopped})");
    if arrived.is_none() {
        return Err(format!(
            "only {} of {ORDERS} orders arrived:\n{}",
            receiver.accepted_numbers().len(),
            host.log()
        )
        .into());
    }
    println!("demo ok: {ORDERS} orders went Danube -> sink_http.wasm -> HTTP");
    Ok(())
}
