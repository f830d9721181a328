//! The bus test suite. Every topic test runs against both engines: the
//! in-process one and the Redis one on a real redis-server started on a free
//! port. `workqueue.rs` tests what only Redis has: work queues and the
//! function library.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

mod workqueue;

use bus::{Bus, BusConfig, BusEvent, Deliver, MemoryBus, RedisBus, Topic};
use bytes::Bytes;
use testkit::{RedisServer, eventually};
use tokio_util::sync::CancellationToken;

/// Records what the bus delivered to a node.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, BusEvent)>>,
    resyncs: Mutex<u32>,
}

impl Deliver for Recorder {
    fn deliver(&self, topic: &Topic, event: BusEvent) {
        self.events.lock().unwrap().push((topic.to_string(), event));
    }
    fn resync(&self) {
        *self.resyncs.lock().unwrap() += 1;
    }
}

impl Recorder {
    fn offsets(&self, topic: &str) -> Vec<u64> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == topic)
            .filter_map(|(_, e)| match e {
                BusEvent::Publication { offset, .. } => Some(*offset),
                _ => None,
            })
            .collect()
    }
    fn presence_events(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, e)| match e {
                BusEvent::Join(i) => Some(format!("join {}", String::from_utf8_lossy(i))),
                BusEvent::Leave(i) => Some(format!("leave {}", String::from_utf8_lossy(i))),
                _ => None,
            })
            .collect()
    }
}

/// One engine under test.
struct Engine {
    bus: Bus,
    rec: Arc<Recorder>,
}

/// What keeps an engine alive; held by the test runner, not the test body
/// (an `async move` block captures only the fields it uses).
struct Keep {
    _redis: Option<Arc<RedisServer>>,
    _stop: tokio_util::sync::DropGuard,
}

fn config(history: usize) -> BusConfig {
    BusConfig { history_size: history, ..BusConfig::default() }
}

fn memory_with(config: BusConfig) -> (Engine, Keep) {
    let rec = Arc::new(Recorder::default());
    let bus = Bus::Memory(MemoryBus::new(config, rec.clone()));
    (Engine { bus, rec }, Keep { _redis: None, _stop: CancellationToken::new().drop_guard() })
}

async fn redis_on(server: &Arc<RedisServer>, history: usize) -> (Engine, Keep) {
    redis_with(server, config(history)).await
}

async fn redis_with(server: &Arc<RedisServer>, config: BusConfig) -> (Engine, Keep) {
    let rec = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let bus = Bus::Redis(RedisBus::connect(&server.url(), config, rec.clone(), stop.clone()).await.unwrap());
    (Engine { bus, rec }, Keep { _redis: Some(server.clone()), _stop: stop.drop_guard() })
}

fn topic(s: &str) -> Topic {
    Topic::parse(s).unwrap()
}

fn json(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs an async test body against both engines, each built with the
/// [`BusConfig`] `$config` (`both_engines!` with a history size: the default
/// configuration with that size).
macro_rules! both_engines_with {
    ($name:ident, $config:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn memory_engine() {
                let (engine, _keep) = memory_with($config);
                ($body)(engine).await;
            }
            #[tokio::test]
            async fn redis_engine() {
                let (engine, _keep) = redis_with(&Arc::new(RedisServer::start()), $config).await;
                ($body)(engine).await;
            }
        }
    };
}

/// Runs an async test body against both engines.
macro_rules! both_engines {
    ($name:ident, $history:expr, $body:expr) => {
        both_engines_with!($name, config($history), $body);
    };
}

both_engines!(offsets_are_sequential_and_delivered_in_order, 100, |e: Engine| async move {
    let t = topic("room:order");
    e.bus.subscribe_node(&t).await.unwrap();
    let mut last = None;
    for i in 1..=50u64 {
        let pos = e.bus.publish(&t, json(&format!("{{\"n\":{i}}}"))).await.unwrap();
        assert_eq!(pos.offset, i);
        if let Some(epoch) = &last {
            assert_eq!(&pos.epoch, epoch, "epoch is stable");
        }
        last = Some(pos.epoch);
    }
    let got = eventually(Duration::from_secs(5), "50 deliveries", || {
        let offsets = e.rec.offsets("room:order");
        async move { (offsets.len() == 50).then_some(offsets) }
    })
    .await;
    assert_eq!(got, (1..=50).collect::<Vec<_>>());
});

