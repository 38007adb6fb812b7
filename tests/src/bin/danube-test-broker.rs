//! Runs the in-memory Danube test broker until SIGINT or SIGTERM.

use clap::Parser;
use danube_connect_tests::broker::{BrokerOptions, TestBroker};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(about = "In-memory Danube broker speaking the Danube gRPC protocol")]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 6650)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Delivered-but-unacknowledged messages allowed per subscription.
    #[arg(long, default_value_t = 10)]
    max_unacked: usize,
    /// Namespaces in which topics may be created (repeatable).
    #[arg(long = "namespace", default_values_t = [String::from("default")])]
    namespaces: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = BrokerOptions {
        max_unacked: args.max_unacked,
        namespaces: args.namespaces,
        ..BrokerOptions::default()
    };
    let broker = match TestBroker::start_on(SocketAddr::new(args.host, args.port), options).await {
        Ok(broker) => broker,
        Err(err) => {
            eprintln!("danube-test-broker: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", broker.url());
    println!("metrics: {}", broker.metrics_url());
    if let Err(err) = shutdown_signal().await {
        eprintln!("danube-test-broker: cannot wait for signals: {err}");
        broker.stop().await;
        return ExitCode::FAILURE;
    }
    broker.stop().await;
    ExitCode::SUCCESS
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
