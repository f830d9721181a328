//! Bookings live in the ledger (the system of record), not in Redis: real
//! gateway nodes on a real redis-server with their bookings in a real
//! PostgreSQL or in the embedded SQLite file, while Redis restarts empty or
//! is flushed under connected clients. Sold seats in Redis are a cache the
//! nodes rebuild from the ledger before they take a hold.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{PostgresServer, RedisServer, eventually};

use crate::support::{Client, Db, Node, api, redis_cli, token};

async fn node(redis: &RedisServer, db: &Db, id: &str) -> Node {
    let url = db.url();
    Node::start(Some(redis), id, move |c| {
        c.database_url = url;
        c.sweep_interval_ms = 50;
    })
    .await
}

/// The first showtime a node lists.
async fn first_showtime(node: &Node) -> String {
    let t = token("rita");
    let (s, list) = api(node.addr, "GET", "/api/showtimes", Some(&t), None).await;
    assert_eq!(s, 200, "{list}");
    list["showtimes"][0]["id"].as_str().unwrap().to_owned()
}

/// Holds `seats` for `user` on `node` and confirms them; returns the booking
/// as listings show it (their `version` is 0: only a confirm's answer knows
/// the seat-map version of its sale).
async fn book(node: &Node, user: &str, st: &str, seats: &[&str]) -> Value {
    let t = token(user);
    let body = json!({"seats": seats, "idempotency_key": format!("{user}-{}", seats.join("-"))});
    let (s, hold) = api(node.addr, "POST", &format!("/api/showtimes/{st}/holds"), Some(&t), Some(body)).await;
    assert_eq!(s, 200, "{hold}");
    let hold_id = hold["hold_id"].as_str().unwrap();
    let (s, booking) =
        api(node.addr, "POST", &format!("/api/showtimes/{st}/holds/{hold_id}/confirm"), Some(&t), None).await;
    assert_eq!(s, 200, "{booking}");
    assert!(booking["version"].as_u64().is_some_and(|v| v > 0), "{booking}");
    let mut listed = booking;
    listed["version"] = json!(0);
    listed
}

/// Tries to hold `seats` for `user`; returns the status and the answer.
async fn try_hold(node: &Node, user: &str, st: &str, seats: &[&str], key: &str) -> (u16, Value) {
    let body = json!({"seats": seats, "idempotency_key": key});
    api(node.addr, "POST", &format!("/api/showtimes/{st}/holds"), Some(&token(user)), Some(body)).await
}

/// The states of `seats` in `node`'s snapshot of `st`, once it answers.
async fn states_of(node: &Node, st: &str, seats: &[&str]) -> Vec<String> {
    let t = token("viewer");
    eventually(Duration::from_secs(20), "the seat map answers", || async {
        let (s, map) = api(node.addr, "GET", &format!("/api/showtimes/{st}/seats"), Some(&t), None).await;
        (s == 200).then(|| {
            seats
                .iter()
                .map(|seat| {
                    let s = map["seats"].as_array().unwrap().iter().find(|s| s["seat"] == *seat).unwrap();
                    s["state"].as_str().unwrap().to_owned()
                })
                .collect()
        })
    })
    .await
}

async fn bookings_survive_redis_restarting_empty(db: Db) {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let a = node(&redis, &db, "a").await;
    let b = node(&redis, &db, "b").await;
    let st = first_showtime(&a).await;
    let booking = book(&a, "rita", &st, &["A1", "A2"]).await;
    assert_eq!(booking["status"], "confirmed", "{booking}");

    // Redis restarts with nothing (the project's scripts start it without
    // persistence): every hold, seat map and cached booking is gone.
    redis.kill();
    let redis = RedisServer::start_on(port);
    assert_eq!(redis_cli(&redis, &["DBSIZE"]), "0");

    // The booking is still listed, on both nodes, as it was.
    let t = token("rita");
    for n in [&a, &b] {
        let list = eventually(Duration::from_secs(20), "my bookings answer after the restart", || async {
            let (s, list) = api(n.addr, "GET", "/api/bookings", Some(&t), None).await;
            (s == 200).then_some(list)
        })
        .await;
        assert_eq!(list["bookings"], json!([booking]), "{list}");
    }
    // Its seats show sold again, and nobody can hold them.
    assert_eq!(states_of(&b, &st, &["A1", "A2", "A3"]).await, ["sold", "sold", "free"]);
    let (s, e) = eventually(Duration::from_secs(20), "holds answer after the restart", || async {
        let (s, e) = try_hold(&b, "bob", &st, &["A1"], "bob-1").await;
        (s != 503).then_some((s, e))
    })
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("seats_unavailable")), "{e}");
    let (s, e) = try_hold(&a, "bob", &st, &["A2", "A3"], "bob-2").await;
    assert_eq!((s, e["code"].as_str()), (409, Some("seats_unavailable")), "{e}");
    let (s, h) = try_hold(&a, "bob", &st, &["A3"], "bob-3").await;
    assert_eq!(s, 200, "a free seat still holds: {h}");

    // Cancelling works after the loss too, and frees the seats for others.
    let id = booking["booking_id"].as_str().unwrap();
    let (s, cancelled) = api(b.addr, "DELETE", &format!("/api/bookings/{id}"), Some(&t), None).await;
    assert_eq!((s, cancelled["status"].as_str()), (200, Some("cancelled")), "{cancelled}");
    let (s, h) = try_hold(&a, "bob", &st, &["A1"], "bob-4").await;
    assert_eq!(s, 200, "a cancelled booking's seat holds again: {h}");
}

