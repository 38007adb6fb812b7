//! The deployment files (Dockerfile, compose, Kubernetes) are checked against the host they
//! deploy: the configs they ship load with the environment they give, the probes name paths
//! the host serves on the port it binds, and the image's entrypoint runs a bundled config.

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

#[test]
fn compose_services_load_their_bundled_configs_from_their_environment() {
    let compose = &yaml("examples/compose/docker-compose.yml")[0];
    let services = compose["services"].as_hash().expect("services");
    let mut connectors = 0;
    for (name, service) in services {
        if service["image"].as_str() != Some("danube-connect:latest") {
            continue;
        }
        connectors += 1;
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
        let file = read(&format!("deploy/configs/{bundled}"));
        let config = load(&file, bundled, &env);
        assert_eq!(config.connector.name, env["CONNECTOR_NAME"], "{name}");
        assert!(
            config.connector.component.is_some(),
            "{name}: the bundled config names its component"
        );
    }
    assert_eq!(connectors, 3);
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
    let configs = std::fs::read_dir(repo().join("deploy/configs")).expect("configs");
    for entry in configs.flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("config");
        let config = load(&text, "bundled.toml", &HashMap::new());
        let component = config.connector.component.expect("a component");
        let file = component
            .file_name()
            .and_then(|f| f.to_str())
            .expect("a file name");
        assert!(
            component.starts_with("/opt/danube-connect/components")
                && dockerfile.contains(&format!("/src/target/wasm32-wasip2/guest/{file}")),
            "{} names {}, which the image does not ship",
            entry.path().display(),
            component.display()
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
