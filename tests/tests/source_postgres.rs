//! The Postgres CDC source end to end: a real PostgreSQL (`wal_level=logical`) started by the
//! harness, the host running `source_postgres.wasm`, change events read back from Danube.
//! A slot's position is confirmed only after Danube persisted the transaction: killing the
//! host loses nothing.

use danube_connect_tests::harness::danube::Reader;
use danube_connect_tests::harness::postgres::{
    self, PASSWORD, Postgres, PostgresOptions, SUPERUSER,
};
use danube_connect_tests::harness::{
    Danube, HostProcess, HostSpec, eventually, paths, unique_topic,
};
use danube_core::message::StreamMessage;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The connector for `pg`, publishing to `{base}_{schema}_{table}`; `config` adds keys.
fn cdc(name: &str, pg: &Postgres, base: &str, config: &str) -> HostSpec {
    HostSpec::source(
        name,
        paths::component("source_postgres"),
        &format!("{base}-default"),
        "producers_per_topic = 1",
        &format!(
            "[capabilities.postgres]\nallowed_hosts = [\"127.0.0.1:*\"]\n\n\
             [capabilities.state]\npath = \"{name}.state.redb\"\n\n[config]\n\
             host = \"127.0.0.1\"\nport = {port}\ndatabase = \"postgres\"\nuser = \"{SUPERUSER}\"\n\
             password = \"{PASSWORD}\"\nslot = \"{slot}\"\npublication = \"{slot}\"\n\
             topic = \"{base}_{{schema}}_{{table}}\"\n{config}\n",
            port = pg.port(),
            slot = name.replace('-', "_"),
        ),
    )
}

async fn events(reader: &mut Reader, n: usize) -> Vec<Value> {
    reader
        .take(n, Duration::from_secs(30))
        .await
        .iter()
        .map(event)
        .collect()
}

fn event(m: &StreamMessage) -> Value {
    serde_json::from_slice(&m.payload).expect("change events are JSON")
}

fn attr<'a>(m: &'a StreamMessage, name: &str) -> Option<&'a str> {
    m.attributes.get(name).map(String::as_str)
}

