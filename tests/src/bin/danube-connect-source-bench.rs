//! MQTT source benchmark (see BENCHMARKS.md), in one run:
//!
//! 1. throughput: a bare danube-client publisher with K producers sends N records, then
//!    MQTT devices publish N QoS 1 messages that `source_mqtt.wasm` moves into Danube through
//!    K producers per topic; rates are from the first to the last record persisted;
//! 2. the same devices publishing straight to the host's own MQTT server
//!    (`[capabilities.mqtt.server]`), one hop less, with the same component;
//! 3. latency: both paths again at a fixed rate, timed from the device (or the bare
//!    producer) to a Danube consumer, p50 / p99.
//!
//! `--danube-url URL` uses that broker; otherwise the in-memory test broker runs in this
//! process. Mosquitto (Debian package) is started on a free port.

use danube_client::DanubeClient;
use danube_connect_tests::bench_args::{BoxError, danube_under_test, num};
use danube_connect_tests::bench_figures::{broker, record};
use danube_connect_tests::bench_source::{
    bare_latency, bare_publisher, latencies, producer, stamped, subscribe, wait_persisted,
};
use danube_connect_tests::harness::host_process::free_port;
use danube_connect_tests::harness::mosquitto::{Mosquitto, MosquittoOptions};
use danube_connect_tests::harness::mqtt_client::{Device, QoS};
use danube_connect_tests::harness::{HostProcess, HostSpec, paths, unique_topic};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n = num("--messages", 100_000);
    let producers = num("--producers", 4) as usize;
    let payload = num("--payload-bytes", 256) as usize;
    let devices = num("--devices", 4) as usize;
    let rate = num("--latency-rate", 1000);
    let latency_n = num("--latency-messages", 5000);
    let (test_broker, url, which) = danube_under_test().await?;
    let on = broker(test_broker.is_none());
    let figure = |what: &str| format!("mqtt source: {what}, {on}");
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    let client = DanubeClient::builder().service_url(&url).build().await?;
    let mosquitto = Mosquitto::start_with(MosquittoOptions {
        max_inflight: 1000,
        ..Default::default()
    });
    println!(
        "MQTT -> Danube, {n} messages of {payload} B, QoS 1, {producers} producers, {devices} devices, broker {}",
        which
    );

    let bare = bare_publisher(&client, n, producers, payload).await?;
    eprintln!("  bare publisher done");
    let (source, rss) = through_source(&url, &mosquitto, n, producers, payload, devices).await?;
    println!("bare publisher ({producers} producers): {bare:.0} msgs/s");
    println!(
        "source_mqtt   ({producers} producers): {source:.0} msgs/s, host RSS {:.1} MiB",
        rss as f64 / (1 << 20) as f64
    );
    println!("ratio: {:.2}", source / bare);
    record(&figure("bare publisher"), bare, "msgs/s");
    record(&figure("host via Mosquitto"), source, "msgs/s");
    record(
        &figure("host via Mosquitto / bare publisher"),
        source / bare,
        "ratio",
    );
    record(&figure("host via Mosquitto, peak RSS"), mib(rss), "MiB");
    let (server, rss) = through_server(&url, n, producers, payload, devices).await?;
    println!(
        "source_mqtt, host's MQTT server ({producers} producers): {server:.0} msgs/s, host RSS {:.1} MiB; ratio to bare {:.2}, to the broker path {:.2}",
        rss as f64 / (1 << 20) as f64,
        server / bare,
        server / source
    );
    record(&figure("host's MQTT server"), server, "msgs/s");
    record(
        &figure("host's MQTT server / bare publisher"),
        server / bare,
        "ratio",
    );
    record(
        &figure("host's MQTT server / host via Mosquitto"),
        server / source,
        "ratio",
    );
    record(&figure("host's MQTT server, peak RSS"), mib(rss), "MiB");

    let bare_lat = bare_latency(&client, latency_n, rate, payload).await?;
    let source_lat = source_latency(&url, &client, &mosquitto, latency_n, rate, payload).await?;
    println!(
        "latency at {rate} msgs/s to a consumer: bare p50 {:.2} ms p99 {:.2} ms; source_mqtt p50 {:.2} ms p99 {:.2} ms",
        bare_lat.0, bare_lat.1, source_lat.0, source_lat.1
    );
    record(&figure("bare publisher latency p50"), bare_lat.0, "ms");
    record(&figure("bare publisher latency p99"), bare_lat.1, "ms");
    record(
        &figure("host via Mosquitto latency p50"),
        source_lat.0,
        "ms",
    );
    record(
        &figure("host via Mosquitto latency p99"),
        source_lat.1,
        "ms",
    );
    Ok(())
}

