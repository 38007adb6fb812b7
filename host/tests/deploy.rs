//! The deployment files (Dockerfile, compose, Kubernetes) are checked against the host they
//! deploy: the configs they ship load with the environment they give and link with the
//! components they name, which the image builds and ships; the probes name paths the host
//! serves on the port it binds, and the image's entrypoint runs a bundled config.

use danube_connect_host::capabilities::Grants;
use danube_connect_host::config::{ConnectorConfig, load_str};
use danube_connect_host::endpoints::server::{LIVENESS_PATH, READINESS_PATH};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(relative: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn text<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {y:?}"))
}

/// A connector file as the host would load it with `env` as its environment, grants included.
fn load(text: &str, name: &str, env: &HashMap<String, String>) -> ConnectorConfig {
    let lookup = |var: &str| env.get(var).cloned();
    let config = load_str(text, Path::new(name), &lookup).unwrap_or_else(|e| panic!("{e}"));
    Grants::from_config(&config).unwrap_or_else(|e| panic!("{name}: {e}"));
    config
}

#[test]
fn kubernetes_probes_config_and_secret_fit_the_host() {
    let deployment = &yaml("deploy/kubernetes/deployment.yaml")[0];
    let config_map = &yaml("deploy/kubernetes/configmap.yaml")[0];
    let secret = &yaml("deploy/kubernetes/secret.yaml")[0];
    assert_eq!(text(&deployment["kind"], "kind"), "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

    // The file the container is told to read is the ConfigMap's, mounted where it looks.
    let args: Vec<&str> = container["args"]
        .as_vec()
        .expect("args")
        .iter()
        .map(|a| text(a, "arg"))
        .collect();
    assert_eq!(args, ["--config", "/etc/danube-connect/connector.toml"]);
    let mount = container["volumeMounts"]
        .as_vec()
        .expect("mounts")
        .iter()
        .find(|m| m["mountPath"].as_str() == Some("/etc/danube-connect"))
        .expect("the config mount");
    let volume = pod["volumes"]
        .as_vec()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the config volume");
    assert_eq!(
        volume["configMap"]["name"], config_map["metadata"]["name"],
        "the mounted ConfigMap is the one shipped"
    );

    // Its environment: the Secret's keys.
    let secrets = &secret["stringData"];
    let mut env = HashMap::new();
    for var in container["env"].as_vec().expect("env") {
        let name = text(&var["name"], "env name");
        let key = &var["valueFrom"]["secretKeyRef"]["key"];
        let value = text(&secrets[text(key, "secret key")], "secret value");
        env.insert(name.to_string(), value.to_string());
    }
    let file = text(&config_map["data"]["connector.toml"], "connector.toml");
    let config = load(file, "connector.toml", &env);

    // Probes: paths the host serves, on the port it binds.
    let port = container["ports"][0]["containerPort"]
        .as_i64()
        .expect("containerPort");
    assert_eq!(i64::from(config.metrics.bind.port()), port);
    assert!(
        config.metrics.bind.ip().is_unspecified(),
        "reachable from outside the pod"
    );
    assert_eq!(
        text(&container["livenessProbe"]["httpGet"]["path"], "liveness"),
        LIVENESS_PATH
    );
    assert_eq!(
        text(&container["readinessProbe"]["httpGet"]["path"], "readiness"),
        READINESS_PATH
    );
    // Long enough for a guest call in progress to finish after SIGTERM.
    let grace = pod["terminationGracePeriodSeconds"]
        .as_i64()
        .expect("grace");
    assert!(
        grace * 1000 > config.runtime.call_deadline_ms as i64,
        "{grace} s"
    );
    assert!(!container["resources"]["limits"]["memory"].is_badvalue());
    for file in ["service.yaml", "podmonitor.yaml"] {
        let doc = &yaml(&format!("deploy/kubernetes/{file}"))[0];
        assert!(doc["kind"].as_str().is_some(), "{file}");
    }
}

/// The variables the host itself reads (`danube-connect-host --help`); a bundled config reads
/// the others as `${VAR}`.
const HOST_VARIABLES: &[&str] = &[
    "DANUBE_SERVICE_URL",
    "DANUBE_METRICS_URL",
    "CONNECTOR_NAME",
    "DANUBE_TOPIC",
    "SUBSCRIPTION_NAME",
    "SUBSCRIPTION_TYPE",
    "DISPATCH_STRATEGY",
    "POLL_INTERVAL_MS",
    "SENDS_IN_FLIGHT",
    "MAX_RETRIES",
    "RETRY_BACKOFF_MS",
    "BATCH_SIZE",
    "BATCH_TIMEOUT_MS",
    "METRICS_ADDR",
    "METRICS_PORT",
    "LOG_LEVEL",
    "LOG_FORMAT",
];

/// A connector service of the compose file: its name, the bundled config it runs and its
/// environment, as docker compose gives it.
struct ComposeConnector {
    service: String,
    bundled: String,
    env: HashMap<String, String>,
}

fn compose_connectors() -> Vec<ComposeConnector> {
    let compose = &yaml("examples/compose/docker-compose.yml")[0];
    let services = compose["services"].as_hash().expect("services");
    let mut connectors = Vec::new();
    for (name, service) in services {
        if service["image"].as_str() != Some("danube-connect:latest") {
            continue;
        }
        let name = text(name, "service name");
        let args: Vec<&str> = service["command"]
            .as_vec()
            .expect("command")
            .iter()
            .map(|a| text(a, "arg"))
            .collect();
        let bundled = args[1]
            .strip_prefix("/etc/danube-connect/")
            .unwrap_or_else(|| panic!("{name}: {}", args[1]));
        let mut env = HashMap::new();
        for (k, v) in service["environment"].as_hash().expect("environment") {
            // Compose's own `${X:-default}`, as docker compose expands it with X unset.
            let value = match v {
                Yaml::String(s) => match s.strip_prefix("${").and_then(|r| r.split_once(":-")) {
                    Some((_, default)) => default.trim_end_matches('}').to_string(),
                    None => s.clone(),
                },
                Yaml::Integer(i) => i.to_string(),
                other => panic!("{name}: {other:?}"),
            };
            env.insert(text(k, "variable").to_string(), value);
        }
        connectors.push(ComposeConnector {
            service: name.to_string(),
            bundled: bundled.to_string(),
            env,
        });
    }
    connectors
}

/// The file names in deploy/configs, sorted.
fn bundled_configs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("deploy/configs"))
        .expect("configs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn compose_services_load_their_bundled_configs_from_their_environment() {
    let connectors = compose_connectors();
    for ComposeConnector {
        service: name,
        bundled,
        env,
    } in &connectors
    {
        let file = read(&format!("deploy/configs/{bundled}"));
        let config = load(&file, bundled, env);
        assert_eq!(config.connector.name, env["CONNECTOR_NAME"], "{name}");
        assert!(
            config.connector.component.is_some(),
            "{name}: the bundled config names its component"
        );
        // A misspelt variable would be ignored, and its setting left at the file's default.
        for var in env.keys() {
            assert!(
                HOST_VARIABLES.contains(&var.as_str())
                    || file.contains(&format!("${{{var}}}"))
                    || file.contains(&format!("${{{var}:-")),
                "{name} sets {var}, which neither the host nor {bundled} reads"
            );
        }
    }
    // Every bundled config is run by a service.
    let mut used: Vec<String> = connectors.iter().map(|c| c.bundled.clone()).collect();
    used.sort();
    used.dedup();
    assert_eq!(used, bundled_configs());
    assert_eq!(connectors.len(), 6);
}

