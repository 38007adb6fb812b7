//! Benchmarks of the supervisor (see BENCHMARKS.md):
//!
//! * `swap [--swaps 20] [--messages 20000]`: an HTTP sink consumes a paced numbered stream while
//!   its component is hot-swapped `--swaps` times through the admin API, alternating two builds;
//!   prints the swap pause (p50/p99/max, as the host measured it) and checks every message
//!   arrived once.
//! * `density [--connectors 10]`: resident memory of a host running 1 and then N idle HTTP
//!   sink connectors from one host file.
//! * `neighbours [--messages 20000] [--restart-max-ms 200]`: an HTTP sink's end-to-end rate
//!   alone, then in one host with a guest that loops on every call and one that allocates
//!   without bound, both crash-looping with the given backoff cap.
//!
//! With `DANUBE_SERVICE_URL` set it runs against that broker instead of the in-process test
//! broker.

use danube_connect_tests::bench_args::{BoxError, num};
use danube_connect_tests::bench_figures::{broker, record};
use danube_connect_tests::harness::danube::publish_paced;
use danube_connect_tests::harness::http::metric_sum;
use danube_connect_tests::harness::{Danube, HostProcess, HostSpec, Receiver, paths, unique_topic};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let danube = Danube::start().await;
    match std::env::args().nth(1).as_deref() {
        Some("swap") => swap(&danube).await,
        Some("density") => density(&danube).await,
        Some("neighbours") => neighbours(&danube).await,
        _ => Err("usage: danube-connect-fleet-bench swap [--swaps N] [--messages N] | density [--connectors N] | neighbours [--messages N]".into()),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// A figure's name: what, and on which broker.
fn figure(danube: &Danube, what: &str) -> String {
    format!("{what}, {}", broker(danube.broker.is_none()))
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
    let (p50, p99) = (percentile(&pauses, 0.5), percentile(&pauses, 0.99));
    let max = pauses.last().copied().unwrap_or(f64::NAN);
    println!(
        "swap pause over {swaps} swaps under load: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
    );
    let duplicates = got.len() - distinct.len();
    println!(
        "messages: {messages} sent, {} distinct arrived, {duplicates} duplicates",
        distinct.len(),
    );
    for (what, ms) in [("p50", p50), ("p99", p99), ("max", max)] {
        record(
            &figure(danube, &format!("hot swap: pause {what}")),
            ms,
            "ms",
        );
    }
    record(
        &figure(danube, "hot swap: duplicates"),
        duplicates as f64,
        "messages",
    );
    if distinct.len() as u64 != messages {
        return Err("messages were lost across swaps".into());
    }
    Ok(())
}

async fn density(danube: &Danube) -> Result<(), BoxError> {
    let n = num("--connectors", 10) as usize;
    let receiver = Receiver::start().await;
    let mut rss_of = Vec::new();
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
        record(
            &figure(
                danube,
                &format!(
                    "density: host RSS, {count} idle connector{}",
                    if count == 1 { "" } else { "s" }
                ),
            ),
            rss,
            "MiB",
        );
        rss_of.push(rss);
        host.kill9().await;
        drop(producers);
    }
    if n > 1 {
        record(
            &figure(danube, "density: RSS per extra idle connector"),
            (rss_of[1] - rss_of[0]) / (n - 1) as f64,
            "MiB",
        );
    }
    Ok(())
}

/// A chaos-sink connector whose every call misbehaves: it keeps trapping for the whole run.
/// `--restart-max-ms` caps its crash-loop backoff (default 200 ms: adversarial; the host's
/// default is 30 s).
fn misbehaving(name: &str, topic: &str, runtime: &str, receiver: &Receiver) -> HostSpec {
    let cap = num("--restart-max-ms", 200);
    let extra = format!(
        "[runtime]\nmax_guest_traps = 1000000\nrestart_backoff_ms = 50\nrestart_max_backoff_ms = {cap}\n{runtime}\n\n\
         [capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n[config]\nurl = \"{}\"\n",
        receiver.url("/bad")
    );
    HostSpec::sink(name, paths::component("chaos_sink"), topic, &extra)
}

async fn neighbours(danube: &Danube) -> Result<(), BoxError> {
    let messages = num("--messages", 20_000);
    let mut rates = Vec::new();
    for with_bad in [false, true] {
        let receiver = Receiver::start().await;
        let topic = unique_topic("good");
        let producer = danube.producer(&topic).await;
        let mut specs = vec![HostSpec::sink(
            "good",
            paths::component("sink_http"),
            &topic,
            &sink_extra(&receiver),
        )];
        let mut bad = Vec::new();
        if with_bad {
            for (name, runtime, payload) in [
                ("looper", "call_deadline_ms = 1000", "loop"),
                ("hog", "memory_limit_mb = 64", "oom"),
            ] {
                let t = unique_topic(name);
                bad.push((danube.producer(&t).await, payload));
                specs.push(misbehaving(name, &t, runtime, &receiver));
            }
        }
        let mut host = HostProcess::start_host_file(specs, danube.url(), "", &[]);
        if !host.wait_ready(Duration::from_secs(60)).await {
            return Err(format!("host not ready:\n{}", host.log()).into());
        }
        for (p, payload) in &bad {
            for _ in 0..3 {
                p.send(payload.as_bytes().to_vec(), None).await?;
            }
        }
        let started = std::time::Instant::now();
        let counted = receiver.clone();
        publish_paced(&producer, 0..messages, 200, || {
            counted.accepted_numbers().len() as u64
        })
        .await;
        while (receiver.accepted_numbers().len() as u64) < messages {
            if started.elapsed() > Duration::from_secs(300) {
                return Err("the good connector did not deliver everything".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let rate = messages as f64 / started.elapsed().as_secs_f64();
        let rss = host.rss_bytes().unwrap_or(0) as f64 / (1 << 20) as f64;
        let traps = if with_bad {
            let m = host.metrics().await;
            metric_sum(&m, "danube_connector_guest_traps_total", &[])
        } else {
            0.0
        };
        println!(
            "good connector {}: {rate:.0} msgs/s, host RSS {rss:.1} MiB, neighbour traps {traps}",
            if with_bad {
                "beside a looping and an allocating guest"
            } else {
                "alone"
            }
        );
        rates.push(rate);
        host.kill9().await;
    }
    println!(
        "ratio with bad neighbours / alone: {:.2}",
        rates[1] / rates[0]
    );
    let cap = num("--restart-max-ms", 200);
    let name = |what: &str| figure(danube, &format!("neighbours, restart cap {cap} ms: {what}"));
    record(&name("sink_http alone"), rates[0], "msgs/s");
    record(&name("sink_http beside bad guests"), rates[1], "msgs/s");
    record(
        &name("beside bad guests / alone"),
        rates[1] / rates[0],
        "ratio",
    );
    Ok(())
}