both_engines!(data_is_delivered_verbatim, 100, |e: Engine| async move {
    let t = topic("room:verbatim");
    e.bus.subscribe_node(&t).await.unwrap();
    let payload = "{\"text\":\"무서운 영화 말고 가족 영화 뭐 있어?\", \"n\" : [1, 2.5, null]}";
    e.bus.publish(&t, json(payload)).await.unwrap();
    let data = eventually(Duration::from_secs(5), "delivery", || {
        let ev = e.rec.events.lock().unwrap().first().map(|(_, ev)| ev.clone());
        async move {
            match ev {
                Some(BusEvent::Publication { data, .. }) => Some(data),
                _ => None,
            }
        }
    })
    .await;
    assert_eq!(&data[..], payload.as_bytes());
    let page = e.bus.history_after(&t, 0, 10).await.unwrap();
    assert_eq!(&page.entries[0].data[..], payload.as_bytes());
});

both_engines!(history_is_bounded_and_pages_both_ways, 10, |e: Engine| async move {
    let t = topic("room:history");
    for i in 1..=25u64 {
        e.bus.publish(&t, json(&i.to_string())).await.unwrap();
    }
    let page = e.bus.history_after(&t, 0, 100).await.unwrap();
    assert_eq!(page.position.offset, 25);
    assert_eq!(page.first_available, 16, "only the last 10 are kept");
    assert_eq!(page.entries.iter().map(|e| e.offset).collect::<Vec<_>>(), (16..=25).collect::<Vec<_>>());

    let after = e.bus.history_after(&t, 20, 3).await.unwrap();
    assert_eq!(after.entries.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![21, 22, 23]);

    let newest = e.bus.history_before(&t, None, 4).await.unwrap();
    assert_eq!(newest.entries.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![25, 24, 23, 22]);
    let older = e.bus.history_before(&t, Some(22), 4).await.unwrap();
    assert_eq!(older.entries.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![21, 20, 19, 18]);
    let oldest = e.bus.history_before(&t, Some(18), 4).await.unwrap();
    assert_eq!(oldest.entries.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![17, 16]);
});

both_engines!(a_new_topic_has_an_epoch_and_offset_zero, 10, |e: Engine| async move {
    let t = topic("user:nobody");
    let page = e.bus.history_after(&t, 0, 10).await.unwrap();
    assert_eq!(page.position.offset, 0);
    assert!(!page.position.epoch.is_empty());
    assert!(page.entries.is_empty());
    let pos = e.bus.publish(&t, json("1")).await.unwrap();
    assert_eq!(pos.epoch, page.position.epoch, "the first publish keeps the epoch a reader saw");
});

both_engines!(presence_joins_leaves_and_lists, 10, |e: Engine| async move {
    let t = topic("room:presence");
    e.bus.subscribe_node(&t).await.unwrap();
    e.bus.presence_add(&t, "s1", json("{\"user\":\"a\"}")).await.unwrap();
    e.bus.presence_add(&t, "s2", json("{\"user\":\"b\"}")).await.unwrap();
    e.bus.presence_add(&t, "s1", json("{\"user\":\"a\"}")).await.unwrap(); // refresh: no second join
    let list = e.bus.presence_list(&t).await.unwrap();
    assert_eq!(list, vec![json("{\"user\":\"a\"}"), json("{\"user\":\"b\"}")]);
    e.bus.presence_remove(&t, "s1").await.unwrap();
    e.bus.presence_remove(&t, "s1").await.unwrap(); // twice: one leave
    assert_eq!(e.bus.presence_list(&t).await.unwrap(), vec![json("{\"user\":\"b\"}")]);
    let events = eventually(Duration::from_secs(5), "3 presence events", || {
        let ev = e.rec.presence_events();
        async move { (ev.len() >= 3).then_some(ev) }
    })
    .await;
    assert_eq!(events, vec!["join {\"user\":\"a\"}", "join {\"user\":\"b\"}", "leave {\"user\":\"a\"}"]);
});

both_engines!(unread_counts_follow_reads, 100, |e: Engine| async move {
    let r1 = topic("room:u1");
    let r2 = topic("room:u2");
    e.bus.add_member("alice", &r1).await.unwrap();
    e.bus.add_member("alice", &r2).await.unwrap();
    for _ in 0..5 {
        e.bus.publish(&r1, json("1")).await.unwrap();
    }
    e.bus.publish(&r2, json("1")).await.unwrap();
    assert_eq!(e.bus.unread("alice").await.unwrap(), vec![("room:u1".into(), 5), ("room:u2".into(), 1)]);
    assert_eq!(e.bus.mark_read(&r1, "alice", 3).await.unwrap(), 2);
    assert_eq!(e.bus.mark_read(&r1, "alice", 1).await.unwrap(), 2, "reads never move backwards");
    assert_eq!(e.bus.mark_read(&r2, "alice", 99).await.unwrap(), 0, "capped at the top");
    assert_eq!(e.bus.unread("alice").await.unwrap(), vec![("room:u1".into(), 2), ("room:u2".into(), 0)]);
    assert!(e.bus.unread("bob").await.unwrap().is_empty());
});

