//! Typed records: a source with `[source.schema]` registers its JSON Schema in Danube's
//! registry, publishes every record with the schema reference (as a plain danube-client
//! consumer sees it), and dead-letters records that do not match, with the reason.

#![cfg(feature = "typed")]

use danube_client::SchemaType;
use danube_connect_tests::harness::danube::attribute;
use danube_connect_tests::harness::host_process::free_port;
use danube_connect_tests::harness::webhook_client::WebhookClient;
use danube_connect_tests::harness::{Danube, HostProcess, HostSpec, paths, typed, unique_topic};
use std::path::Path;
use std::time::Duration;

const ORDER_V1: &str = r#"{
  "type": "object",
  "properties": { "id": { "type": "integer" }, "item": { "type": "string" } },
  "required": ["id", "item"]
}"#;

/// v1 with an optional field: backward compatible.
const ORDER_V2: &str = r#"{
  "type": "object",
  "properties": {
    "id": { "type": "integer" }, "item": { "type": "string" }, "note": { "type": "string" }
  },
  "required": ["id", "item"]
}"#;

/// `id` changes type: not compatible with v1.
const ORDER_BROKEN: &str = r#"{
  "type": "object",
  "properties": { "id": { "type": "string" }, "item": { "type": "string" } },
  "required": ["id", "item"]
}"#;

/// One test at a time: a webhook port is picked free long before the host binds it (at its
/// first poll, after the schema is resolved), and a host restarted here picks a metrics port
/// too; tests running side by side in this binary could take each other's ports meanwhile.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The webhook source on `port`, JSON bodies of `/orders` into `topic`, published under
/// `subject` with the definition in `file`.
fn typed_webhook(name: &str, port: u16, topic: &str, subject: &str, file: &Path) -> HostSpec {
    let source_keys = format!(
        "schema = {{ subject = \"{subject}\", type = \"json_schema\", file = \"{}\" }}",
        file.display()
    );
    let config = format!(
        "[runtime]\non_fatal = \"restart\"\n\n\
         [capabilities.inbound_http]\nbind = \"127.0.0.1:{port}\"\n\n\
         [config]\n[[config.routes]]\npath = \"/orders\"\ntopic = \"{topic}\"\nformat = \"json\"\n"
    );
    HostSpec::source(
        name,
        paths::component("source_webhook"),
        topic,
        &source_keys,
        &config,
    )
}

fn schema_file(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("order.schema.json");
    std::fs::write(&path, text).expect("schema file");
    path
}

