//! Delivery rules of a subscription, without the network.

use super::channel::{StreamReceiver, stream_channel};
use super::log::MessageLog;
use super::message::StoredMessage;
use super::subscription::{SubKind, Subscription, glob};
use danube_core::proto::StreamMessage;
use futures::task::noop_waker_ref;
use std::task::{Context, Poll};

fn log_with(count: u64) -> MessageLog {
    let mut log = MessageLog::default();
    for offset in 0..count {
        log.append(StoredMessage::new(
            StreamMessage::default(),
            offset,
            1,
            "/default/t",
            "http://127.0.0.1:1",
        ));
    }
    log
}

/// Offsets waiting in a stream, without blocking.
fn drain(rx: &mut StreamReceiver) -> Vec<u64> {
    let mut cx = Context::from_waker(noop_waker_ref());
    let mut offsets = Vec::new();
    while let Poll::Ready(Some(Ok(message))) = rx.poll_recv(&mut cx) {
        offsets.extend(message.msg_id.map(|id| id.topic_offset));
    }
    offsets
}

fn ids() -> impl FnMut() -> u64 {
    let mut next = 0;
    move || {
        next += 1;
        next
    }
}

#[test]
fn delivers_no_more_than_the_window() -> Result<(), tonic::Status> {
    let log = log_with(3);
    let mut sub = Subscription::new("s", SubKind::Exclusive, 0);
    let id = sub.join("c", SubKind::Exclusive, ids())?;
    let (tx, mut rx) = stream_channel(None);
    assert!(sub.open_stream(id, 100, tx));
    sub.dispatch(&log, 2);
    assert_eq!(drain(&mut rx), vec![0, 1]);

    assert!(sub.ack(0));
    assert!(!sub.ack(0), "a second ack is a no-op");
    sub.dispatch(&log, 2);
    assert_eq!(drain(&mut rx), vec![2]);
    assert_eq!(sub.floor(), 1);
    Ok(())
}

#[test]
fn a_closed_stream_hands_its_unacked_to_the_next_consumer() -> Result<(), tonic::Status> {
    let log = log_with(3);
    let mut sub = Subscription::new("s", SubKind::Shared, 0);
    let mut new_id = ids();
    let first = sub.join("a", SubKind::Shared, &mut new_id)?;
    let (tx, mut rx_first) = stream_channel(None);
    sub.open_stream(first, 100, tx);
    sub.dispatch(&log, 10);
    assert_eq!(drain(&mut rx_first), vec![0, 1, 2]);
    sub.ack(1);

    // A stale generation does not detach the consumer.
    assert!(!sub.close_stream(first, 99));
    assert!(sub.close_stream(first, 100));

    let second = sub.join("b", SubKind::Shared, &mut new_id)?;
    let (tx, mut rx_second) = stream_channel(None);
    sub.open_stream(second, 101, tx);
    sub.dispatch(&log, 10);
    assert_eq!(drain(&mut rx_second), vec![0, 2]);
    Ok(())
}

#[test]
fn shared_consumers_take_turns() -> Result<(), tonic::Status> {
    let log = log_with(4);
    let mut sub = Subscription::new("s", SubKind::Shared, 0);
    let mut new_id = ids();
    let a = sub.join("a", SubKind::Shared, &mut new_id)?;
    let b = sub.join("b", SubKind::Shared, &mut new_id)?;
    let (tx_a, mut rx_a) = stream_channel(None);
    let (tx_b, mut rx_b) = stream_channel(None);
    sub.open_stream(a, 100, tx_a);
    sub.open_stream(b, 101, tx_b);
    sub.dispatch(&log, 10);
    assert_eq!(drain(&mut rx_a), vec![0, 2]);
    assert_eq!(drain(&mut rx_b), vec![1, 3]);
    Ok(())
}

#[test]
fn exclusive_admits_one_consumer_but_lets_it_reconnect() -> Result<(), tonic::Status> {
    let mut sub = Subscription::new("s", SubKind::Exclusive, 0);
    let mut new_id = ids();
    let id = sub.join("a", SubKind::Exclusive, &mut new_id)?;
    let refused = sub.join("b", SubKind::Exclusive, &mut new_id);
    assert_eq!(
        refused.err().map(|s| s.code()),
        Some(tonic::Code::PermissionDenied)
    );
    let other_kind = sub.join("b", SubKind::Shared, &mut new_id);
    assert_eq!(
        other_kind.err().map(|s| s.code()),
        Some(tonic::Code::PermissionDenied)
    );
    assert_eq!(sub.join("a", SubKind::Exclusive, &mut new_id)?, id);
    Ok(())
}

