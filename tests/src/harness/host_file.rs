//! The generated config files: one connector file per connector and, for several connectors in
//! one process, the `host.toml` listing them (`danube-connect-host run host.toml`).

use super::HostSpec;
use super::host_process::{HostProcess, Launch};
use std::path::{Path, PathBuf};

/// A TOML basic string.
fn quoted(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// A connector file; `metrics` is the body of its `[metrics]` table, left out under a host file
/// (which owns the listener).
pub(super) fn connector_toml(spec: &HostSpec, danube_url: &str, metrics: Option<&str>) -> String {
    let topics: Vec<String> = spec.topics.iter().map(|t| quoted(t)).collect();
    let metrics = metrics
        .map(|m| format!("[metrics]\n{m}\n\n"))
        .unwrap_or_default();
    let role = match &spec.source_keys {
        Some(keys) => format!("[source]\ntopic = {}\n{keys}\n", topics.join("")),
        None => format!(
            "[sink]\ntopics = [{}]\nsubscription = {}\n{}\n",
            topics.join(", "),
            quoted(&spec.subscription),
            spec.sink_keys
        ),
    };
    format!(
        "[connector]\nname = {name}\n\n[danube]\nservice_url = {url}\ncall_timeout_ms = 5000\n\
         reconnect_backoff_ms = 100\nreconnect_max_backoff_ms = 1000\n{danube}\n\n{role}\n{metrics}{extra}\n",
        name = quoted(&spec.name),
        url = quoted(danube_url),
        danube = spec.danube_keys,
        extra = spec.extra,
    )
}

/// Writes `c<i>-<name>.toml` per spec and `host.toml` listing them in `dir`; returns the path of
/// `host.toml`. `host_extra` follows `bind` in its `[metrics]` table, so it can add keys there
/// (`admin_token = …`) or start further tables (`[log]`).
pub(super) fn write_host_file(
    dir: &Path,
    specs: &[HostSpec],
    danube_url: &str,
    bind: &str,
    host_extra: &str,
) -> PathBuf {
    let mut host = format!("[metrics]\nbind = {}\n{host_extra}\n", quoted(bind));
    for (i, spec) in specs.iter().enumerate() {
        // Indexed file names: a test may give two connectors the same name on purpose.
        let file = format!("c{i}-{}.toml", spec.name);
        std::fs::write(dir.join(&file), connector_toml(spec, danube_url, None))
            .expect("write connector file");
        host.push_str(&format!(
            "\n[[connector]]\nconfig = {}\ncomponent = {}\n",
            quoted(&file),
            quoted(&spec.component.to_string_lossy()),
        ));
    }
    let path = dir.join("host.toml");
    std::fs::write(&path, host).expect("write host.toml");
    path
}

impl HostProcess {
    /// Several connectors in one process: `danube-connect-host run host.toml`, the metrics and
    /// admin listener on [`metrics_addr`](HostProcess::metrics_addr). `host_extra` follows
    /// `bind` in the `[metrics]` table of `host.toml`: keys there (`admin_token = …`) or further
    /// tables (`[log]`).
    pub fn start_host_file(
        connectors: Vec<HostSpec>,
        danube_url: &str,
        host_extra: &str,
        extra_args: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let launch = Launch::File {
            specs: connectors,
            host_extra: host_extra.into(),
            args: extra_args.iter().map(|a| a.to_string()).collect(),
        };
        Self::launch_in(launch, danube_url, dir)
    }
}