#[tokio::test]
async fn bookings_survive_redis_restarting_empty_on_sqlite() {
    bookings_survive_redis_restarting_empty(Db::Sqlite).await;
}

#[tokio::test]
async fn bookings_survive_redis_restarting_empty_on_postgres() {
    bookings_survive_redis_restarting_empty(Db::Postgres(PostgresServer::start())).await;
}

#[tokio::test]
async fn a_flushall_under_connected_viewers_sells_nothing_twice() {
    let redis = RedisServer::start();
    let db = Db::Postgres(PostgresServer::start());
    let a = node(&redis, &db, "a").await;
    let b = node(&redis, &db, "b").await;
    let st = first_showtime(&a).await;
    let mut viewer = Client::connect(&a, "vera").await;
    let topic = format!("showtime:{st}");
    viewer.subscribe(&topic).await;
    let booking = book(&b, "sam", &st, &["C4", "C5"]).await;

    assert_eq!(redis_cli(&redis, &["FLUSHALL"]), "OK");

    // The connected viewer's seat map still shows the sale, and its hold on
    // a sold seat fails with the documented code; a free one still holds.
    let mut map = Value::Null;
    for _ in 0..200 {
        map = viewer.request(json!({"type": "seat_map", "showtime": st})).await;
        if map["type"] == "seat_map" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = |seat: &str| {
        map["map"]["seats"].as_array().unwrap().iter().find(|s| s["seat"] == seat).unwrap()["state"].clone()
    };
    assert_eq!((state("C4"), state("C5"), state("C6")), (json!("sold"), json!("sold"), json!("free")), "{map}");
    let h = viewer.request(json!({"type": "hold", "showtime": st, "seats": ["C5"], "idempotency_key": "v1"})).await;
    assert_eq!((h["type"].as_str(), h["code"].as_str()), (Some("error"), Some("seats_unavailable")), "{h}");
    let h = viewer.request(json!({"type": "hold", "showtime": st, "seats": ["C6"], "idempotency_key": "v2"})).await;
    assert_eq!(h["type"], "held", "{h}");
    let (_, list) = api(a.addr, "GET", "/api/bookings", Some(&token("sam")), None).await;
    assert_eq!(list["bookings"], json!([booking]));
}

#[tokio::test]
async fn a_single_node_keeps_its_bookings_across_a_restart() {
    // The single-node default: no Redis, bookings in an SQLite file in DATA_DIR.
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_owned();
    let start = || {
        let dir = dir.clone();
        Node::start(None, "solo", move |c| c.data_dir = dir)
    };
    let mut first = start().await;
    let st = first_showtime(&first).await;
    let booking = book(&first, "rita", &st, &["D7", "D8"]).await;
    first.stop.cancel();
    let _ = (&mut first.task).await;

    let second = start().await;
    let (_, list) = api(second.addr, "GET", "/api/bookings", Some(&token("rita")), None).await;
    assert_eq!(list["bookings"], json!([booking]), "{list}");
    assert_eq!(states_of(&second, &st, &["D7", "D8", "D9"]).await, ["sold", "sold", "free"]);
    let (s, e) = try_hold(&second, "bob", &st, &["D8"], "bob-1").await;
    assert_eq!((s, e["code"].as_str()), (409, Some("seats_unavailable")), "{e}");
}