#[test]
fn nack_redelivers_and_delay_holds_back() -> Result<(), tonic::Status> {
    let log = log_with(1);
    let mut sub = Subscription::new("s", SubKind::Exclusive, 0);
    let id = sub.join("a", SubKind::Exclusive, ids())?;
    let (tx, mut rx) = stream_channel(None);
    sub.open_stream(id, 100, tx);
    sub.dispatch(&log, 10);
    assert_eq!(drain(&mut rx), vec![0]);

    assert!(sub.nack(0, false));
    sub.dispatch(&log, 10);
    assert_eq!(drain(&mut rx), vec![0]);

    assert!(sub.nack(0, true));
    sub.dispatch(&log, 10);
    assert!(drain(&mut rx).is_empty());
    assert_eq!(sub.floor(), 0, "a delayed message is still needed");
    assert!(sub.release(0));
    sub.dispatch(&log, 10);
    assert_eq!(drain(&mut rx), vec![0]);
    Ok(())
}

#[test]
fn the_log_drops_what_no_one_needs() {
    let mut log = log_with(5);
    log.trim(3);
    assert!(log.get(2).is_none());
    assert_eq!(log.get(3).map(|m| m.offset), Some(3));
    assert_eq!(log.next_offset(), 5);
    log.trim(5);
    assert!(log.get(4).is_none());
    assert_eq!(log.next_offset(), 5);
}

#[test]
fn a_subscription_past_its_lag_limit_stalls_for_good() -> Result<(), tonic::Status> {
    use super::options::{LagLimit, OnLag};
    let limit = LagLimit {
        behind: 5,
        then: OnLag::Stall,
    };
    let mut sub = Subscription::new("s", SubKind::Exclusive, 0).with_lag_limit(Some(limit));
    let id = sub.join("c", SubKind::Exclusive, ids())?;
    let (tx, mut rx) = stream_channel(None);
    assert!(sub.open_stream(id, 100, tx));
    sub.dispatch(&log_with(4), 2);
    assert_eq!(drain(&mut rx), vec![0, 1]);
    let log = log_with(10);
    sub.dispatch(&log, 2);
    assert!(sub.ack(0) && sub.ack(1));
    sub.dispatch(&log, 2);
    assert!(
        drain(&mut rx).is_empty(),
        "stalled: nothing more is dispatched"
    );
    assert_eq!(sub.lag(&log), 8, "the broker still reports what waits");
    // A consumer coming back does not revive it.
    let again = sub.join("c", SubKind::Exclusive, ids())?;
    let (tx, mut rx) = stream_channel(None);
    assert!(sub.open_stream(again, 101, tx));
    sub.dispatch(&log, 2);
    assert!(drain(&mut rx).is_empty());
    Ok(())
}

#[test]
fn a_subscription_past_its_lag_limit_skips_the_oldest() -> Result<(), tonic::Status> {
    use super::options::{LagLimit, OnLag};
    let limit = LagLimit {
        behind: 6,
        then: OnLag::Skip,
    };
    let mut sub = Subscription::new("s", SubKind::Exclusive, 0).with_lag_limit(Some(limit));
    let id = sub.join("c", SubKind::Exclusive, ids())?;
    let (tx, mut rx) = stream_channel(None);
    assert!(sub.open_stream(id, 100, tx));
    sub.dispatch(&log_with(10), 2);
    assert_eq!(
        drain(&mut rx),
        vec![7, 8],
        "skipped to half the limit behind the head"
    );
    Ok(())
}

/// Messages `0..keys.len()`, each with its routing key.
fn keyed_log(keys: &[String]) -> MessageLog {
    let mut log = MessageLog::default();
    for (offset, key) in keys.iter().enumerate() {
        let proto = StreamMessage {
            routing_key: Some(key.clone()),
            ..StreamMessage::default()
        };
        log.append(StoredMessage::new(
            proto,
            offset as u64,
            1,
            "/default/t",
            "http://127.0.0.1:1",
        ));
    }
    log
}

#[test]
fn globs_match_like_the_broker_documents() {
    assert!(glob("eu-*", "eu-west-1") && glob("*", "") && glob("eu-?", "eu-1"));
    assert!(glob("*-1", "eu-west-1") && glob("a*b*c", "aXbYc") && glob("exact", "exact"));
    assert!(!glob("eu-*", "us-east-1") && !glob("eu-?", "eu-12") && !glob("a*b", "ac"));
}