/// Redis only: anyone with Redis access can publish garbage on a topic's
/// channel; the node drops it and keeps delivering.
#[tokio::test]
async fn a_malformed_message_on_a_topic_channel_is_dropped_and_delivery_goes_on() {
    let server = Arc::new(RedisServer::start());
    let (e, _keep) = redis_on(&server, 100).await;
    let t = topic("room:garbage");
    e.bus.subscribe_node(&t).await.unwrap();
    let Bus::Redis(rb) = &e.bus else { unreachable!("redis engine") };
    let channel = bus::keys::TopicKeys::new(&t).channel;
    for junk in ["p", "j", "l", "", "p 1", "zz"] {
        let n = rb.handle().cmd("PUBLISH", vec![channel.as_str().into(), junk.into()]).await.unwrap();
        assert_eq!(n.as_i64(), Some(1), "the node is subscribed");
    }
    e.bus.publish(&t, json("{\"after\":1}")).await.unwrap();
    let got = eventually(Duration::from_secs(5), "the publication after the junk", || {
        let o = e.rec.offsets("room:garbage");
        async move { (!o.is_empty()).then_some(o) }
    })
    .await;
    assert_eq!(got, [1], "junk delivered nothing; the real publication arrived");
    assert!(e.bus.is_ready(), "the reader is alive");
}

/// Redis only: two nodes; each receives only the topics it subscribed to.
#[tokio::test]
async fn redis_nodes_receive_only_subscribed_topics() {
    let server = Arc::new(RedisServer::start());
    let (a, _keep_a) = redis_on(&server, 100).await;
    let (b, _keep_b) = redis_on(&server, 100).await;
    let shared = topic("room:shared");
    let only_a = topic("room:only-a");
    a.bus.subscribe_node(&shared).await.unwrap();
    b.bus.subscribe_node(&shared).await.unwrap();
    a.bus.subscribe_node(&only_a).await.unwrap();
    for i in 0..20 {
        let publisher = if i % 2 == 0 { &a.bus } else { &b.bus };
        publisher.publish(&shared, json("1")).await.unwrap();
        publisher.publish(&only_a, json("2")).await.unwrap();
    }
    for node in [&a, &b] {
        let got = eventually(Duration::from_secs(5), "20 on shared", || {
            let o = node.rec.offsets("room:shared");
            async move { (o.len() == 20).then_some(o) }
        })
        .await;
        assert_eq!(got, (1..=20).collect::<Vec<_>>(), "publishes from both nodes arrive in offset order");
    }
    eventually(Duration::from_secs(5), "20 on only-a at a", || {
        let n = a.rec.offsets("room:only-a").len();
        async move { (n == 20).then_some(()) }
    })
    .await;
    assert!(b.rec.offsets("room:only-a").is_empty(), "b never subscribed to room:only-a");
    b.bus.unsubscribe_node(&shared).await.unwrap();
    a.bus.publish(&shared, json("3")).await.unwrap();
    eventually(Duration::from_secs(5), "21st at a", || {
        let n = a.rec.offsets("room:shared").len();
        async move { (n == 21).then_some(()) }
    })
    .await;
    assert_eq!(b.rec.offsets("room:shared").len(), 20, "b unsubscribed");
}

/// Redis only: a restart loses history; the bus reconnects, resubscribes,
/// asks its sink to resync, and the topic gets a new epoch.
#[tokio::test]
async fn redis_restart_reconnects_resyncs_and_changes_epoch() {
    let mut server = RedisServer::start();
    let port = server.port();
    let rec = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let bus = Bus::Redis(RedisBus::connect(&server.url(), config(100), rec.clone(), stop.clone()).await.unwrap());
    let _guard = stop.drop_guard();
    let t = topic("room:restart");
    bus.subscribe_node(&t).await.unwrap();
    let before = bus.publish(&t, json("1")).await.unwrap();
    assert!(bus.is_ready());

    server.kill();
    eventually(Duration::from_secs(10), "not ready while redis is down", || {
        let ready = bus.is_ready();
        async move { (!ready).then_some(()) }
    })
    .await;
    assert!(bus.publish(&t, json("2")).await.is_err(), "publishing fails while redis is down");

    let _server = RedisServer::start_on(port);
    eventually(Duration::from_secs(15), "ready and resynced after restart", || {
        let ok = bus.is_ready() && *rec.resyncs.lock().unwrap() > 0;
        async move { ok.then_some(()) }
    })
    .await;
    let after = bus.publish(&t, json("3")).await.unwrap();
    assert_ne!(after.epoch, before.epoch, "history was lost, so the epoch changed");
    assert_eq!(after.offset, 1);
    eventually(Duration::from_secs(5), "delivery after resubscribe", || {
        let n = rec.offsets("room:restart").len();
        async move { (n == 2).then_some(()) }
    })
    .await;
}

// After the macros, so that these modules can use them.
mod history_bytes;
mod idempotency;
mod topic_states;
