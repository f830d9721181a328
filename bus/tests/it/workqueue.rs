//! `WorkQueue` and the function library against a real redis-server: reads
//! that find nothing, a group that disappeared, a consumer that died, an
//! entry that can never be processed, a Redis that lost its functions, and
//! the keys a client can cause, which all expire.

use std::sync::Arc;
use std::time::Duration;

use bus::{Arg, Function, RedisBus, RedisHandle, WorkQueue};
use testkit::RedisServer;
use tokio_util::sync::CancellationToken;

use crate::{Recorder, config};

async fn handle(server: &RedisServer) -> (RedisHandle, tokio_util::sync::DropGuard) {
    let stop = CancellationToken::new();
    let bus = RedisBus::connect(&server.url(), config(10), Arc::new(Recorder::default()), stop.clone()).await.unwrap();
    (bus.handle().clone(), stop.drop_guard())
}

fn text(s: &str) -> Arg {
    Arg::from(s)
}

#[tokio::test]
async fn an_empty_queue_reads_nothing_with_and_without_waiting() {
    let server = RedisServer::start();
    let (h, _stop) = handle(&server).await;
    let q = WorkQueue::new(h, "mq:{test}:q", "g");
    q.ensure_group().await.unwrap();
    q.ensure_group().await.unwrap(); // BUSYGROUP is success
    assert!(q.read_new("c1", 10, None).await.unwrap().is_empty());
    assert!(q.read_new("c1", 10, Some(Duration::from_millis(50))).await.unwrap().is_empty());
    assert!(q.read_own_pending("c1", 10).await.unwrap().is_empty());
    assert!(q.claim_idle("c2", Duration::ZERO, 10).await.unwrap().is_empty());
    assert_eq!(q.backlog().await.unwrap(), 0);
}

#[tokio::test]
async fn entries_are_read_once_redelivered_to_their_consumer_and_gone_when_acknowledged() {
    let server = RedisServer::start();
    let (h, _stop) = handle(&server).await;
    let q = WorkQueue::new(h, "mq:{test}:q", "g");
    q.ensure_group().await.unwrap();
    let a = q.add(vec![("d", text("a")), ("n", Arg::Int(1))], Some(1000)).await.unwrap();
    let b = q.add(vec![("d", text("b"))], None).await.unwrap();
    let first = q.read_new("c1", 10, Some(Duration::from_millis(100))).await.unwrap();
    assert_eq!(first.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [a.as_str(), b.as_str()]);
    assert_eq!(first[0].field("d"), Some("a"));
    assert_eq!(first[0].field("n"), Some("1"));
    assert_eq!(first[0].field("missing"), None);
    // Read once: a second read finds nothing new.
    assert!(q.read_new("c1", 10, None).await.unwrap().is_empty());
    // After a restart the consumer finds what it had not acknowledged.
    q.ack(&a, true).await.unwrap();
    let pending = q.read_own_pending("c1", 10).await.unwrap();
    assert_eq!(pending.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [b.as_str()]);
    assert_eq!(q.backlog().await.unwrap(), 1, "acknowledged and deleted: only b is left");
}

