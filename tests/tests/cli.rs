//! The command line: clear errors for bad input, `inspect` and `validate`.

use danube_connect_tests::harness::paths;
use std::path::Path;
use std::process::{Command, Output};

fn host(args: &[&str], dir: &Path) -> Output {
    Command::new(paths::host_bin())
        .args(args)
        .arg("--cache-dir")
        .arg(paths::target_dir().join("test-component-cache"))
        .current_dir(dir)
        .env_remove("DANUBE_SERVICE_URL")
        .output()
        .expect("run host")
}

/// `validate --config CFG --component COMPONENT`, run in `dir`.
fn validate(cfg: &Path, component: &Path, dir: &Path) -> Output {
    let (cfg, component) = (cfg.to_string_lossy(), component.to_string_lossy());
    host(
        &["validate", "--config", &cfg, "--component", &component],
        dir,
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const GOOD: &str = "[connector]\nname = \"hook\"\n[sink]\ntopics = [\"/default/t\"]\nsubscription = \"s\"\n\
                    [capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n[config]\nurl = \"http://127.0.0.1:9/hook\"\n";

#[test]
fn malformed_config_names_file_and_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        GOOD.replace(
            "subscription = \"s\"",
            "subscription = \"s\"\nbatch_size = 3",
        ),
    )
    .expect("write");
    let component = paths::component("sink_http");
    let out = host(
        &[
            "--component",
            component.to_str().unwrap_or_default(),
            "--config",
            cfg.to_str().unwrap_or_default(),
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(78),
        "a configuration error is EX_CONFIG"
    );
    let err = stderr(&out);
    assert!(
        err.contains("bad.toml") && err.contains("batch_size"),
        "{err}"
    );

    std::fs::write(&cfg, GOOD.replace("\"/default/t\"", "\"orders.v1\"")).expect("write");
    let out = validate(&cfg, &component, dir.path());
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("sink.topics[0]") && err.contains("orders.v1"),
        "{err}"
    );
}

#[test]
fn missing_component_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, GOOD).expect("write");
    let out = host(
        &[
            "--component",
            "nope/missing.wasm",
            "--config",
            cfg.to_str().unwrap_or_default(),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("missing.wasm") && err.contains("cannot read component"),
        "{err}"
    );
}

#[test]
fn missing_config_is_explained() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = host(&["--config", "absent.toml"], dir.path());
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("absent.toml"),
        "{err}"
    );
}

#[test]
fn inspect_reports_world_and_capabilities() {
    let dir = tempfile::tempdir().expect("tmp");
    let component = paths::component("sink_http");
    let out = host(
        &["inspect", component.to_str().unwrap_or_default()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("danube:connect/sink-connector"), "{text}");
    assert!(text.contains("danube:connect/sink@0.1.0"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("wasi:http/outgoing-handler")
                && l.contains("needs [capabilities.http]")),
        "{text}"
    );
    assert!(
        !text.contains("wasi:filesystem"),
        "sink_http needs no filesystem:\n{text}"
    );
}

#[test]
fn validate_opens_the_connector_without_danube() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("c.toml");
    let component = paths::component("sink_http");
    std::fs::write(&cfg, GOOD).expect("write");
    let out = validate(&cfg, &component, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok:"));

    // The connector's own validation reaches the user through `open`.
    std::fs::write(
        &cfg,
        GOOD.replace("url = \"http://127.0.0.1:9/hook\"", "url = \"ftp://x\""),
    )
    .expect("write");
    let out = validate(&cfg, &component, dir.path());
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(78),
        "a refused [config] is EX_CONFIG: {err}"
    );
    assert!(err.contains("url"), "{err}");

    // Run, the same refusal stops the connector before it touches Danube, with the same code.
    let path = component.to_string_lossy();
    let out = host(
        &["--component", &path, "--config", &cfg.to_string_lossy()],
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("refused its [config]") && err.contains("url"),
        "{err}"
    );

    // A capability the config does not grant is refused before the connector runs.
    std::fs::write(
        &cfg,
        GOOD.replace(
            "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n",
            "",
        ),
    )
    .expect("write");
    let out = validate(&cfg, &component, dir.path());
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("capabilities.http") && err.contains("wasi:http"),
        "{err}"
    );
}