/// Posts `body` until the host takes it: the listener opens with the connector's first poll,
/// which comes after the schema is resolved, so a refused connection is tried again.
async fn post(client: &WebhookClient, host: &HostProcess, body: &str) {
    for _ in 0..100 {
        let answer = client.post("/orders", &[], body.as_bytes().to_vec()).await;
        if answer.status != 0 {
            assert_eq!(answer.status, 200, "{body}: {answer:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{body}: the listener never opened\n{}", host.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_carry_the_schema_reference_and_invalid_ones_are_dead_lettered() {
    let _serial = SERIAL.lock().await;
    let danube = Danube::start().await;
    let topic = unique_topic("typed");
    let subject = typed::subject("orders");
    let dir = tempfile::tempdir().expect("dir");
    let file = schema_file(dir.path(), ORDER_V1);
    let mut out = danube.reader(&topic).await;
    let mut dlq = danube.reader(&format!("{topic}-dlq")).await;
    let port = free_port();
    let spec = typed_webhook("typed", port, &topic, &subject, &file);
    let host = HostProcess::started(spec, danube.url()).await;
    let client = WebhookClient::new(port);

    let valid: Vec<String> = (0..20)
        .map(|i| format!("{{\"id\":{i},\"item\":\"sku-{i}\"}}"))
        .collect();
    let bad_sent = [
        r#"{"id":"seven","item":"pen"}"#,
        r#"{"item":"no id"}"#,
        r#"[1,2,3]"#,
    ];
    // Valid and invalid records interleaved: the valid ones keep their order.
    for (i, body) in valid.iter().enumerate() {
        post(&client, &host, body).await;
        if let Some(bad) = [(4, 0), (11, 1), (12, 2)]
            .iter()
            .find(|(at, _)| *at == i)
            .map(|(_, b)| bad_sent[*b])
        {
            post(&client, &host, bad).await;
        }
    }

    let registered = danube
        .client()
        .await
        .schema()
        .get_latest_schema(&subject)
        .await
        .unwrap_or_else(|e| panic!("{subject} is registered: {e}\n{}", host.log()));
    assert_eq!(registered.version, 1);
    assert_eq!(registered.schema_type, SchemaType::JsonSchema.as_str());

    let got = out.take(valid.len(), Duration::from_secs(30)).await;
    let bodies: Vec<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    assert_eq!(
        bodies,
        valid,
        "every valid record, in order\n{}",
        host.log()
    );
    for m in &got {
        assert_eq!(m.schema_id, Some(registered.schema_id), "schema id");
        assert_eq!(m.schema_version, Some(1), "schema version");
    }

    let dead = dlq.take(bad_sent.len(), Duration::from_secs(30)).await;
    let dead_bodies: Vec<String> = dead
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    assert_eq!(dead_bodies, bad_sent, "the invalid records, as sent");
    for m in &dead {
        let reason = attribute(m, "dlq.error");
        assert!(
            reason.starts_with(&format!("does not match schema {subject} v1 (json_schema)")),
            "{reason}"
        );
        assert_eq!(attribute(m, "dlq.error_type"), "invalid_data");
        assert_eq!(
            m.schema_id, None,
            "a dead-lettered record is not of the schema"
        );
    }
    assert!(
        attribute(&dead[0], "dlq.error").contains("/id"),
        "the reason names the field: {}",
        attribute(&dead[0], "dlq.error")
    );
    assert!(out.take(1, Duration::from_millis(300)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compatible_definition_becomes_a_new_version_an_incompatible_one_is_refused() {
    let _serial = SERIAL.lock().await;
    let danube = Danube::start().await;
    let topic = unique_topic("evolve");
    let subject = typed::subject("orders");
    let dir = tempfile::tempdir().expect("dir");
    let registry = danube.client().await.schema();
    registry
        .register_schema(&subject)
        .with_type(SchemaType::JsonSchema)
        .with_schema_data(ORDER_V1.as_bytes().to_vec())
        .execute()
        .await
        .expect("v1 registered by another producer");

    // A compatible file: registered as version 2, and records go out under it.
    let file = schema_file(dir.path(), ORDER_V2);
    let mut out = danube.reader(&topic).await;
    let port = free_port();
    let mut host = HostProcess::started(
        typed_webhook("evolve", port, &topic, &subject, &file),
        danube.url(),
    )
    .await;
    let client = WebhookClient::new(port);
    post(&client, &host, r#"{"id":1,"item":"pen","note":"v2"}"#).await;
    let got = out.take(1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1, "{}", host.log());
    assert_eq!(got[0].schema_version, Some(2));
    assert_eq!(
        registry.list_versions(&subject).await.expect("versions"),
        vec![1, 2]
    );

    // The same file again: no new version.
    host = host.restart();
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{}",
        host.log()
    );
    post(&client, &host, r#"{"id":2,"item":"pen"}"#).await;
    let got = out.take(1, Duration::from_secs(30)).await;
    assert_eq!(got[0].schema_version, Some(2), "{}", host.log());

    // An incompatible file: the connector fails with the registry's words, nothing is
    // published, and the subject keeps its versions.
    std::fs::write(&file, ORDER_BROKEN).expect("rewrite");
    host = host.restart();
    while host.readyz().await.is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut view = host.connector("evolve").await;
    for _ in 0..100 {
        if view.state() == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        view = host.connector("evolve").await;
    }
    assert_eq!(view.state(), "failed", "{:?}\n{}", view, host.log());
    let error = view.last_error().unwrap_or_default().to_string();
    assert!(
        error.contains(&format!("refused registering a schema under {subject}"))
            && error.contains("not compatible"),
        "{error}"
    );
    assert!(host.log().contains("not compatible"), "{}", host.log());
    assert_eq!(
        registry.list_versions(&subject).await.expect("versions"),
        vec![1, 2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_record_that_is_dead_lettered_still_lets_its_topic_be_created() {
    let _serial = SERIAL.lock().await;
    let danube = Danube::start().await;
    let topic = unique_topic("first-bad");
    let dir = tempfile::tempdir().expect("dir");
    let file = schema_file(dir.path(), ORDER_V1);
    let port = free_port();
    let spec = typed_webhook("first-bad", port, &topic, &typed::subject("first"), &file);
    let host = HostProcess::started(spec, danube.url()).await;
    let client = WebhookClient::new(port);

    // Nothing has created the topic: the first record goes to `<topic>-dlq`, which the host
    // creates after `<topic>` (danube-broker v0.15.1 would otherwise refuse `<topic>` for
    // good, taking the dead-letter topic for a partition of it).
    post(&client, &host, r#"{"id":"one"}"#).await;
    if let Some(broker) = danube.test_broker() {
        assert!(broker.has_topic(&topic), "{}", host.log());
    }
    let mut out = danube.reader(&topic).await;
    post(&client, &host, r#"{"id":1,"item":"pen"}"#).await;
    let got = out.take(1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1, "{}", host.log());
    assert_eq!(got[0].payload, br#"{"id":1,"item":"pen"}"#.to_vec());
}
