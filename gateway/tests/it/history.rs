//! Room history past the bus's bound: real gateway nodes on a real
//! redis-server archive every room publication in a real PostgreSQL (or the
//! embedded SQLite file), and `history` pages back from the archive to
//! offset 1 once Redis has trimmed the oldest. The archive writer is off the
//! delivery path: with the database down, live delivery goes on, and the
//! archive catches up once it is back.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{PostgresServer, RedisServer, eventually};

use crate::support::{Client, Db, Node};

/// Publications Redis keeps per topic in these tests.
const BOUND: usize = 20;
/// How long a test waits for the archive writer to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);

async fn node(redis: &RedisServer, db: &Db, id: &str, bound: usize) -> Node {
    let url = db.url();
    Node::start(Some(redis), id, move |c| {
        c.database_url = url;
        c.history_size = bound;
        c.publish_rate = 100_000;
    })
    .await
}

fn offsets(page: &Value) -> Vec<u64> {
    page["pubs"].as_array().unwrap().iter().map(|p| p["offset"].as_u64().unwrap()).collect()
}

/// Pages back through `topic` from the newest, `limit` at a time, until the
/// server says there is no more; returns every offset seen, newest first,
/// and checks each publication's data is the one published at it.
async fn page_back(c: &mut Client, topic: &str, limit: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut req = json!({"type": "history", "topic": topic, "limit": limit});
        if let Some(b) = before {
            req["before"] = json!(b);
        }
        let page = c.request(req).await;
        assert_eq!(page["type"], "history", "{page}");
        for p in page["pubs"].as_array().unwrap() {
            let o = p["offset"].as_u64().unwrap();
            assert_eq!(p["data"]["n"], json!(o), "the publication at {o} is the one published there: {p}");
            assert!(p["info"]["user"].is_string(), "the publisher comes back with it: {p}");
        }
        seen.extend(offsets(&page));
        if page["more"] != json!(true) {
            return seen;
        }
        before = Some(*seen.last().expect("a page with more has entries"));
    }
}

