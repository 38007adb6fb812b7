//! Benchmarks of the supervisor (see BENCHMARKS.md):
//!
//! * `swap [--swaps 20] [--messages 20000]`: an HTTP sink consumes a paced numbered stream while
//!   its component is hot-swapped `--swaps` times through the admin API, alternating two builds;
//!   prints the swap pause (p50/p99/max, as the host measured it) and checks every message
//!   arrived once.
//! * `density [--connectors 10]`: resident memory of a host running 1 and then N idle HTTP
//!   sink connectors from one host file.
//!
//! With `DANUBE_SERVICE_URL` set it runs against that broker instead of the in-process test
//! broker.

use danube_connect_tests::bench_args::{BoxError, num};
use danube_connect_tests::harness::danube::publish_paced;
use danube_connect_tests::harness::{Danube, HostProcess, HostSpec, Receiver, paths, unique_topic};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let danube = Danube::start().await;
    match std::env::args().nth(1).as_deref() {
        Some("swap") => swap(&danube).await,
        Some("density") => density(&danube).await,
        _ => Err("usage: danube-connect-fleet-bench swap [--swaps N] [--messages N] | density [--connectors N]".into()),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn sink_extra(receiver: &Receiver) -> String {
    format!(
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\nurl = \"{}\"\nbody = \"json_array\"\n",
        receiver.url("/in")
    )
}

async fn swap(danube: &Danube) -> Result<(), BoxError> {
    let swaps = num("--swaps", 20);
    let messages = num("--messages", 20_000);
    let receiver = Receiver::start().await;
    let topic = unique_topic("swapbench");
    let producer = danube.producer(&topic).await;
    let spec = HostSpec::sink(
        "swapbench",
        paths::component("sink_http"),
        &topic,
        &sink_extra(&receiver),
    );
    let mut host = HostProcess::start(spec, danube.url());
    if !host.wait_ready(Duration::from_secs(60)).await {
        return Err(format!("host not ready:\n{}", host.log()).into());
    }
    let builds = [
        paths::component("sink_http_marker"),
        paths::component("sink_http"),
    ];
    let counted = receiver.clone();
    let publisher = tokio::spawn(async move {
        publish_paced(&producer, 0..messages, 200, || {
            counted.accepted_numbers().len() as u64
        })
        .await;
    });
    let mut pauses = Vec::new();
    let gap = Duration::from_millis(200);
    for i in 0..swaps {
        tokio::time::sleep(gap).await;
        let reply = host
            .reload("swapbench", Some(&builds[(i % 2) as usize]))
            .await;
        if reply.status != 200 {
            return Err(format!("reload {i} answered {}: {}", reply.status, reply.text).into());
        }
        let pause = reply.json["reload"]["pause_ms"]
            .as_f64()
            .unwrap_or(f64::NAN);
        pauses.push(pause);
    }
    publisher.await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while (receiver.accepted_numbers().len() as u64) < messages
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = receiver.accepted_numbers();
    let distinct: std::collections::BTreeSet<u64> = got.iter().copied().collect();
    pauses.sort_by(f64::total_cmp);
    println!(
        "swap pause over {swaps} swaps under load: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&pauses, 0.5),
        percentile(&pauses, 0.99),
        pauses.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "messages: {messages} sent, {} distinct arrived, {} duplicates",
        distinct.len(),
        got.len() - distinct.len()
    );
    if distinct.len() as u64 != messages {
        return Err("messages were lost across swaps".into());
    }
    Ok(())
}

async fn density(danube: &Danube) -> Result<(), BoxError> {
    let n = num("--connectors", 10) as usize;
    let receiver = Receiver::start().await;
    for count in [1, n] {
        let mut specs = Vec::new();
        let mut producers = Vec::new();
        for i in 0..count {
            let topic = unique_topic(&format!("density{i}"));
            producers.push(danube.producer(&topic).await);
            specs.push(HostSpec::sink(
                &format!("idle{i}"),
                paths::component("sink_http"),
                &topic,
                &sink_extra(&receiver),
            ));
        }
        let mut host = HostProcess::start_host_file(specs, danube.url(), "", &[]);
        if !host.wait_ready(Duration::from_secs(60)).await {
            return Err(format!("host not ready:\n{}", host.log()).into());
        }
        // Let start-up allocations settle before sampling.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss = host.rss_bytes().unwrap_or(0) as f64 / (1 << 20) as f64;
        println!("{count} idle connector(s): host RSS {rss:.1} MiB");
        host.kill9().await;
        drop(producers);
    }
    Ok(())
}
