//! A table from a schema: the ClickHouse sink with `create_table = true` creates its table
//! from a registered Avro subject (columns named and typed from the fields), decodes each
//! typed message with the version it names, and dead-letters one that does not decode.

#![cfg(feature = "typed")]

use danube_client::SchemaType;
use danube_connect_tests::harness::clickhouse::ClickHouse;
use danube_connect_tests::harness::danube::attribute;
use danube_connect_tests::harness::typed::{
    ORDER_V1, avro, order_datum, register, subject, typed_producer,
};
use danube_connect_tests::harness::{Danube, Pipeline, eventually};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_is_created_from_the_schema_and_typed_rows_land_in_it() {
    let ch = ClickHouse::start();
    let danube = Danube::start().await;
    let subject = subject("orders");
    register(&danube, &subject, SchemaType::Avro, ORDER_V1).await;
    let config = format!(
        "[capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\ntable = \"orders\"\ncreate_table = true\n\
         schema_subject = \"{subject}\"\norder_by = \"id\"\nmetadata = {{ offset = \"_offset\" }}\n",
        ch.url()
    );
    let p = Pipeline::start_on(danube, "typed-ch", "sink_clickhouse", &config).await;
    let mut dlq = p.danube.reader(&format!("{}-dlq", p.topic)).await;

    let columns = ch.columns("default.orders").await;
    assert_eq!(
        columns,
        [
            "id Int64",
            "item String",
            "price Float64",
            "gift Nullable(String)",
            "raw String",
            "_offset UInt64"
        ],
        "{}",
        p.host.log()
    );

    let v1 = avro(ORDER_V1);
    let producer = typed_producer(&p.danube, &p.topic, &subject, 1).await;
    for id in 0..100 {
        producer
            .send(order_datum(&v1, id, None), None)
            .await
            .expect("send");
        if id == 50 {
            producer
                .send(b"\x02\x04".to_vec(), None)
                .await
                .expect("send corrupt");
        }
    }
    let landed = eventually(Duration::from_secs(60), async || {
        let n = ch.number("SELECT count() FROM default.orders").await;
        (n >= 100).then_some(n)
    })
    .await;
    assert_eq!(landed, Some(100), "{}", p.host.log());
    let rows = ch
        .exec(
            "SELECT id, item, price, ifNull(gift, 'NULL'), raw FROM default.orders \
             WHERE id IN (6, 7) ORDER BY id FORMAT TSV",
        )
        .await;
    assert_eq!(
        rows,
        "6\tsku-6\t6.25\tfor 6\tBv8=\n7\tsku-7\t7.25\tNULL\tB/8=\n"
    );
    let sum = ch.number("SELECT sum(id) FROM default.orders").await;
    assert_eq!(sum, (0..100).sum::<u64>());

    let dead = dlq.take(1, Duration::from_secs(30)).await;
    assert_eq!(dead.len(), 1, "{}", p.host.log());
    let reason = attribute(&dead[0], "dlq.error");
    assert!(reason.contains("does not decode with schema"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_without_a_subject_is_a_named_config_error() {
    let ch = ClickHouse::start();
    let config = format!(
        "[runtime]\non_fatal = \"restart\"\n\n\
         [capabilities.http]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n\n\
         [config]\nurl = \"{}\"\ntable = \"orders\"\ncreate_table = true\n",
        ch.url()
    );
    let spec = danube_connect_tests::harness::HostSpec::sink(
        "no-subject",
        danube_connect_tests::harness::paths::component("sink_clickhouse"),
        &danube_connect_tests::harness::unique_topic("no-subject"),
        &config,
    );
    let danube = Danube::start().await;
    let mut host = danube_connect_tests::harness::HostProcess::start(spec, danube.url());
    let said = eventually(Duration::from_secs(30), async || {
        host.log()
            .contains("invalid config at `schema_subject`")
            .then_some(())
    })
    .await;
    assert!(said.is_some(), "{}", host.log());
    host.kill9().await;
}