#[test]
fn key_shared_keeps_keys_in_place_when_a_consumer_leaves() -> Result<(), tonic::Status> {
    let keys: Vec<String> = (0..200).map(|i| format!("k{}", i % 40)).collect();
    let log = keyed_log(&keys);
    let mut sub = Subscription::new("s", SubKind::KeyShared, 0);
    let mut new_id = ids();
    let mut rx = Vec::new();
    let mut members = Vec::new();
    for (n, name) in ["a", "b", "c"].into_iter().enumerate() {
        let id = sub.join(name, SubKind::KeyShared, &mut new_id)?;
        let (tx, r) = stream_channel(None);
        sub.open_stream(id, 100 + n as u64, tx);
        members.push(id);
        rx.push(r);
    }
    // First half: every key goes to exactly one consumer.
    let mut owner = std::collections::HashMap::new();
    sub.dispatch(&keyed_log(&keys[..100]), 1000);
    for (who, r) in rx.iter_mut().enumerate() {
        for offset in drain(r) {
            sub.ack(offset);
            let previous = owner.insert(keys[offset as usize].clone(), who);
            assert!(previous.is_none_or(|p| p == who), "a key on two consumers");
        }
    }
    assert_eq!(
        owner
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        3
    );
    // `c` leaves: the others keep their keys and take over only c's.
    assert!(sub.close_stream(members[2], 102));
    sub.dispatch(&log, 1000);
    for (who, r) in rx.iter_mut().take(2).enumerate() {
        for offset in drain(r) {
            let key = &keys[offset as usize];
            let before = owner[key];
            assert!(
                before == who || before == 2,
                "{key} moved from {before} to {who}"
            );
        }
    }
    Ok(())
}

#[test]
fn key_filters_choose_the_consumer_and_unwanted_keys_are_skipped() -> Result<(), tonic::Status> {
    let keys: Vec<String> = ["eu-1", "us-1", "ap-1", "eu-2"].map(String::from).to_vec();
    let log = keyed_log(&keys);
    let mut sub = Subscription::new("s", SubKind::KeyShared, 0);
    let mut new_id = ids();
    let eu = sub.join("eu", SubKind::KeyShared, &mut new_id)?;
    sub.filter_keys(eu, vec!["eu-*".into()]);
    let us = sub.join("us", SubKind::KeyShared, &mut new_id)?;
    sub.filter_keys(us, vec!["us-?".into()]);
    let (tx_eu, mut rx_eu) = stream_channel(None);
    let (tx_us, mut rx_us) = stream_channel(None);
    sub.open_stream(eu, 100, tx_eu);
    sub.open_stream(us, 101, tx_us);
    sub.dispatch(&log, 10);
    assert_eq!(drain(&mut rx_eu), vec![0, 3]);
    assert_eq!(drain(&mut rx_us), vec![1]);
    // `ap-1` was skipped, not held: nothing waits once the others are acked.
    for offset in [0, 1, 3] {
        sub.ack(offset);
    }
    assert_eq!(sub.floor(), 4);
    Ok(())
}

#[test]
fn a_departed_key_shared_consumers_unacked_are_dropped_when_asked() -> Result<(), tonic::Status> {
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let log = keyed_log(&keys);
    for drops in [false, true] {
        let mut sub = Subscription::new("s", SubKind::KeyShared, 0).with_departed_dropped(drops);
        let mut new_id = ids();
        let a = sub.join("a", SubKind::KeyShared, &mut new_id)?;
        let b = sub.join("b", SubKind::KeyShared, &mut new_id)?;
        let (tx_a, mut rx_a) = stream_channel(None);
        let (tx_b, mut rx_b) = stream_channel(None);
        sub.open_stream(a, 100, tx_a);
        sub.open_stream(b, 101, tx_b);
        sub.dispatch(&log, 100);
        let held_by_a = drain(&mut rx_a);
        assert!(!held_by_a.is_empty());
        for offset in drain(&mut rx_b) {
            sub.ack(offset);
        }
        assert!(sub.close_stream(a, 100));
        sub.dispatch(&log, 100);
        let again = drain(&mut rx_b);
        if drops {
            assert!(again.is_empty(), "dropped, not redelivered: {again:?}");
            assert_eq!(sub.floor(), 20);
        } else {
            assert_eq!(again, held_by_a);
        }
    }
    Ok(())
}
