//! The few command-line options the benchmark binaries take (`--name value`).

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The value after `name`, if given.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A numeric option, or `default` when absent or not a number.
pub fn num(name: &str, default: u64) -> u64 {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The broker a benchmark runs against: `--danube-url URL`, else the in-memory test broker in
/// this process (kept alive by the returned handle). The text says which, for the report.
pub async fn danube_under_test()
-> Result<(Option<crate::broker::TestBroker>, String, String), BoxError> {
    Ok(match arg("--danube-url") {
        Some(url) => (None, url.clone(), url),
        None => {
            let b = crate::broker::TestBroker::start().await?;
            let url = b.url();
            (Some(b), url, "in-memory test broker".into())
        }
    })
}