/// For a bundled config that connects on `open`: the variables that point it at a closed local
/// port instead of the compose file's server, and the text its failure then shows (once the
/// component accepted its `[config]`).
fn unreachable_instead(
    bundled: &str,
    port: u16,
) -> Option<(Vec<(&'static str, String)>, &'static str)> {
    let local = format!("127.0.0.1:{port}");
    match bundled {
        "source-postgres.toml" => Some((
            vec![
                ("PG_HOST", "127.0.0.1".into()),
                ("PG_PORT", port.to_string()),
            ],
            "Connection refused",
        )),
        "kafka-import.toml" | "kafka-export.toml" => Some((
            vec![
                ("KAFKA_BROKERS", local.clone()),
                ("KAFKA_ALLOWED_BROKERS", local),
            ],
            "Broker transport failure",
        )),
        _ => None,
    }
}

/// Each compose connector, as the host binary runs it from the compose file's environment:
/// its bundled config links with the component it names (the role it asks for is exported,
/// every capability the component imports is granted). Those that connect on `open` also have
/// their `[config]` accepted by the component: `open` gets as far as the network.
#[test]
fn compose_connectors_link_and_open_their_components() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
    let port = closed.local_addr().expect("port").port();
    drop(closed);
    let state = tempfile::tempdir().expect("tempdir");
    let connectors = compose_connectors();
    let mut checked_open = 0;
    std::thread::scope(|scope| {
        let mut runs = Vec::new();
        for connector in &connectors {
            let config = load(
                &read(&format!("deploy/configs/{}", connector.bundled)),
                &connector.bundled,
                &connector.env,
            );
            let shipped = config.connector.component.expect("a component");
            let component = repo()
                .join("target/wasm32-wasip2/guest")
                .join(shipped.file_name().expect("a file name"));
            if !component.exists() {
                panic!(
                    "build the guests first (make guests): {}",
                    component.display()
                );
            }
            let reach = unreachable_instead(&connector.bundled, port);
            checked_open += usize::from(reach.is_some());
            let state = state.path().to_path_buf();
            runs.push(scope.spawn(move || {
                let mut command =
                    std::process::Command::new(env!("CARGO_BIN_EXE_danube-connect-host"));
                command
                    .arg("validate")
                    .args(reach.is_none().then_some("--offline"))
                    .arg("--cache-dir")
                    .arg(repo().join("target/test-component-cache"))
                    .arg("--config")
                    .arg(repo().join("deploy/configs").join(&connector.bundled))
                    .arg("--component")
                    .arg(&component)
                    .env_clear()
                    .envs(&connector.env)
                    .env("STATE_DIR", state.join("state"))
                    .env("BUFFER_DIR", state.join("buffer"));
                if let Some((vars, _)) = &reach {
                    command.envs(vars.iter().map(|(k, v)| (k, v)));
                }
                let out = command.output().expect("run the host");
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                let name = &connector.service;
                match reach {
                    None => assert!(
                        out.status.success() && stdout.contains("links with"),
                        "{name}: {stdout}\n{stderr}"
                    ),
                    // 69: the config was accepted and only the network failed.
                    Some((_, failure)) => assert!(
                        out.status.code() == Some(69) && stderr.contains(failure),
                        "{name}: its config must be accepted and open fail at the network \
                         ({failure}): {stdout}\n{stderr}"
                    ),
                }
            }));
        }
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    assert_eq!(
        checked_open, 3,
        "the Postgres source and both Kafka entries"
    );
}

#[test]
fn the_image_ships_what_its_configs_name_and_probes_readyz() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("COPY deploy/configs/ /etc/danube-connect/"));
    assert!(dockerfile.contains("ENTRYPOINT [\"danube-connect-host\"]"));
    assert!(dockerfile.contains(&format!("127.0.0.1:9464{READINESS_PATH}")));
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root"))
    );
    // The guests the build stage compiles: every `-p <package>` of its `--target wasm32-wasip2`
    // cargo command (continued over `\` lines).
    let guest_build = dockerfile
        .split("--target wasm32-wasip2")
        .nth(1)
        .expect("the Dockerfile builds the guests");
    let guest_build: Vec<&str> = guest_build
        .lines()
        .scan(true, |more, line| {
            let keep = *more;
            *more = line.trim_end().ends_with('\\');
            keep.then_some(line)
        })
        .collect();
    let guest_build = guest_build.join(" ");
    let words: Vec<&str> = guest_build.split_whitespace().collect();
    let built: Vec<&str> = words
        .windows(2)
        .filter(|w| w[0] == "-p")
        .map(|w| w[1])
        .collect();
    let bundled = bundled_configs();
    assert!(bundled.len() >= 6, "{bundled:?}");
    for name in &bundled {
        let path = repo().join("deploy/configs").join(name);
        let text = std::fs::read_to_string(&path).expect("config");
        let config = load(&text, name, &HashMap::new());
        let component = config.connector.component.expect("a component");
        let file = component
            .file_name()
            .and_then(|f| f.to_str())
            .expect("a file name");
        assert!(
            component.starts_with("/opt/danube-connect/components")
                && dockerfile.contains(&format!("/src/target/wasm32-wasip2/guest/{file}")),
            "{name} names {}, which the image does not ship",
            component.display()
        );
        // sink_http.wasm is the artifact of the package sink-http.
        let package = file.trim_end_matches(".wasm").replace('_', "-");
        assert!(
            built.contains(&package.as_str()),
            "{name} names {file}, but the image does not build -p {package}: {built:?}"
        );
    }
}