async fn ready(host: &mut HostProcess) {
    assert!(
        host.wait_ready(Duration::from_secs(60)).await,
        "{}",
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_changes_arrive_as_documented_events_in_commit_order() {
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE TABLE orders (id int PRIMARY KEY, note text, amount numeric(10,2), paid bool,
           tags text[], doc jsonb, raw bytea, at timestamptz, day date, uid uuid, f float8,
           big bigint, m mood);
         ALTER TABLE orders REPLICA IDENTITY FULL;
         CREATE TABLE items (sku text PRIMARY KEY, qty int);
         CREATE TABLE docs (id int PRIMARY KEY, body text, n int);
         CREATE TABLE other (id int PRIMARY KEY);",
    )
    .await
    .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg");
    let mut orders = danube.reader(&format!("{base}_public_orders")).await;
    let mut items = danube.reader(&format!("{base}_public_items")).await;
    let mut docs = danube.reader(&format!("{base}_public_docs")).await;
    let mut host = HostProcess::start(
        cdc(
            "pg-events",
            &pg,
            &base,
            "tables = \"public.orders, items, public.docs\"",
        ),
        danube.url(),
    );
    ready(&mut host).await;

    // One statement per call: a multi-statement query runs as one implicit transaction,
    // which its ROLLBACK would take down whole.
    for sql in [
        "INSERT INTO orders VALUES (1, 'first', 12.50, true, '{a,\"b c\",NULL}', '{\"k\": [1, 2]}',
           '\\x0102', '2024-01-02 03:04:05.678+00', '2024-01-02',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.5, 9007199254740993, 'happy')",
        "UPDATE orders SET note = 'second' WHERE id = 1",
        "BEGIN; INSERT INTO items VALUES ('rolled-back', 1); ROLLBACK",
        "INSERT INTO other VALUES (1)",
        "BEGIN; INSERT INTO items VALUES ('a', 1); UPDATE items SET qty = 2 WHERE sku = 'a';
           INSERT INTO items VALUES ('b', 5); COMMIT",
        "DELETE FROM items WHERE sku = 'a'",
        "DELETE FROM orders WHERE id = 1",
        "TRUNCATE items",
    ] {
        db.batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    let got = orders.take(3, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 3, "orders events\n{}", host.log());
    let insert = event(&got[0]);
    assert_eq!(insert["op"], "c");
    assert_eq!(insert["table"], "public.orders");
    assert_eq!(insert["before"], Value::Null);
    assert_eq!(
        insert["after"],
        json!({
            "id": 1, "note": "first", "amount": "12.50", "paid": true,
            "tags": ["a", "b c", null], "doc": {"k": [1, 2]}, "raw": "AQI=",
            "at": "2024-01-02T03:04:05.678+00:00", "day": "2024-01-02",
            "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "f": 1.5,
            "big": 9007199254740993_i64, "m": "happy"
        })
    );
    assert_eq!(insert["source"]["db"], "postgres");
    assert_eq!(insert["source"]["schema"], "public");
    assert_eq!(insert["source"]["table"], "orders");
    assert!(insert["source"]["tx_id"].as_u64().is_some(), "{insert}");
    assert!(insert["source"]["commit_ts"].as_i64().is_some(), "{insert}");
    assert!(insert["ts_ms"].as_u64().is_some(), "{insert}");
    assert_eq!(got[0].routing_key.as_deref(), Some("1"));
    assert_eq!(attr(&got[0], "pg.op"), Some("c"));
    assert_eq!(attr(&got[0], "pg.table"), Some("orders"));
    assert_eq!(attr(&got[0], "pg.schema"), Some("public"));
    assert_eq!(attr(&got[0], "content-type"), Some("application/json"));
    assert_eq!(
        attr(&got[0], "pg.lsn"),
        insert["source"]["lsn"].as_str(),
        "the attribute and the event carry the same LSN"
    );

    let update = event(&got[1]);
    assert_eq!(update["op"], "u");
    assert_eq!(
        update["before"]["note"], "first",
        "REPLICA IDENTITY FULL: the whole old row"
    );
    assert_eq!(update["after"]["note"], "second");
    let delete = event(&got[2]);
    assert_eq!(delete["op"], "d");
    assert_eq!(delete["before"]["note"], "second");
    assert_eq!(delete["after"], Value::Null);

    let got = items.take(5, Duration::from_secs(30)).await;
    let summary: Vec<(String, Value, Value)> = got
        .iter()
        .map(|m| {
            let e = event(m);
            (
                e["op"].as_str().unwrap_or("?").to_string(),
                e["before"].clone(),
                e["after"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("c".into(), Value::Null, json!({"sku": "a", "qty": 1})),
            ("u".into(), Value::Null, json!({"sku": "a", "qty": 2})),
            ("c".into(), Value::Null, json!({"sku": "b", "qty": 5})),
            ("d".into(), json!({"sku": "a"}), Value::Null),
            ("t".into(), Value::Null, Value::Null),
        ],
        "commit order, nothing from the rolled-back transaction, key-only before images\n{}",
        host.log()
    );
    let tx = |m: &StreamMessage| event(m)["source"]["tx_id"].clone();
    assert_eq!(tx(&got[0]), tx(&got[2]), "one transaction, one tx_id");
    assert_ne!(tx(&got[2]), tx(&got[3]));

    // An unchanged TOASTed value is named, never a silent null.
    db.batch_execute(
        "INSERT INTO docs SELECT 1, string_agg(md5(i::text), '') , 0 FROM generate_series(1, 2000) i;
         UPDATE docs SET n = 1 WHERE id = 1;",
    )
    .await
    .expect("toast");
    let got = events(&mut docs, 2).await;
    assert_eq!(got.len(), 2, "{}", host.log());
    assert_eq!(got[0]["after"]["body"].as_str().map(str::len), Some(64_000));
    assert_eq!(got[1]["after"], json!({"id": 1, "n": 1}));
    assert_eq!(got[1]["unchanged_toast"], json!(["body"]));
}

/// Inserts ids `0..n` into `ticks`, five per transaction, while the test goes on.
fn write_ticks(db: tokio_postgres::Client, n: i32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for start in (0..n).step_by(5) {
            db.batch_execute(&format!(
                "INSERT INTO ticks (id) SELECT g FROM generate_series({start}, {}) g",
                start + 4
            ))
            .await
            .expect("insert");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

/// The slot's confirmed position after the kill never passes what Danube persisted: a row
/// committed before it that had not arrived by the restart would be lost for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing() {
    const N: i32 = 3000;
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz DEFAULT now())")
        .await
        .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-kill");
    let mut out = danube.reader(&format!("{base}_public_ticks")).await;
    let mut host = HostProcess::start(
        cdc("pg-kill", &pg, &base, "tables = \"ticks\""),
        danube.url(),
    );
    ready(&mut host).await;

    let writer = write_ticks(pg.client().await, N);
    let mut seen: BTreeMap<i64, u32> = BTreeMap::new();
    let note = |msgs: Vec<StreamMessage>, seen: &mut BTreeMap<i64, u32>| -> Vec<(i64, u64)> {
        msgs.iter()
            .map(|m| {
                let e = event(m);
                let id = e["after"]["id"].as_i64().expect("id");
                *seen.entry(id).or_default() += 1;
                let commit = e["source"]["commit_lsn"]
                    .as_str()
                    .and_then(parse_lsn)
                    .expect("lsn");
                (id, commit)
            })
            .collect()
    };
    note(out.take(600, Duration::from_secs(30)).await, &mut seen);
    assert!(seen.len() >= 600, "{}", host.log());
    host.kill9().await;
    let confirmed = confirmed_flush(&db, "pg_kill").await;
    // Everything Danube persisted before the kill is delivered now.
    note(
        out.take(N as usize, Duration::from_secs(3)).await,
        &mut seen,
    );
    let before_restart = seen.clone();
    let mut host = host.restart();
    ready(&mut host).await;
    writer.await.expect("writer");
    let mut late = Vec::new();
    while seen.len() < N as usize {
        let got = out.take(N as usize, Duration::from_secs(30)).await;
        if got.is_empty() {
            break;
        }
        late.extend(note(got, &mut seen));
    }
    let missing: Vec<i32> = (0..N)
        .filter(|i| !seen.contains_key(&(*i as i64)))
        .take(20)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {N} arrived; first missing {missing:?}\n{}",
        seen.len(),
        host.log()
    );
    let lost_if_not_replayed: Vec<&(i64, u64)> = late
        .iter()
        .filter(|(id, commit)| !before_restart.contains_key(id) && *commit < confirmed)
        .collect();
    assert!(
        lost_if_not_replayed.is_empty(),
        "the slot confirmed {confirmed:X} past rows Danube had not persisted: {:?}",
        &lost_if_not_replayed[..lost_if_not_replayed.len().min(10)]
    );
    let duplicates: u32 = seen.values().map(|c| c - 1).sum();
    eprintln!(
        "{N} of {N} arrived, {duplicates} duplicates after kill -9 at {}",
        before_restart.len()
    );
}

/// One slot has one reader: a second host with the same connector file waits as a standby,
/// naming the host that streams the slot, and takes the slot over when that host is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_host_takes_the_slot_when_the_active_one_is_killed() {
    const N: i32 = 1500;
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE ticks (id int PRIMARY KEY)")
        .await
        .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-standby");
    let mut out = danube.reader(&format!("{base}_public_ticks")).await;
    let spec = || cdc("pg-standby", &pg, &base, "tables = \"ticks\"");
    let mut active = HostProcess::start(spec(), danube.url());
    ready(&mut active).await;
    let mut standby = HostProcess::start(spec(), danube.url());
    let waiting = eventually(Duration::from_secs(30), async || {
        standby
            .log()
            .contains("replication slot pg_standby is active for PID")
            .then_some(())
    })
    .await;
    assert!(waiting.is_some(), "{}", standby.log());

    let writer = write_ticks(pg.client().await, N);
    let mut seen: BTreeMap<i64, u32> = BTreeMap::new();
    let note = |msgs: Vec<StreamMessage>, seen: &mut BTreeMap<i64, u32>| {
        for m in msgs {
            if let Some(id) = event(&m)["after"]["id"].as_i64() {
                *seen.entry(id).or_default() += 1;
            }
        }
    };
    note(out.take(400, Duration::from_secs(30)).await, &mut seen);
    assert!(seen.len() >= 400, "{}", active.log());
    active.kill9().await;
    let at_kill = seen.len();
    ready(&mut standby).await;
    writer.await.expect("writer");
    while seen.len() < N as usize {
        let got = out.take(N as usize, Duration::from_secs(30)).await;
        if got.is_empty() {
            break;
        }
        note(got, &mut seen);
    }
    let missing: Vec<i32> = (0..N)
        .filter(|i| !seen.contains_key(&(*i as i64)))
        .take(20)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {N} arrived ({at_kill} before the kill); first missing {missing:?}\n{}",
        seen.len(),
        standby.log()
    );
    let duplicates: u32 = seen.values().map(|c| c - 1).sum();
    eprintln!("{N} of {N} arrived, {duplicates} duplicates; the standby took over at {at_kill}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_database_still_moves_the_slot_with_heartbeats() {
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE watched (id int PRIMARY KEY); CREATE TABLE busy (id int)")
        .await
        .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-idle");
    let mut host = HostProcess::start(
        cdc(
            "pg-idle",
            &pg,
            &base,
            "tables = \"watched\"\nheartbeat_interval_ms = 300\nheartbeat_message = true",
        ),
        danube.url(),
    );
    ready(&mut host).await;
    let start = confirmed_flush(&db, "pg_idle").await;
    // WAL from a table nobody streams: without heartbeats the slot would retain it.
    db.batch_execute("INSERT INTO busy SELECT generate_series(1, 10000)")
        .await
        .expect("load");
    let written = current_lsn(&db).await;
    let moved = eventually(Duration::from_secs(30), async || {
        let now = confirmed_flush(&db, "pg_idle").await;
        (now >= written).then_some(now)
    })
    .await;
    assert!(
        moved.is_some(),
        "confirmed_flush_lsn stayed at {start:X} (WAL written up to {written:X})\n{}",
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_without_a_key_is_a_named_error() {
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE loose (v text)")
        .await
        .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-nokey");
    let mut host = HostProcess::start(
        cdc("pg-nokey", &pg, &base, "tables = \"loose\""),
        danube.url(),
    );
    let status = host.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(78), "{}", host.log());
    let log = host.log();
    assert!(
        log.contains("tables: public.loose has no primary key and REPLICA IDENTITY DEFAULT"),
        "{log}"
    );
    // Without a `tables` list the publication (here FOR ALL TABLES) decides, and is checked
    // the same way; an excluded keyless table is no obstacle.
    let mut whole = HostProcess::start(cdc("pg-nokey-all", &pg, &base, ""), danube.url());
    let status = whole.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(78), "{}", whole.log());
    assert!(
        whole
            .log()
            .contains("tables: public.loose has no primary key and REPLICA IDENTITY DEFAULT"),
        "{}",
        whole.log()
    );
    let mut excluded = HostProcess::start(
        cdc("pg-nokey-all", &pg, &base, "exclude_tables = [\"loose\"]"),
        danube.url(),
    );
    ready(&mut excluded).await;
    excluded.kill9().await;
    // The walsender notices the dead client a moment later.
    let dropped = eventually(Duration::from_secs(20), async || {
        db.batch_execute("SELECT pg_drop_replication_slot('pg_nokey_all')")
            .await
            .ok()
    })
    .await;
    assert!(dropped.is_some(), "the slot stayed active");
    let slots = db
        .query_one("SELECT count(*) FROM pg_replication_slots", &[])
        .await
        .expect("slots");
    assert_eq!(slots.get::<_, i64>(0), 0, "no slot left retaining WAL");
}

async fn confirmed_flush(db: &tokio_postgres::Client, slot: &str) -> u64 {
    let row = db
        .query_opt(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("pg_replication_slots");
    row.and_then(|r| r.get::<_, Option<String>>(0))
        .and_then(|s| parse_lsn(&s))
        .unwrap_or(0)
}

async fn current_lsn(db: &tokio_postgres::Client) -> u64 {
    let row = db
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("pg_current_wal_lsn");
    parse_lsn(&row.get::<_, String>(0)).expect("lsn")
}

fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// Rows present before the start arrive once each as `r`, then the changes made while the
/// snapshot was being read arrive from the stream: no gap, no double.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_stream_without_gap_or_double() {
    const ROWS: i64 = 3000;
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(&format!(
        "CREATE TABLE stock (id int PRIMARY KEY, qty int);
         INSERT INTO stock SELECT g, 0 FROM generate_series(1, {ROWS}) g;"
    ))
    .await
    .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-snap");
    let mut out = danube.reader(&format!("{base}_public_stock")).await;
    let mut host = HostProcess::start(
        cdc(
            "pg-snap",
            &pg,
            &base,
            "tables = \"stock\"\nsnapshot = \"initial\"\nsnapshot_fetch = 100",
        ),
        danube.url(),
    );
    // Changes while the snapshot is being read: new rows, and updates of snapshotted ones.
    let writer = pg.client().await;
    for i in 0..50 {
        writer
            .batch_execute(&format!(
                "INSERT INTO stock VALUES ({}, 1); UPDATE stock SET qty = 1 WHERE id = {}",
                ROWS + 1 + i,
                1 + i * 7
            ))
            .await
            .expect("change");
    }
    ready(&mut host).await;
    let mut got = out.take(ROWS as usize + 50, Duration::from_secs(60)).await;
    // The updates come on top: whatever else arrives shortly after.
    got.extend(out.take(200, Duration::from_secs(3)).await);
    let mut reads = BTreeMap::new();
    let mut creates = BTreeMap::new();
    let mut updates = 0;
    let mut first_change = None;
    for (i, m) in got.iter().enumerate() {
        let e = event(m);
        let id = e["after"]["id"].as_i64().expect("id");
        match e["op"].as_str() {
            Some("r") => {
                assert!(first_change.is_none(), "a snapshot row after a change: {e}");
                *reads.entry(id).or_insert(0) += 1;
            }
            Some("c") => {
                first_change.get_or_insert(i);
                *creates.entry(id).or_insert(0) += 1;
            }
            Some("u") => {
                first_change.get_or_insert(i);
                updates += 1;
            }
            other => panic!("unexpected op {other:?}: {e}"),
        }
    }
    let reads_once = reads.values().all(|&n| n == 1);
    let snapshot_ids = reads.keys().all(|&id| id <= ROWS + 50);
    assert!(reads_once && snapshot_ids, "{} reads", reads.len());
    assert_eq!(
        reads.len() + creates.len(),
        ROWS as usize + 50,
        "every row once, either in the snapshot or as a change\n{}",
        host.log()
    );
    assert!(creates.values().all(|&n| n == 1), "a new row twice");
    // An update committed before the snapshot's start is in the snapshot; after it, streamed.
    assert!(updates <= 50, "{updates} updates");
    assert_eq!(
        got.len(),
        reads.len() + creates.len() + updates,
        "nothing else"
    );
    let done = db
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pg_snap'",
            &[],
        )
        .await
        .expect("slots");
    assert_eq!(done.get::<_, i64>(0), 1);
}