fn source_spec(name: &str, topic: &str, mosquitto: &Mosquitto, producers: usize) -> HostSpec {
    let grant = "[capabilities.mqtt]\nallowed_brokers = [\"mqtt://127.0.0.1:*\"]";
    spec_with(name, topic, &mosquitto.url(), grant, producers)
}

/// Devices publish to the host itself on `port`.
fn server_spec(name: &str, topic: &str, port: u16, producers: usize) -> HostSpec {
    let grant =
        format!("[capabilities.mqtt.server]\nbind = \"127.0.0.1:{port}\"\nreceive_maximum = 1000");
    spec_with(name, topic, "mqtt://unused:1883", &grant, producers)
}

fn spec_with(name: &str, topic: &str, url: &str, grant: &str, producers: usize) -> HostSpec {
    let config = format!(
        "[runtime]\nbatch_size = 1000\n\n{grant}\n\n\
         [config]\nurl = \"{url}\"\nclient_id = \"{name}\"\nclean_session = false\n\n\
         [[config.mappings]]\nfilter = \"bench/+\"\ntopic = \"{topic}\"\nqos = 1\nkey = {{ topic_level = 2 }}\n"
    );
    HostSpec::source(
        name,
        paths::component("source_mqtt"),
        topic,
        &format!("producers_per_topic = {producers}\nmax_in_flight = 5000"),
        &config,
    )
}

async fn through_source(
    url: &str,
    mosquitto: &Mosquitto,
    n: u64,
    producers: usize,
    size: usize,
    devices: usize,
) -> Result<(f64, u64), BoxError> {
    let topic = unique_topic("bench-mqtt");
    let spec = source_spec("bench-mqtt", &topic, mosquitto, producers);
    through_host(spec, url, &mosquitto.url(), n, size, devices).await
}

async fn through_server(
    url: &str,
    n: u64,
    producers: usize,
    size: usize,
    devices: usize,
) -> Result<(f64, u64), BoxError> {
    let topic = unique_topic("bench-mqtt-server");
    let port = free_port();
    let spec = server_spec("bench-mqtt-server", &topic, port, producers);
    through_host(
        spec,
        url,
        &format!("mqtt://127.0.0.1:{port}"),
        n,
        size,
        devices,
    )
    .await
}

/// Runs the host of `spec`; `devices` publish `n` QoS 1 messages to `mqtt_url`.
async fn through_host(
    spec: HostSpec,
    url: &str,
    mqtt_url: &str,
    n: u64,
    size: usize,
    devices: usize,
) -> Result<(f64, u64), BoxError> {
    let mut host = HostProcess::start(spec, url);
    if !host.wait_ready(Duration::from_secs(60)).await {
        return Err(format!("host not ready:\n{}", host.log()).into());
    }
    let mut senders = Vec::new();
    for d in 0..devices {
        let device = Device::connect(mqtt_url, &format!("bench-device-{d}"), false).await;
        let share = n / devices as u64 + u64::from((d as u64) < n % devices as u64);
        senders.push(tokio::spawn(async move {
            // Several keys per device, so the host spreads them over its producers.
            for i in 0..share {
                device
                    .publish(
                        &format!("bench/k{}", (i as usize * devices + d) % 64),
                        QoS::AtLeastOnce,
                        stamped(size),
                    )
                    .await;
            }
            device.wait_confirmed(share, Duration::from_secs(600)).await;
        }));
    }
    let (first, rss) = wait_persisted(&host, n).await?;
    for s in senders {
        s.await?;
    }
    Ok((n as f64 / first.elapsed().as_secs_f64(), rss))
}

async fn source_latency(
    url: &str,
    client: &DanubeClient,
    mosquitto: &Mosquitto,
    n: u64,
    rate: u64,
    size: usize,
) -> Result<(f64, f64), BoxError> {
    let topic = unique_topic("bench-mqtt-lat");
    producer(client, &topic, 9).await?;
    let (mut consumer, mut rx) = subscribe(client, &topic).await?;
    let mut host = HostProcess::start(source_spec("bench-mqtt-lat", &topic, mosquitto, 4), url);
    if !host.wait_ready(Duration::from_secs(60)).await {
        return Err(format!("host not ready:\n{}", host.log()).into());
    }
    let device = Device::connect(&mosquitto.url(), "bench-latency-device", false).await;
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        for i in 0..n {
            tick.tick().await;
            device
                .publish(
                    &format!("bench/k{}", i % 64),
                    QoS::AtLeastOnce,
                    stamped(size),
                )
                .await;
        }
        device
    });
    let r = latencies(&mut consumer, &mut rx, n).await;
    drop(sender.await?);
    r
}