/// A connector whose external system is down validates with EX_UNAVAILABLE (69): the
/// config is fine, retry later.
#[test]
fn validate_tells_an_unreachable_system_from_a_bad_config() {
    let dir = tempfile::tempdir().expect("tmp");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let url = format!("http://{closed}");
    let cfg = dir.path().join("ch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[connector]\nname = \"ch\"\n[sink]\ntopics = [\"/default/t\"]\nsubscription = \"s\"\n\
             [capabilities.http]\nallowed_hosts = [\"{url}\"]\ntimeout_ms = 2000\n\
             [config]\nurl = \"{url}\"\ntable = \"orders\"\n"
        ),
    )
    .expect("write");
    let out = validate(&cfg, &paths::component("sink_clickhouse"), dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(
        err.contains(&closed.to_string()) || err.contains("connect"),
        "{err}"
    );
}

/// `config schema` prints the JSON Schema editors and CI use; `--host` the host file's.
#[test]
fn config_schema_describes_both_files() {
    let dir = tempfile::tempdir().expect("tmp");
    for (args, title, key) in [
        (&["config", "schema"][..], "connector file", "capabilities"),
        (
            &["config", "schema", "--host"][..],
            "host file",
            "connector",
        ),
    ] {
        let out = Command::new(paths::host_bin())
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run host");
        assert!(out.status.success(), "{}", stderr(&out));
        let schema: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the schema is JSON");
        let found = schema["title"].as_str().unwrap_or_default();
        assert!(found.ends_with(title), "{found}");
        assert!(schema["properties"].get(key).is_some(), "{schema}");
        assert_eq!(
            schema["additionalProperties"], false,
            "unknown keys are errors"
        );
    }
}

/// `LOG_FORMAT=json` gives one JSON object per line, and `RUST_LOG` wins over the level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_and_rust_log_from_the_environment() {
    use danube_connect_tests::harness::{Danube, HostSpec, Pipeline, unique_topic};
    let danube = Danube::start().await;
    let mut spec = HostSpec::sink(
        "jsonlog",
        paths::component("sink_http"),
        &unique_topic("jsonlog"),
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n[config]\nurl = \"http://127.0.0.1:9/hook\"\n",
    );
    spec.env.push(("LOG_FORMAT".into(), "json".into()));
    spec.env
        .push(("RUST_LOG".into(), "danube_connect_host=debug".into()));
    let p = Pipeline::launch(danube, spec, &[]).await;
    let log = p.host.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not JSON: {line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"DEBUG\"") && l.contains("component loaded")),
        "RUST_LOG asked for debug lines\n{log}"
    );
}

/// `validate --offline` checks files, component and grants without calling `open`, so a
/// connector whose external system is not there (ClickHouse here) still validates; a host
/// file is checked connector by connector.
#[test]
fn validate_offline_and_host_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let examples = paths::target_dir().join("../examples");
    let clickhouse = examples.join("sink-clickhouse/connector.toml");
    let component = paths::component("sink_clickhouse");
    let out = Command::new(paths::host_bin())
        .args(["validate", "--offline", "--config"])
        .arg(&clickhouse)
        .arg("--component")
        .arg(&component)
        .arg("--cache-dir")
        .arg(paths::target_dir().join("test-component-cache"))
        .env("CLICKHOUSE_PASSWORD", "unused")
        .output()
        .expect("run host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("links with"),
        "{stdout}\n{}",
        stderr(&out)
    );

    let host_file = examples.join("multi-connector/host.toml");
    let out = host(
        &[
            "validate",
            "--offline",
            "--host-file",
            host_file.to_str().unwrap_or_default(),
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    assert!(
        stdout.contains("orders.toml") && stdout.contains("audit.toml"),
        "{stdout}"
    );

    // One connector of a host file asks for a capability its grant lacks: named, exit 78.
    std::fs::write(
        dir.path().join("c.toml"),
        GOOD.replace(
            "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n",
            "",
        ),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("host.toml"),
        format!(
            "[[connector]]\nconfig = \"c.toml\"\ncomponent = \"{}\"\n",
            paths::component("sink_http").display()
        ),
    )
    .expect("write");
    let out = host(
        &["validate", "--offline", "--host-file", "host.toml"],
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("capabilities.http") && err.contains("c.toml"),
        "{err}"
    );
}

#[test]
fn shell_completions_know_the_subcommands() {
    let dir = tempfile::tempdir().expect("tmp");
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(paths::host_bin())
            .args(["completions", shell])
            .current_dir(dir.path())
            .output()
            .expect("run host");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        for word in ["validate", "inspect", "offline", "host-file"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
}