/// While Danube refuses every publish, the host keeps the replication session alive (the
/// harness sets `wal_sender_timeout` to 5 s) and the slot confirms nothing new; once Danube
/// is back every change arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn danube_away_holds_the_slot_and_the_stream_resumes() {
    const N: i64 = 200;
    let danube = Danube::start().await;
    let Some(broker) = danube.test_broker() else {
        eprintln!("skipped: a real broker cannot be told to refuse publishes");
        return;
    };
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE events (id int PRIMARY KEY)")
        .await
        .expect("schema");
    let base = unique_topic("pg-away");
    let mut out = danube.reader(&format!("{base}_public_events")).await;
    let mut host = HostProcess::start(
        cdc(
            "pg-away",
            &pg,
            &base,
            "tables = \"events\"\nsnapshot = \"never\"",
        ),
        danube.url(),
    );
    ready(&mut host).await;
    broker.set_refuse_publishes(true);
    let before = confirmed_flush(&db, "pg_away").await;
    let pid = active_pid(&db, "pg_away").await;
    for i in 0..N {
        db.batch_execute(&format!("INSERT INTO events VALUES ({i})"))
            .await
            .expect("insert");
    }
    // Longer than wal_sender_timeout: a session whose keepalives went unanswered is cut.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(pid.is_some(), "the slot was not streamed");
    assert_eq!(
        active_pid(&db, "pg_away").await,
        pid,
        "the session was cut\n{}",
        pg.log()
    );
    let held = confirmed_flush(&db, "pg_away").await;
    assert!(
        held <= current_lsn(&db).await && out.take(1, Duration::from_millis(200)).await.is_empty(),
        "published while refused"
    );
    let inserted_from = before;
    broker.set_refuse_publishes(false);
    let got = out.take(N as usize, Duration::from_secs(60)).await;
    let ids: Vec<i64> = got
        .iter()
        .map(|m| event(m)["after"]["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(
        ids,
        (0..N).collect::<Vec<_>>(),
        "in commit order\n{}",
        host.log()
    );
    let moved = eventually(Duration::from_secs(20), async || {
        let now = confirmed_flush(&db, "pg_away").await;
        (now > inserted_from).then_some(now)
    })
    .await;
    assert!(
        moved.is_some(),
        "the slot never moved on after Danube came back"
    );
}