#[tokio::test]
async fn a_dead_consumers_entries_are_claimed_after_the_idle_time_unless_touched() {
    let server = RedisServer::start();
    let (h, _stop) = handle(&server).await;
    let q = WorkQueue::new(h, "mq:{test}:q", "g");
    q.ensure_group().await.unwrap();
    let a = q.add(vec![("d", text("a"))], None).await.unwrap();
    let b = q.add(vec![("d", text("b"))], None).await.unwrap();
    assert_eq!(q.read_new("dead", 10, None).await.unwrap().len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The consumer still works on b: touching it resets its idle time.
    q.touch("dead", &b).await.unwrap();
    let claimed = q.claim_idle("alive", Duration::from_millis(200), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [a.as_str()]);
    assert_eq!(claimed[0].field("d"), Some("a"));
    // Now a is the new consumer's: it finds it among its own pending.
    let own = q.read_own_pending("alive", 10).await.unwrap();
    assert_eq!(own.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [a.as_str()]);
}

#[tokio::test]
async fn idle_entries_behind_many_live_ones_are_all_found_by_following_the_cursor() {
    let server = RedisServer::start();
    let (h, _stop) = handle(&server).await;
    let q = WorkQueue::new(h, "mq:{test}:q", "g");
    q.ensure_group().await.unwrap();
    // The pending list is in id order: 60 entries a live consumer works on,
    // then 30 a dead one left.
    let mut live = Vec::new();
    for i in 0..60 {
        live.push(q.add(vec![("d", text(&format!("live-{i}")))], None).await.unwrap());
    }
    assert_eq!(q.read_new("live", 100, None).await.unwrap().len(), 60);
    for i in 0..30 {
        q.add(vec![("d", text(&format!("dead-{i}")))], None).await.unwrap();
    }
    assert_eq!(q.read_new("dead", 100, None).await.unwrap().len(), 30);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in &live {
        q.touch("live", id).await.unwrap();
    }
    // A single call from the start scans about ten times COUNT entries, all live here.
    assert!(q.claim_idle("taker", Duration::from_millis(200), 2).await.unwrap().is_empty(), "behind the live ones");
    // One call of COUNT 2 scans about 20 entries; following the cursor
    // finds every idle one, and no live one.
    let mut cursor = bus::CLAIM_START.to_owned();
    let mut claimed = Vec::new();
    for _ in 0..100 {
        let (items, next) = q.claim_idle_from("taker", Duration::from_millis(200), 2, &cursor).await.unwrap();
        claimed.extend(items);
        if next == bus::CLAIM_START {
            break;
        }
        cursor = next;
    }
    assert_eq!(claimed.len(), 30, "every idle entry");
    assert!(claimed.iter().all(|i| i.field("d").is_some_and(|d| d.starts_with("dead-"))));
}

#[tokio::test]
async fn a_missing_group_is_recreated_and_the_read_is_empty_not_an_error() {
    let server = RedisServer::start();
    let (h, _stop) = handle(&server).await;
    let q = WorkQueue::new(h.clone(), "mq:{test}:q", "g");
    q.ensure_group().await.unwrap();
    // The stream (and its group) disappears, as after a restart without persistence.
    h.cmd("DEL", vec![text("mq:{test}:q")]).await.unwrap();
    assert!(q.read_new("c1", 10, None).await.unwrap().is_empty());
    assert!(q.claim_idle("c1", Duration::ZERO, 10).await.unwrap().is_empty());
    // The group is back: a new entry is read.
    let id = q.add(vec![("d", text("x"))], None).await.unwrap();
    let got = q.read_new("c1", 10, None).await.unwrap();
    assert_eq!(got.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
}

#[tokio::test]
async fn an_entry_deleted_while_pending_is_acknowledged_not_returned() {
    let server = RedisServer::start();
    let (h, _stop) = handle(&server).await;
    let q = WorkQueue::new(h.clone(), "mq:{test}:q", "g");
    q.ensure_group().await.unwrap();
    let a = q.add(vec![("d", text("a"))], None).await.unwrap();
    assert_eq!(q.read_new("c1", 10, None).await.unwrap().len(), 1);
    h.cmd("XDEL", vec![text("mq:{test}:q"), text(&a)]).await.unwrap();
    assert!(q.read_own_pending("c1", 10).await.unwrap().is_empty());
    let pending = h.cmd("XPENDING", vec![text("mq:{test}:q"), text("g")]).await.unwrap();
    assert_eq!(pending.into_array()[0].as_u64(), Some(0), "the stale pending entry was acknowledged");
}

#[tokio::test]
async fn an_unprocessable_entry_moves_to_the_dead_letter_stream_with_its_reason() {
    let server = RedisServer::start();
    let (h, _stop) = handle(&server).await;
    let q = WorkQueue::new(h.clone(), "mq:{test}:q", "g");
    q.ensure_group().await.unwrap();
    q.add(vec![("d", text("{not json"))], None).await.unwrap();
    let item = q.read_new("c1", 1, None).await.unwrap().remove(0);
    q.dead_letter(&item, "unreadable").await.unwrap();
    assert_eq!(q.backlog().await.unwrap(), 0, "gone from the queue");
    assert!(q.read_own_pending("c1", 10).await.unwrap().is_empty(), "and acknowledged");
    assert_eq!(q.dead_letters().await.unwrap(), 1);
    let dead = h.cmd("XRANGE", vec![text(&q.dead_letter_stream()), text("-"), text("+")]).await.unwrap();
    let entry = dead.into_array().remove(0).into_array();
    let fields: Vec<String> = entry[1].clone().into_array().iter().filter_map(|f| f.to_text()).collect();
    assert_eq!(fields, ["d", "{not json", "reason", "unreadable", "from", item.id.as_str()]);
}

#[tokio::test]
async fn a_redis_that_lost_its_functions_gets_the_library_again_on_the_next_call() {
    let server = RedisServer::start();
    let (h, _stop) = handle(&server).await;
    let listed = h.cmd("FUNCTION", vec![text("LIST")]).await.unwrap();
    assert!(format!("{listed:?}").contains("marquee"), "loaded on connect");
    // What a restart without persistence does to the library.
    h.cmd("FUNCTION", vec![text("FLUSH")]).await.unwrap();
    let keys = vec!["mq:{test}:lease".to_owned()];
    h.cmd("SET", vec![text("mq:{test}:lease"), text("token-1")]).await.unwrap();
    let released = h.call(Function::LeaseRelease, keys.clone(), vec![text("token-1")]).await.unwrap();
    assert_eq!(released.as_i64(), Some(1), "the call ran after the reload");
    assert_eq!(h.cmd("EXISTS", vec![text("mq:{test}:lease")]).await.unwrap().as_i64(), Some(0));
    // A wrong token leaves the lease alone.
    h.cmd("SET", vec![text("mq:{test}:lease"), text("token-2")]).await.unwrap();
    let kept = h.call(Function::LeaseRelease, keys, vec![text("token-1")]).await.unwrap();
    assert_eq!(kept.as_i64(), Some(0));
}

#[tokio::test]
async fn every_key_a_client_can_cause_expires() {
    let server = RedisServer::start();
    let stop = CancellationToken::new();
    let bus = bus::Bus::Redis(
        RedisBus::connect(&server.url(), config(10), Arc::new(Recorder::default()), stop.clone()).await.unwrap(),
    );
    let h = match &bus {
        bus::Bus::Redis(rb) => rb.handle().clone(),
        bus::Bus::Memory(_) => unreachable!("redis"),
    };
    // What a guest can do with fresh names: read history, join rooms, mark
    // them read, be present; and what publishing leaves.
    for i in 0..20 {
        let t = bus::Topic::parse(&format!("room:fresh-{i}")).unwrap();
        bus.history_after(&t, 0, 10).await.unwrap();
        bus.history_before(&t, None, 10).await.unwrap();
        bus.add_member(&format!("guest-{i}"), &t).await.unwrap();
        bus.mark_read(&t, &format!("guest-{i}"), 5).await.unwrap();
    }
    let t = bus::Topic::parse("room:used").unwrap();
    bus.publish(&t, bytes::Bytes::from_static(b"{}")).await.unwrap();
    bus.publish_idempotent(&t, bytes::Bytes::from_static(b"{}"), "guest-0:k1").await.unwrap();
    bus.mark_read(&t, "guest-0", 1).await.unwrap();
    bus.presence_add(&t, "s1", bytes::Bytes::from_static(b"{}")).await.unwrap();
    let keys = h.cmd("KEYS", vec![text("*")]).await.unwrap().into_array();
    assert!(keys.len() > 40, "the keys were made: {}", keys.len());
    let idempotency = bus::keys::TopicKeys::new(&t);
    for k in [idempotency.idempotency, idempotency.idempotency_expiry] {
        assert!(keys.iter().any(|x| x.to_text().as_deref() == Some(k.as_str())), "{k} was made");
    }
    let mut forever = Vec::new();
    for k in keys {
        let name = k.to_text().unwrap();
        if h.cmd("TTL", vec![text(&name)]).await.unwrap().as_i64() == Some(-1) {
            forever.push(name);
        }
    }
    assert!(forever.is_empty(), "keys without a TTL: {forever:?}");
}