/// The image's entrypoint and a bundled config, outside a container: the host binary loads
/// `sink-http.toml` from the environment the compose file gives and opens the connector.
#[test]
fn the_entrypoint_runs_a_bundled_config() {
    let component = repo().join("target/wasm32-wasip2/guest/sink_http.wasm");
    if !component.exists() {
        panic!(
            "build the guests first (make guests): {}",
            component.display()
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_danube-connect-host"))
        .args(["validate", "--no-cache", "--config"])
        .arg(repo().join("deploy/configs/sink-http.toml"))
        .arg("--component")
        .arg(&component)
        .env("TARGET_URL", "http://hook.internal:8080/in")
        .env("ALLOWED_HOSTS", "http://hook.internal:8080")
        .env("CONNECTOR_NAME", "orders-webhook")
        .env("LOG_FORMAT", "json")
        .env_remove("DANUBE_SERVICE_URL")
        .output()
        .expect("run the host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("opens with"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_danube-connect-host"))
        .args(["validate", "--no-cache", "--config"])
        .arg(repo().join("deploy/configs/sink-http.toml"))
        .arg("--component")
        .arg(&component)
        .env("HTTP_METHOD", "FETCH")
        .output()
        .expect("run the host");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !wrong.status.success() && err.contains("method") && err.contains("FETCH"),
        "an unknown method must be refused, naming it: {err}"
    );
}