async fn active_pid(db: &tokio_postgres::Client, slot: &str) -> Option<i32> {
    db.query_opt(
        "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
        &[&slot],
    )
    .await
    .expect("pg_replication_slots")
    .and_then(|r| r.get::<_, Option<i32>>(0))
}

/// One transaction of 100,000 rows arrives whole and in order; a table added to the
/// publication while the connector runs is streamed from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_transaction_and_a_table_added_while_running() {
    const N: i64 = 100_000;
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TABLE bulk (id int PRIMARY KEY);
         CREATE PUBLICATION pg_bulk FOR TABLE bulk;",
    )
    .await
    .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-bulk");
    let mut bulk = danube.reader(&format!("{base}_public_bulk")).await;
    let mut late = danube.reader(&format!("{base}_public_late")).await;
    let mut host = HostProcess::start(
        cdc(
            "pg-bulk",
            &pg,
            &base,
            "create_publication = false\nsnapshot = \"never\"",
        ),
        danube.url(),
    );
    ready(&mut host).await;
    db.batch_execute(&format!("INSERT INTO bulk SELECT generate_series(1, {N})"))
        .await
        .expect("bulk insert");
    db.batch_execute(
        "CREATE TABLE late (id int PRIMARY KEY);
         ALTER PUBLICATION pg_bulk ADD TABLE late;",
    )
    .await
    .expect("late table");
    db.batch_execute("INSERT INTO late VALUES (1)")
        .await
        .expect("insert");

    // Generous: a debug build of the host on a shared 2-core machine moves ~1,000 events/s.
    let got = bulk.take(N as usize, Duration::from_secs(600)).await;
    assert_eq!(got.len(), N as usize, "{}", host.log());
    let tx = event(&got[0])["source"]["tx_id"].clone();
    for (i, m) in got.iter().enumerate() {
        let e = event(m);
        assert_eq!(
            e["after"]["id"].as_i64(),
            Some(i as i64 + 1),
            "out of order at {i}"
        );
        assert_eq!(e["source"]["tx_id"], tx, "one transaction");
    }
    let added = events(&mut late, 1).await;
    assert_eq!(added.len(), 1, "{}", host.log());
    assert_eq!(added[0]["after"]["id"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_replication_is_a_named_error() {
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE ROLE reader LOGIN PASSWORD 'reader-pw';
         CREATE TABLE t (id int PRIMARY KEY);",
    )
    .await
    .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-norepl");
    let spec = cdc("pg-norepl", &pg, &base, "tables = \"t\"");
    let spec = HostSpec {
        extra: spec
            .extra
            .replace(&format!("user = \"{SUPERUSER}\""), "user = \"reader\"")
            .replace(
                &format!("password = \"{PASSWORD}\""),
                "password = \"reader-pw\"",
            ),
        ..spec
    };
    let mut host = HostProcess::start(spec, danube.url());
    let status = host.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(78), "{}", host.log());
    let log = host.log();
    assert!(log.contains("lacks the REPLICATION privilege"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verify_full_uses_the_grants_ca_and_refuses_another() {
    let pg = Postgres::start_with(PostgresOptions {
        tls: true,
        ..Default::default()
    });
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE secure (id int PRIMARY KEY)")
        .await
        .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-tls");
    let mut out = danube.reader(&format!("{base}_public_secure")).await;
    // Verified by name: the certificate names localhost (and 127.0.0.1).
    let grant = |spec: HostSpec, ca: &std::path::Path| HostSpec {
        extra: spec
            .extra
            .replace(
                "allowed_hosts = [\"127.0.0.1:*\"]\n",
                &format!(
                    "allowed_hosts = [\"localhost:*\"]\ntls = \"verify-full\"\nca_file = \"{}\"\n",
                    ca.display()
                ),
            )
            .replace("host = \"127.0.0.1\"", "host = \"localhost\""),
        ..spec
    };
    let spec = cdc("pg-tls", &pg, &base, "tables = \"secure\"");
    let mut host = HostProcess::start(grant(spec, &pg.ca()), danube.url());
    ready(&mut host).await;
    db.batch_execute("INSERT INTO secure VALUES (1)")
        .await
        .expect("insert");
    let got = events(&mut out, 1).await;
    assert_eq!(got.len(), 1, "{}", host.log());
    let ssl = db
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND application_name LIKE 'danube-connect%'",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    assert!(
        ssl.get::<_, i64>(0) >= 2,
        "SQL and replication sessions use TLS"
    );
    drop(host);

    let other = tempfile::tempdir().expect("tempdir");
    let stranger = danube_connect_tests::harness::certificates::make(other.path());
    let spec = cdc("pg-tls-wrong", &pg, &base, "tables = \"secure\"");
    let host = HostProcess::start(grant(spec, &stranger.ca), danube.url());
    let refused = eventually(Duration::from_secs(30), async || {
        let log = host.log();
        log.contains("invalid peer certificate").then_some(log)
    })
    .await;
    assert!(refused.is_some(), "no certificate error\n{}", host.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_level_below_logical_is_a_named_error() {
    let pg = Postgres::start_with(PostgresOptions {
        wal_level: "replica",
        ..Default::default()
    });
    let danube = Danube::start().await;
    let base = unique_topic("pg-replica");
    let mut host = HostProcess::start(cdc("pg-replica", &pg, &base, ""), danube.url());
    let status = host.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(78), "{}", host.log());
    let log = host.log();
    assert!(
        log.contains("wal_level is replica: set wal_level = logical"),
        "{log}"
    );
}

/// A slot another client holds is reported with that client's PID and waited for; once it
/// is free the connector streams from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_streamed_elsewhere_is_named_and_waited_for() {
    let pg = Postgres::start();
    let db = pg.client().await;
    for sql in [
        "CREATE TABLE shared (id int PRIMARY KEY)",
        "CREATE PUBLICATION pg_busy FOR TABLE shared",
        "SELECT pg_create_logical_replication_slot('pg_busy', 'pgoutput')",
    ] {
        db.batch_execute(sql).await.expect(sql);
    }
    let mut other = std::process::Command::new(postgres::tool("pg_recvlogical"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port().to_string(),
            "-U",
            SUPERUSER,
        ])
        .args([
            "-d",
            "postgres",
            "--slot",
            "pg_busy",
            "--start",
            "-f",
            "/dev/null",
        ])
        .args(["-o", "proto_version=1", "-o", "publication_names=pg_busy"])
        .env("PGPASSWORD", PASSWORD)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("pg_recvlogical");
    let held = eventually(Duration::from_secs(10), async || {
        db.query_one(
            "SELECT active FROM pg_replication_slots WHERE slot_name = 'pg_busy'",
            &[],
        )
        .await
        .ok()
        .and_then(|r| r.get::<_, bool>(0).then_some(()))
    })
    .await;
    assert!(held.is_some(), "pg_recvlogical did not take the slot");
    let danube = Danube::start().await;
    let base = unique_topic("pg-busy");
    let mut out = danube.reader(&format!("{base}_public_shared")).await;
    let mut host = HostProcess::start(
        cdc("pg-busy", &pg, &base, "snapshot = \"never\""),
        danube.url(),
    );
    let named = eventually(Duration::from_secs(30), async || {
        host.log()
            .contains("replication slot pg_busy is active for PID")
            .then_some(())
    })
    .await;
    assert!(named.is_some(), "{}", host.log());
    let _ = other.kill();
    let _ = other.wait();
    ready(&mut host).await;
    db.batch_execute("INSERT INTO shared VALUES (7)")
        .await
        .expect("insert");
    let got = events(&mut out, 1).await;
    assert_eq!(got.len(), 1, "{}", host.log());
    assert_eq!(got[0]["after"]["id"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_dropped_mid_stream_is_named_and_the_others_go_on() {
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TABLE keep (id int PRIMARY KEY); CREATE TABLE doomed (id int PRIMARY KEY)",
    )
    .await
    .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-drop");
    let mut keep = danube.reader(&format!("{base}_public_keep")).await;
    let mut doomed = danube.reader(&format!("{base}_public_doomed")).await;
    let mut host = HostProcess::start(
        cdc(
            "pg-drop",
            &pg,
            &base,
            "tables = \"keep, doomed\"\nheartbeat_interval_ms = 200",
        ),
        danube.url(),
    );
    ready(&mut host).await;
    db.batch_execute("INSERT INTO doomed VALUES (1)")
        .await
        .expect("insert");
    assert_eq!(events(&mut doomed, 1).await.len(), 1, "{}", host.log());
    db.batch_execute("DROP TABLE doomed").await.expect("drop");
    let named = eventually(Duration::from_secs(20), async || {
        host.log()
            .contains("tables: public.doomed was dropped")
            .then_some(())
    })
    .await;
    assert!(named.is_some(), "{}", host.log());
    db.batch_execute("INSERT INTO keep VALUES (2)")
        .await
        .expect("insert");
    let got = events(&mut keep, 1).await;
    assert_eq!(got.len(), 1, "{}", host.log());
    assert_eq!(got[0]["after"]["id"], 2);
}

/// `initial_only`: the rows, then nothing; the slot is dropped once Danube persisted them, so
/// it retains no WAL, and a restart does not read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_only_reads_the_rows_then_drops_its_slot() {
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TABLE seed (id int PRIMARY KEY);
         INSERT INTO seed SELECT generate_series(1, 250);",
    )
    .await
    .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-once");
    let mut out = danube.reader(&format!("{base}_public_seed")).await;
    let mut host = HostProcess::start(
        cdc(
            "pg-once",
            &pg,
            &base,
            "tables = \"seed\"\nsnapshot = \"initial_only\"\nsnapshot_fetch = 100",
        ),
        danube.url(),
    );
    ready(&mut host).await;
    let got = events(&mut out, 250).await;
    assert_eq!(got.len(), 250, "{}", host.log());
    assert!(got.iter().all(|e| e["op"] == "r"));
    let dropped = eventually(Duration::from_secs(20), async || {
        let n: i64 = db
            .query_one("SELECT count(*) FROM pg_replication_slots", &[])
            .await
            .ok()?
            .get(0);
        (n == 0).then_some(())
    })
    .await;
    assert!(dropped.is_some(), "the slot stayed\n{}", host.log());
    db.batch_execute("INSERT INTO seed VALUES (1000)")
        .await
        .expect("insert");
    let mut host = host.restart();
    ready(&mut host).await;
    let more = out.take(1, Duration::from_secs(3)).await;
    assert!(
        more.is_empty(),
        "read again after the restart\n{}",
        host.log()
    );
}

/// A snapshot cut short by `kill -9` is taken again on a new slot: every row arrives, and
/// changes made meanwhile too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_killed_halfway_is_taken_again() {
    const ROWS: i64 = 8_000;
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(&format!(
        "CREATE TABLE big (id int PRIMARY KEY);
         INSERT INTO big SELECT generate_series(1, {ROWS});"
    ))
    .await
    .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pg-resnap");
    let mut out = danube.reader(&format!("{base}_public_big")).await;
    let mut host = HostProcess::start(
        cdc(
            "pg-resnap",
            &pg,
            &base,
            "tables = \"big\"\nsnapshot_fetch = 100",
        ),
        danube.url(),
    );
    ready(&mut host).await;
    let mut seen = BTreeMap::new();
    for m in out.take(1500, Duration::from_secs(30)).await {
        *seen
            .entry(event(&m)["after"]["id"].as_i64().expect("id"))
            .or_insert(0) += 1;
    }
    assert!(seen.len() >= 1500, "{}", host.log());
    host.kill9().await;
    db.batch_execute(&format!("INSERT INTO big VALUES ({})", ROWS + 1))
        .await
        .expect("insert");
    let mut host = host.restart();
    ready(&mut host).await;
    while seen.len() < ROWS as usize + 1 {
        let got = out.take(ROWS as usize, Duration::from_secs(30)).await;
        if got.is_empty() {
            break;
        }
        for m in got {
            *seen
                .entry(event(&m)["after"]["id"].as_i64().expect("id"))
                .or_insert(0) += 1;
        }
    }
    let missing: Vec<i64> = (1..=ROWS + 1)
        .filter(|i| !seen.contains_key(i))
        .take(10)
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}\n{}", host.log());
    assert!(
        host.log().contains("the last snapshot did not finish"),
        "{}",
        host.log()
    );
}