/// Pages back until all of 1..=top is there (the writer may still be
/// catching up), then checks it came exactly once each, in order.
async fn page_back_to_one(c: &mut Client, topic: &str, top: u64) {
    // `eventually`, written out: each poll pages through the client itself.
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    let all = loop {
        let seen = page_back(c, topic, 7).await;
        if seen.last() == Some(&1) && seen.len() as u64 >= top {
            break seen;
        }
        assert!(tokio::time::Instant::now() < deadline, "the archive never held all of 1..={top}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(all, (1..=top).rev().collect::<Vec<_>>(), "no gap, no duplicate");
}

/// A metric's value on `node` (0 when absent).
async fn metric(node: &Node, name: &str) -> u64 {
    let (status, body) = node.get("/metrics").await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .map_or(0, |v| v.trim().parse().unwrap())
}

async fn publish_n(c: &mut Client, topic: &str, from: u64, to: u64) {
    for n in from..=to {
        let r = c.publish(topic, json!({"n": n})).await;
        assert_eq!((r["type"].as_str(), r["offset"].as_u64()), (Some("published"), Some(n)), "{r}");
    }
}

/// Rows the archive writers of `nodes` stored in all.
async fn archived(nodes: &[&Node]) -> u64 {
    let mut sum = 0;
    for n in nodes {
        sum += metric(n, "marquee_archive_messages_total").await;
    }
    sum
}

/// Waits until the writers of `nodes` have stored `count` rows in all.
async fn archived_at_least(nodes: &[&Node], count: u64) -> u64 {
    eventually(CATCH_UP, "the archive writers caught up", || async {
        let n = archived(nodes).await;
        (n >= count).then_some(n)
    })
    .await
}

/// Publishes `from..=to` in chunks of half the bus's bound, each archived
/// before the next is published. The archive keeps everything only while its
/// writer lags less than the bound behind; a test that published faster
/// than a loaded machine runs the writer would lose publications by design
/// (`marquee_archive_lost_total`), so the pace is set here, not left to luck.
async fn publish_archived(c: &mut Client, nodes: &[&Node], topic: &str, from: u64, to: u64, bound: usize) {
    let base = archived(nodes).await;
    let chunk = (bound as u64 / 2).max(1);
    let mut start = from;
    while start <= to {
        let end = (start + chunk - 1).min(to);
        publish_n(c, topic, start, end).await;
        archived_at_least(nodes, base + end - from + 1).await;
        start = end + 1;
    }
}

async fn history_pages_back_past_the_bus_bound_to_offset_one(db: Db) {
    let redis = RedisServer::start();
    let a = node(&redis, &db, "a", BOUND).await;
    let mut c = Client::connect(&a, "alice").await;
    c.subscribe("room:scroll").await;
    let top = 3 * BOUND as u64 + 5;
    publish_archived(&mut c, &[&a], "room:scroll", 1, top, BOUND).await;

    let newest = c.request(json!({"type": "history", "topic": "room:scroll", "limit": 5})).await;
    assert_eq!(offsets(&newest), (top - 4..=top).rev().collect::<Vec<_>>());
    assert_eq!(newest["more"], true);
    let first = newest["first"].as_u64().unwrap();
    assert_eq!(first, top - BOUND as u64 + 1, "Redis holds only the newest {BOUND}: {newest}");
    page_back_to_one(&mut c, "room:scroll", top).await;

    // A page that straddles the bus's oldest kept offset is merged: the bus's
    // part, then the archive's, each offset once.
    let straddle = c.request(json!({"type": "history", "topic": "room:scroll", "before": first + 3, "limit": 6})).await;
    assert_eq!(offsets(&straddle), (first - 3..=first + 2).rev().collect::<Vec<_>>());
    assert_eq!(straddle["more"], true);
    let oldest = c.request(json!({"type": "history", "topic": "room:scroll", "before": 3})).await;
    assert_eq!((offsets(&oldest), &oldest["more"]), (vec![2, 1], &json!(false)));
    // Forward from the start: the archive first, then the bus, in order.
    let forward = c.request(json!({"type": "history", "topic": "room:scroll", "after": first - 4, "limit": 8})).await;
    assert_eq!(offsets(&forward), (first - 3..=first + 4).collect::<Vec<_>>());
    assert_eq!(forward["more"], true);
    // Seat maps and user topics are not archived: their history stays the bus's.
    c.publish("user:alice", json!({"n": 1})).await;
    let mine = c.request(json!({"type": "history", "topic": "user:alice"})).await;
    assert_eq!((offsets(&mine), &mine["more"]), (vec![1], &json!(false)));
}

#[tokio::test]
async fn history_pages_back_past_the_bus_bound_to_offset_one_on_postgres() {
    history_pages_back_past_the_bus_bound_to_offset_one(Db::Postgres(PostgresServer::start())).await;
}

#[tokio::test]
async fn history_pages_back_past_the_bus_bound_to_offset_one_on_sqlite() {
    history_pages_back_past_the_bus_bound_to_offset_one(Db::Sqlite).await;
}

#[tokio::test]
async fn live_delivery_goes_on_while_the_database_is_down_and_the_archive_catches_up() {
    let redis = RedisServer::start();
    let mut pg = PostgresServer::start();
    let url = pg.url();
    let start = |id: &'static str| {
        let url = url.clone();
        Node::start(Some(&redis), id, move |c| {
            c.database_url = Some(url);
            c.history_size = 50;
            c.publish_rate = 100_000;
        })
    };
    let (a, b) = (start("a").await, start("b").await);
    let mut writer = Client::connect(&a, "alice").await;
    let mut reader = Client::connect(&b, "bob").await;
    writer.subscribe("room:outage").await;
    reader.subscribe("room:outage").await;

    pg.stop();
    // Every publication is acknowledged and delivered live, in order, on the
    // other node, while no database answers.
    for n in 1..=30u64 {
        let r = writer.publish("room:outage", json!({"n": n})).await;
        assert_eq!((r["type"].as_str(), r["offset"].as_u64()), (Some("published"), Some(n)), "{r}");
        let p = reader.next_pub("room:outage").await;
        assert_eq!((p["offset"].as_u64(), &p["data"]["n"]), (Some(n), &json!(n)));
    }
    eventually(CATCH_UP, "the archive writer has met the dead database", || async {
        (metric(&a, "marquee_archive_errors_total").await > 0).then_some(())
    })
    .await;
    // The bus still serves its part of the history meanwhile.
    let recent = reader.request(json!({"type": "history", "topic": "room:outage", "limit": 5})).await;
    assert_eq!(offsets(&recent), [30, 29, 28, 27, 26]);

    pg.restart();
    // Everything published during the outage is still in Redis (30 < 50), and
    // is archived once the database is back.
    archived_at_least(&[&a, &b], 30).await;
    // Past the bound now: 1..=40 leave Redis, and only the archive has them.
    publish_archived(&mut writer, &[&a, &b], "room:outage", 31, 90, 50).await;
    page_back_to_one(&mut reader, "room:outage", 90).await;
    assert_eq!(metric(&a, "marquee_archive_lost_total").await + metric(&b, "marquee_archive_lost_total").await, 0);
}

#[tokio::test]
async fn two_nodes_archive_each_publication_of_a_room_once() {
    let redis = RedisServer::start();
    let pg = PostgresServer::start();
    let db = Db::Postgres(pg);
    let (a, b) = (node(&redis, &db, "a", BOUND).await, node(&redis, &db, "b", BOUND).await);
    let mut on_a = Client::connect(&a, "alice").await;
    let mut on_b = Client::connect(&b, "bob").await;
    on_a.subscribe("room:both").await;
    on_b.subscribe("room:both").await;
    // Both nodes publish, so both archive writers follow the room.
    let total = 4 * BOUND as u64;
    for n in 1..=total {
        let c = if n % 3 == 0 { &mut on_b } else { &mut on_a };
        let r = c.publish("room:both", json!({"n": n})).await;
        assert_eq!(r["offset"], n, "{r}");
        if n % (BOUND as u64 / 2) == 0 {
            // Paced as in `publish_archived`: nothing leaves Redis unarchived.
            archived_at_least(&[&a, &b], n).await;
        }
    }
    let stored = archived_at_least(&[&a, &b], total).await;
    assert_eq!(stored, total, "each row was written new by exactly one node");
    let Db::Postgres(pg) = &db else { unreachable!() };
    let ledger = ledger::Ledger::open(&pg.url()).await.unwrap();
    let sub = on_a.request(json!({"type": "history", "topic": "room:both", "limit": 1})).await;
    let epoch = sub["epoch"].as_str().unwrap();
    let rows = ledger.messages_after("room:both", epoch, 0, u64::MAX, 1000).await.unwrap();
    assert_eq!(rows.iter().map(|m| m.offset).collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
    let seen = page_back(&mut on_b, "room:both", 9).await;
    assert_eq!(seen, (1..=total).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_single_node_without_redis_pages_back_from_its_sqlite_archive() {
    // The single-node default: the in-process bus and the embedded SQLite file.
    let n = Node::start(None, "solo", |c| {
        c.history_size = BOUND;
        c.publish_rate = 100_000;
    })
    .await;
    let mut c = Client::connect(&n, "alice").await;
    c.subscribe("room:solo").await;
    let top = 2 * BOUND as u64 + 3;
    publish_archived(&mut c, &[&n], "room:solo", 1, top, BOUND).await;
    let newest = c.request(json!({"type": "history", "topic": "room:solo", "limit": 1})).await;
    assert_eq!(newest["first"], top - BOUND as u64 + 1, "the bus keeps only the newest {BOUND}: {newest}");
    page_back_to_one(&mut c, "room:solo", top).await;
}
