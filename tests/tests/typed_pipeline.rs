//! `examples/typed-pipeline` end to end: the webhook source validates orders against a JSON
//! Schema it registers, the ClickHouse sink creates its table from that subject and inserts
//! the orders; an order that does not match is dead-lettered. The example's connector files
//! run as shipped; only the addresses come from the environment, as the example documents.

#![cfg(feature = "typed")]

use danube_connect_tests::harness::clickhouse::ClickHouse;
use danube_connect_tests::harness::danube::attribute;
use danube_connect_tests::harness::host_process::free_port;
use danube_connect_tests::harness::webhook_client::WebhookClient;
use danube_connect_tests::harness::{Danube, eventually, http, paths, typed, unique_topic};
use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_validated_registered_and_land_in_a_table_made_from_their_schema() {
    let ch = ClickHouse::start();
    let danube = Danube::start().await;
    // Names of this run's own: a real broker keeps earlier runs' topics and subjects.
    let topic = unique_topic("orders");
    let subject = typed::subject("orders");
    // The source creates its topic with its first record; the sink may subscribe before.
    // First, too: danube-broker v0.15 takes `<topic>-dlq`, created before `<topic>`, for a
    // partition of it and then refuses to create `<topic>`.
    let _topic = danube.producer(&topic).await;
    let mut dlq = danube.reader(&format!("{topic}-dlq")).await;

    let example = paths::target_dir().join("../examples/typed-pipeline");
    let dir = tempfile::tempdir().expect("dir");
    let host_file = dir.path().join("host.toml");
    std::fs::write(
        &host_file,
        format!(
            "[[connector]]\nconfig = \"{}\"\ncomponent = \"{}\"\n\n\
             [[connector]]\nconfig = \"{}\"\ncomponent = \"{}\"\n",
            example.join("orders-in.toml").display(),
            paths::component("source_webhook").display(),
            example.join("orders-to-clickhouse.toml").display(),
            paths::component("sink_clickhouse").display(),
        ),
    )
    .expect("host file");
    let (webhook, metrics) = (free_port(), free_port());
    let log = dir.path().join("host.log");
    let out = std::fs::File::create(&log).expect("log");
    let mut host = tokio::process::Command::new(paths::host_bin())
        .args(["run", host_file.to_str().unwrap_or_default()])
        .env("DANUBE_SERVICE_URL", danube.url())
        .env("CLICKHOUSE_URL", ch.url())
        .env("WEBHOOK_BIND", format!("127.0.0.1:{webhook}"))
        .env("METRICS_PORT", metrics.to_string())
        .env("ORDERS_TOPIC", &topic)
        .env("ORDERS_SUBJECT", &subject)
        .stdout(Stdio::from(out.try_clone().expect("log")))
        .stderr(Stdio::from(out))
        .kill_on_drop(true)
        .spawn()
        .expect("host");
    let host_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let ready = eventually(Duration::from_secs(60), async || {
        let status = http::get(&format!("http://127.0.0.1:{metrics}/readyz")).await;
        matches!(status, Some((200, _))).then_some(())
    })
    .await;
    assert!(ready.is_some(), "{}", host_log());

    let base = 1000;
    let client = WebhookClient::new(webhook);
    for i in 0..20 {
        let body = format!(
            "{{\"id\":{},\"customer\":\"c-{i}\",\"amount\":{i}.5{}}}",
            base + i,
            if i % 2 == 0 { ",\"note\":\"gift\"" } else { "" }
        );
        let answer = client.post("/orders", &[], body.into_bytes()).await;
        assert_eq!(answer.status, 200, "{answer:?}\n{}", host_log());
    }
    for bad in [
        r#"{"id":"two","customer":"bob"}"#,
        r#"{"id":1,"customer":"x","amount":1,"extra":true}"#,
    ] {
        let answer = client.post("/orders", &[], bad.as_bytes().to_vec()).await;
        assert_eq!(
            answer.status, 200,
            "persisted to the dead-letter topic: {answer:?}"
        );
    }

    let landed = eventually(Duration::from_secs(60), async || {
        let sql = format!("SELECT count() FROM default.orders WHERE id >= {base}");
        let n = ch.query(&sql).await.ok()?.trim().parse::<u64>().ok()?;
        (n >= 20).then_some(n)
    })
    .await;
    assert_eq!(landed, Some(20), "{}", host_log());
    let columns = ch.columns("default.orders").await;
    assert_eq!(
        columns,
        [
            "id Int64",
            "customer String",
            "amount Float64",
            "note Nullable(String)",
            "_offset UInt64"
        ]
    );
    let rows = ch
        .exec(&format!(
            "SELECT id - {base}, customer, amount, ifNull(note, 'NULL') FROM default.orders \
             WHERE id IN ({base}, {}) ORDER BY id FORMAT TSV",
            base + 1
        ))
        .await;
    assert_eq!(rows, "0\tc-0\t0.5\tgift\n1\tc-1\t1.5\tNULL\n");

    let dead = dlq.take(2, Duration::from_secs(30)).await;
    assert_eq!(dead.len(), 2, "{}", host_log());
    let reason = attribute(&dead[0], "dlq.error");
    assert!(
        reason.starts_with(&format!("does not match schema {subject} v1"))
            && reason.contains("/id"),
        "{reason}"
    );
    let _ = host.kill().await;
}