#[cfg(feature = "typed")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_table_is_published_under_its_json_schema_and_ddl_makes_a_new_version() {
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, note text, at timestamptz, tags text[]);
         INSERT INTO orders VALUES (1, 'before start', '2024-01-02 03:04:05+00', '{a}');",
    )
    .await
    .expect("schema");
    let danube = Danube::start().await;
    let base = unique_topic("pgtyped");
    let subject_base = base.replace('/', "_");
    let mut orders = danube.reader(&format!("{base}_public_orders")).await;
    let config = format!(
        "schema_subject = \"{subject_base}-{{schema}}-{{table}}\"\nschema_compatibility = \"backward\""
    );
    let mut host = HostProcess::start(cdc("pg-typed", &pg, &base, &config), danube.url());
    ready(&mut host).await;
    db.batch_execute("INSERT INTO orders VALUES (2, 'streamed', NULL, '{b,c}')")
        .await
        .expect("insert");
    let first = orders.take(2, Duration::from_secs(30)).await;
    assert_eq!(first.len(), 2, "{}", host.log());

    db.batch_execute("ALTER TABLE orders ADD COLUMN qty int")
        .await
        .expect("ddl");
    db.batch_execute("INSERT INTO orders VALUES (3, 'after ddl', NULL, NULL, 7)")
        .await
        .expect("insert");
    let later = orders.take(1, Duration::from_secs(30)).await;
    assert_eq!(later.len(), 1, "{}", host.log());

    let subject = format!("{subject_base}-public-orders");
    let registry = danube.client().await.schema();
    let latest = registry
        .get_latest_schema(&subject)
        .await
        .expect("registered");
    assert_eq!(latest.version, 2, "a new version after ADD COLUMN");
    for (m, version) in first
        .iter()
        .map(|m| (m, 1))
        .chain(later.iter().map(|m| (m, 2)))
    {
        assert_eq!(m.schema_id, Some(latest.schema_id), "{:?}", event(m));
        assert_eq!(m.schema_version, Some(version), "{:?}", event(m));
        // Every event is valid under the version it names.
        let info = registry
            .get_schema_version(latest.schema_id, Some(version))
            .await
            .expect("version");
        let definition =
            danube_connect_tests::harness::typed::registered_definition(&info.schema_definition);
        let validator = jsonschema::validator_for(&definition).expect("a JSON Schema");
        let e = event(m);
        assert!(validator.is_valid(&e), "{e} under v{version}: {definition}");
        let row = &definition["$defs"]["row"]["properties"];
        assert_eq!(row["qty"].is_null(), version == 1, "{definition}");
    }
    assert_eq!(event(&first[0])["op"], "r");
    assert_eq!(event(&later[0])["after"]["qty"], 7);
}
