//! Seats through the gateway: two nodes on a real redis-server sharing a
//! manual clock (holds expire when the test says so, no sleeps), real
//! WebSocket and HTTP clients. Frames, REST and pushes as in docs/protocol.md.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use seats::Clock;
use serde_json::{Value, json};
use testkit::{RedisServer, eventually};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::support::{Client, Node, api, token};

/// Starts two nodes on `redis` whose seat stores share `clock` and sweep often.
async fn pair(redis: &RedisServer, clock: &Clock) -> (Node, Node) {
    let tweak = |clock: Clock| {
        move |c: &mut gateway::Config| {
            c.clock = clock;
            c.sweep_interval_ms = 20;
            c.admin_token = Some(crate::support::ADMIN_TOKEN.into());
        }
    };
    (
        Node::start(Some(redis), "a", tweak(clock.clone())).await,
        Node::start(Some(redis), "b", tweak(clock.clone())).await,
    )
}

fn manual_clock() -> Clock {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    Clock::manual(now.as_millis() as i64)
}

/// The first showtime the gateway lists.
async fn some_showtime(c: &mut Client) -> String {
    let r = c.request(json!({"type": "showtimes"})).await;
    assert_eq!(r["type"], "showtimes", "{r}");
    r["showtimes"][0]["id"].as_str().unwrap().to_owned()
}

/// Seat → state of a `seat_map` answer's map.
fn states(map: &Value) -> HashMap<String, String> {
    map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["seat"].as_str().unwrap().to_owned(), s["state"].as_str().unwrap().to_owned()))
        .collect()
}

/// Applies a delta (the `data` of a `pub`) to a state map.
fn apply(map: &mut HashMap<String, String>, delta: &Value) {
    for c in delta["changes"].as_array().unwrap() {
        map.insert(c["seat"].as_str().unwrap().to_owned(), c["state"].as_str().unwrap().to_owned());
    }
}

#[tokio::test]
async fn a_hold_on_one_node_reaches_viewers_on_the_other_as_ordered_deltas() {
    let redis = RedisServer::start();
    let clock = manual_clock();
    let (a, b) = pair(&redis, &clock).await;
    let mut alice = Client::connect(&a, "alice").await;
    let mut viewer = Client::connect(&b, "victor").await;
    let st = some_showtime(&mut viewer).await;
    let topic = format!("showtime:{st}");
    viewer.subscribe(&topic).await;
    let snap = viewer.request(json!({"type": "seat_map", "showtime": st})).await;
    assert_eq!(snap["type"], "seat_map", "{snap}");
    let mut version = snap["map"]["version"].as_u64().unwrap();
    let mut map = states(&snap["map"]);

    let h1 =
        alice.request(json!({"type": "hold", "showtime": st, "seats": ["A2", "A1"], "idempotency_key": "k1"})).await;
    assert_eq!(h1["type"], "held", "{h1}");
    assert_eq!(h1["hold"]["seats"], json!(["A1", "A2"]));
    let hold1 = h1["hold"]["hold_id"].as_str().unwrap().to_owned();
    let h2 = alice.request(json!({"type": "hold", "showtime": st, "seats": ["A3"], "idempotency_key": "k2"})).await;
    let hold2 = h2["hold"]["hold_id"].as_str().unwrap().to_owned();
    let r = alice.request(json!({"type": "release", "showtime": st, "hold_id": hold1})).await;
    assert_eq!(r["type"], "released", "{r}");
    assert_eq!(r["released"]["seats"], json!(["A1", "A2"]));
    let c = alice.request(json!({"type": "confirm", "showtime": st, "hold_id": hold2})).await;
    assert_eq!(c["type"], "confirmed", "{c}");
    assert_eq!(c["booking"]["seats"], json!(["A3"]));
    assert_eq!(c["booking"]["user"], "alice", "the user comes from the token");

    let expected = [("A1", "held"), ("A3", "held"), ("A1", "free"), ("A3", "sold")];
    for (seat, state) in expected {
        let p = viewer.next_pub(&topic).await;
        assert_eq!(p["data"]["type"], "seats", "{p}");
        assert_eq!(p["data"]["version"].as_u64().unwrap(), version + 1, "versions apply in order");
        version += 1;
        assert!(p["data"]["changes"].as_array().unwrap().contains(&json!({"seat": seat, "state": state})), "{p}");
        apply(&mut map, &p["data"]);
    }
    let fresh = viewer.request(json!({"type": "seat_map", "showtime": st})).await;
    assert_eq!(fresh["map"]["version"].as_u64().unwrap(), version);
    assert_eq!(states(&fresh["map"]), map, "deltas replayed on the snapshot give the current map");
    let mine = alice.request(json!({"type": "seat_map", "showtime": st})).await;
    let a3 = mine["map"]["seats"].as_array().unwrap().iter().find(|s| s["seat"] == "A3").unwrap().clone();
    assert_eq!(a3["mine"], true, "{a3}");
    assert!(fresh["map"]["seats"].as_array().unwrap().iter().all(|s| s.get("mine").is_none()), "nobody else's");
}

#[tokio::test]
async fn seat_errors_have_their_documented_codes() {
    let redis = RedisServer::start();
    let clock = manual_clock();
    let (a, b) = pair(&redis, &clock).await;
    let mut alice = Client::connect(&a, "alice").await;
    let mut bob = Client::connect(&b, "bob").await;
    let st = some_showtime(&mut alice).await;
    let h =
        alice.request(json!({"type": "hold", "showtime": st, "seats": ["B1", "B2"], "idempotency_key": "a1"})).await;
    let hold = h["hold"]["hold_id"].as_str().unwrap().to_owned();
    alice.request(json!({"type": "confirm", "showtime": st, "hold_id": hold})).await;

    let err = |v: &Value, code: &str| {
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["code"], code, "{v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    };
    // A sold seat: the failed hold names it, and nothing else was held.
    let r = bob.request(json!({"type": "hold", "showtime": st, "seats": ["B2", "B3"], "idempotency_key": "b1"})).await;
    err(&r, "seats_unavailable");
    assert_eq!(r["seats"], json!(["B2"]));
    let map = bob.request(json!({"type": "seat_map", "showtime": st})).await;
    assert_eq!(states(&map["map"])["B3"], "free", "all or nothing");
    // Someone else's hold.
    let h = alice.request(json!({"type": "hold", "showtime": st, "seats": ["B5"], "idempotency_key": "a2"})).await;
    let alices = h["hold"]["hold_id"].as_str().unwrap().to_owned();
    err(&bob.request(json!({"type": "confirm", "showtime": st, "hold_id": alices})).await, "not_owner");
    err(&bob.request(json!({"type": "extend_hold", "showtime": st, "hold_id": alices})).await, "not_owner");
    err(
        &bob.request(json!({"type": "confirm", "showtime": st, "hold_id": "h0000000000000000"})).await,
        "hold_not_found",
    );
    // Unknown showtime and seats.
    let r = bob.request(json!({"type": "seat_map", "showtime": "nowhere-1"})).await;
    err(&r, "unknown_showtime");
    let r = bob.request(json!({"type": "hold", "showtime": st, "seats": ["B1", "Q77"], "idempotency_key": "b2"})).await;
    err(&r, "unknown_seat");
    assert_eq!(r["seats"], json!(["Q77"]));
    // Invalid and malformed requests.
    err(
        &bob.request(json!({"type": "hold", "showtime": st, "seats": [], "idempotency_key": "b3"})).await,
        "invalid_request",
    );
    let r = bob
        .request(json!({"type": "hold", "showtime": st, "seats": ["B9"], "ttl_secs": 1, "idempotency_key": "b4"}))
        .await;
    err(&r, "invalid_request");
    let r = bob.request(json!({"type": "hold", "showtime": st, "seats": ["B9"], "idempotency_key": "bad key!"})).await;
    err(&r, "invalid_request");
    err(&bob.request(json!({"type": "release", "showtime": st})).await, "invalid_request");
    err(&bob.request(json!({"type": "best_available", "showtime": st, "count": 0})).await, "invalid_request");
    err(
        &bob.request(json!({"type": "hold", "showtime": st, "seats": "B9", "idempotency_key": "b5"})).await,
        "bad_request",
    );
    err(&bob.request(json!({"type": "hold", "showtime": st, "seats": ["B9"]})).await, "bad_request");
    err(
        &bob.request(json!({"type": "best_available", "showtime": st, "count": 2, "class": "vip"})).await,
        "bad_request",
    );
    err(&bob.request(json!({"type": "cancel_booking", "booking_id": "bk00-nowhere"})).await, "booking_not_found");
    // The same key for other seats.
    let r = alice.request(json!({"type": "hold", "showtime": st, "seats": ["B7"], "idempotency_key": "a2"})).await;
    err(&r, "idempotency_conflict");
    // The session survived every error.
    assert_eq!(bob.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn an_expired_hold_is_released_by_the_sweeper_pushed_and_cannot_be_confirmed() {
    let redis = RedisServer::start();
    let clock = manual_clock();
    let (a, b) = pair(&redis, &clock).await;
    let mut alice = Client::connect(&a, "alice").await;
    let mut viewer = Client::connect(&b, "victor").await;
    let st = some_showtime(&mut alice).await;
    let topic = format!("showtime:{st}");
    viewer.subscribe(&topic).await;
    let h = alice
        .request(json!({"type": "hold", "showtime": st, "seats": ["C4"], "ttl_secs": 10, "idempotency_key": "x"}))
        .await;
    let hold = h["hold"]["hold_id"].as_str().unwrap().to_owned();
    clock.advance(Duration::from_secs(5));
    let e = alice.request(json!({"type": "extend_hold", "showtime": st, "hold_id": hold})).await;
    assert_eq!(e["type"], "extended", "{e}");
    assert_eq!(e["hold"]["extends_left"].as_u64(), h["hold"]["extends_left"].as_u64().map(|n| n - 1));
    assert_eq!(viewer.next_pub(&topic).await["data"]["changes"], json!([{"seat": "C4", "state": "held"}]));

    clock.advance(Duration::from_secs(11));
    assert!(e["hold"]["expires_at"].as_i64() < Some(clock.now_ms()), "past the extended expiry");
    // Nobody asks: the sweeper frees the seat and the release is pushed.
    let p = viewer.next_pub(&topic).await;
    assert_eq!(p["data"]["changes"], json!([{"seat": "C4", "state": "free"}]), "{p}");
    let r = alice.request(json!({"type": "confirm", "showtime": st, "hold_id": hold})).await;
    assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("hold_expired")), "{r}");
    // The REST equivalents say the same, with 410 Gone.
    let t = token("alice");
    for path in
        [format!("/api/showtimes/{st}/holds/{hold}/confirm"), format!("/api/showtimes/{st}/holds/{hold}/extend")]
    {
        let (s, e) = api(b.addr, "POST", &path, Some(&t), None).await;
        assert_eq!((s, e["code"].as_str()), (410, Some("hold_expired")), "{path}: {e}");
    }
    let (s, e) = api(
        b.addr,
        "POST",
        &format!("/api/showtimes/{st}/holds"),
        Some(&t),
        Some(json!({"seats": ["C4", "Z99"], "idempotency_key": "r1"})),
    )
    .await;
    assert_eq!((s, e["code"].as_str(), &e["seats"]), (400, Some("unknown_seat"), &json!(["Z99"])), "{e}");
    let (s, e) =
        api(b.addr, "POST", &format!("/api/showtimes/{st}/holds/h0000000000000000/confirm"), Some(&t), None).await;
    assert_eq!((s, e["code"].as_str()), (404, Some("hold_not_found")), "{e}");
    let m = alice.request(json!({"type": "my_bookings"})).await;
    assert_eq!(m["bookings"], json!([]));
}

#[tokio::test]
async fn an_idempotent_retry_over_the_other_node_returns_the_same_hold() {
    let redis = RedisServer::start();
    let clock = manual_clock();
    let (a, b) = pair(&redis, &clock).await;
    let mut on_a = Client::connect(&a, "alice").await;
    let st = some_showtime(&mut on_a).await;
    let req = json!({"type": "hold", "showtime": st, "seats": ["D1", "D2"], "idempotency_key": "retry-1"});
    let first = on_a.request(req.clone()).await;
    assert_eq!(first["type"], "held", "{first}");
    drop(on_a);
    // The same user reconnects to the other node and retries.
    let mut on_b = Client::connect(&b, "alice").await;
    let again = on_b.request(req.clone()).await;
    assert_eq!(again["hold"], first["hold"], "same hold, not a second one");
    let map = on_b.request(json!({"type": "seat_map", "showtime": st})).await;
    assert_eq!(map["map"]["version"], first["hold"]["version"], "the retry changed nothing");
    // The hold survived the reconnect and is confirmed from the other node.
    let hold = first["hold"]["hold_id"].clone();
    let c = on_b.request(json!({"type": "confirm", "showtime": st, "hold_id": hold})).await;
    assert_eq!(c["type"], "confirmed", "{c}");
    // A failed hold is replayed too: same failure for the same key.
    let mut bob = Client::connect(&a, "bob").await;
    let req = json!({"type": "hold", "showtime": st, "seats": ["D2"], "idempotency_key": "retry-2"});
    let f1 = bob.request(req.clone()).await;
    let mut bob_b = Client::connect(&b, "bob").await;
    let f2 = bob_b.request(req).await;
    assert_eq!((f1["code"].clone(), f1["seats"].clone()), (json!("seats_unavailable"), json!(["D2"])));
    assert_eq!((f2["code"].clone(), f2["seats"].clone()), (f1["code"].clone(), f1["seats"].clone()));
}

#[tokio::test]
async fn a_confirm_notifies_the_owner_on_their_user_topic_on_any_node() {
    let redis = RedisServer::start();
    let clock = manual_clock();
    let (a, b) = pair(&redis, &clock).await;
    let mut buyer = Client::connect(&a, "alice").await;
    let mut phone = Client::connect(&b, "alice").await;
    phone.subscribe("user:alice").await;
    let st = some_showtime(&mut buyer).await;
    let h = buyer.request(json!({"type": "hold", "showtime": st, "seats": ["E3"], "idempotency_key": "n1"})).await;
    let c = buyer.request(json!({"type": "confirm", "showtime": st, "hold_id": h["hold"]["hold_id"]})).await;
    let p = phone.next_pub("user:alice").await;
    assert_eq!(p["data"]["type"], "booking", "{p}");
    assert_eq!(p["data"]["event"], "confirmed");
    let mut booked = c["booking"].clone();
    booked["version"] = json!(0); // events carry no seat-map version
    assert_eq!(p["data"]["booking"], booked);
    let x = buyer.request(json!({"type": "cancel_booking", "booking_id": c["booking"]["booking_id"]})).await;
    assert_eq!(x["type"], "booking_cancelled", "{x}");
    assert_eq!(x["booking"]["status"], "cancelled");
    // At least once: the confirmation may come again (outbox redelivery by a
    // sweeper); consumers dedupe by booking id and event.
    let p = phone.recv_where(|v| v["type"] == "pub" && v["data"]["event"] != "confirmed").await;
    assert_eq!(p["data"]["event"], "cancelled", "{p}");
    assert_eq!(p["data"]["booking"]["booking_id"], c["booking"]["booking_id"]);
    let again = buyer.request(json!({"type": "cancel_booking", "booking_id": c["booking"]["booking_id"]})).await;
    assert_eq!(again["code"], "already_cancelled", "{again}");
}

#[tokio::test]
async fn rest_endpoints_work_and_agree_with_websocket() {
    let redis = RedisServer::start();
    let clock = manual_clock();
    let (a, b) = pair(&redis, &clock).await;
    let t = token("rita");
    let tok = Some(t.as_str());
    let (s, list) = api(a.addr, "GET", "/api/showtimes", tok, None).await;
    assert_eq!(s, 200, "{list}");
    let st = list["showtimes"][0]["id"].as_str().unwrap().to_owned();
    let day = list["showtimes"][0]["starts_at"].as_str().unwrap()[..10].to_owned();
    let (_, by_day) = api(a.addr, "GET", &format!("/api/showtimes?date={day}"), tok, None).await;
    assert!(by_day["showtimes"].as_array().unwrap().iter().all(|s| s["starts_at"].as_str().unwrap().starts_with(&day)));
    assert_eq!(api(a.addr, "GET", "/api/showtimes", None, None).await.0, 401, "a token is required");
    assert_eq!(api(a.addr, "GET", "/api/showtimes", Some("forged"), None).await.0, 401);

    // Best available, then hold it over REST on node A.
    let (s, best) =
        api(a.addr, "POST", &format!("/api/showtimes/{st}/best-available"), tok, Some(json!({"count": 3}))).await;
    assert_eq!(s, 200, "{best}");
    assert_eq!(best["seats"].as_array().unwrap().len(), 3);
    let body = json!({"seats": best["seats"], "idempotency_key": "rest-1"});
    let (s, hold) = api(a.addr, "POST", &format!("/api/showtimes/{st}/holds"), tok, Some(body.clone())).await;
    assert_eq!(s, 200, "{hold}");
    let hold_id = hold["hold_id"].as_str().unwrap().to_owned();
    // The same hold over WebSocket on node B: retry and snapshot agree.
    let mut ws = Client::connect(&b, "rita").await;
    let again =
        ws.request(json!({"type": "hold", "showtime": st, "seats": best["seats"], "idempotency_key": "rest-1"})).await;
    assert_eq!(again["hold"], hold);
    let mut wanted: Vec<&str> = best["seats"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let mut held: Vec<&str> = hold["seats"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    wanted.sort_unstable();
    held.sort_unstable();
    assert_eq!(held, wanted);
    let (_, rest_map) = api(b.addr, "GET", &format!("/api/showtimes/{st}/seats"), tok, None).await;
    let ws_map = ws.request(json!({"type": "seat_map", "showtime": st})).await;
    assert_eq!(rest_map, ws_map["map"], "REST and WebSocket snapshots are the same");

    // Errors: status per code, JSON body with the code.
    let (s, e) = api(
        b.addr,
        "POST",
        &format!("/api/showtimes/{st}/holds"),
        Some(&token("sam")),
        Some(json!({"seats": best["seats"], "idempotency_key": "s1"})),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("seats_unavailable")), "{e}");
    assert_eq!(e["seats"], hold["seats"]);
    let (s, e) =
        api(b.addr, "POST", &format!("/api/showtimes/{st}/holds/{hold_id}/confirm"), Some(&token("sam")), None).await;
    assert_eq!((s, e["code"].as_str()), (403, Some("not_owner")), "{e}");
    let (s, e) = api(b.addr, "GET", "/api/showtimes/nowhere/seats", tok, None).await;
    assert_eq!((s, e["code"].as_str()), (404, Some("unknown_showtime")), "{e}");
    let (s, e) = api(b.addr, "POST", &format!("/api/showtimes/{st}/holds"), tok, Some(json!({"seats": 5}))).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("bad_request")), "{e}");

    // Extend (a minute later, so it moves the expiry), confirm, list and cancel.
    clock.advance(Duration::from_secs(60));
    let (s, ext) = api(b.addr, "POST", &format!("/api/showtimes/{st}/holds/{hold_id}/extend"), tok, None).await;
    assert_eq!(s, 200, "{ext}");
    let (s, booking) = api(b.addr, "POST", &format!("/api/showtimes/{st}/holds/{hold_id}/confirm"), tok, None).await;
    assert_eq!(s, 200, "{booking}");
    let (_, list) = api(a.addr, "GET", "/api/bookings", tok, None).await;
    let mut listed = booking.clone();
    listed["version"] = json!(0); // a listing knows no seat-map version
    assert_eq!(list["bookings"], json!([listed]));
    let ws_list = ws.request(json!({"type": "my_bookings"})).await;
    assert_eq!(ws_list["bookings"], list["bookings"]);
    let id = booking["booking_id"].as_str().unwrap();
    let (s, cancelled) = api(a.addr, "DELETE", &format!("/api/bookings/{id}"), tok, None).await;
    assert_eq!((s, cancelled["status"].as_str()), (200, Some("cancelled")), "{cancelled}");
    let (s, _) = api(a.addr, "DELETE", &format!("/api/bookings/{id}"), tok, None).await;
    assert_eq!(s, 409);

    // Release by hold and by seats.
    let (_, h) = api(
        a.addr,
        "POST",
        &format!("/api/showtimes/{st}/holds"),
        tok,
        Some(json!({"seats": ["F1", "F2"], "idempotency_key": "rest-2"})),
    )
    .await;
    let (s, r) =
        api(a.addr, "POST", &format!("/api/showtimes/{st}/release"), tok, Some(json!({"seats": ["F2"]}))).await;
    assert_eq!((s, r["seats"].clone()), (200, json!(["F2"])), "{r}");
    let (s, r) =
        api(a.addr, "DELETE", &format!("/api/showtimes/{st}/holds/{}", h["hold_id"].as_str().unwrap()), tok, None)
            .await;
    assert_eq!((s, r["seats"].clone()), (200, json!(["F1"])), "{r}");

    // Admin: replace the schedule with a one-showtime file.
    let schedule = json!({
        "theaters": [{"id": "t1", "name": "T", "screens": [{"id": "1", "name": "S1", "rows": [{"row": "A", "seats": "SS_SS"}]}]}],
        "movies": [{"id": "m1", "title": "M", "runtime_min": 90}],
        "showtimes": [{"id": "t1-1-x", "movie": "m1", "theater": "t1", "screen": "1",
            "starts_at": "2026-11-22T20:00:00+09:00[Asia/Seoul]",
            "prices": {"standard": 1, "premium": 2, "wheelchair": 1}}]
    });
    assert_eq!(api(a.addr, "POST", "/api/admin/schedule", tok, Some(schedule.clone())).await.0, 403);
    let (s, r) =
        api(a.addr, "POST", "/api/admin/schedule", Some(crate::support::ADMIN_TOKEN), Some(json!({"theaters": []})))
            .await;
    assert_eq!(s, 400, "{r}");
    let (s, r) = api(a.addr, "POST", "/api/admin/schedule", Some(crate::support::ADMIN_TOKEN), Some(schedule)).await;
    assert_eq!((s, r["showtimes"].as_u64()), (200, Some(1)), "{r}");
    let (_, list) = api(a.addr, "GET", "/api/showtimes", tok, None).await;
    assert_eq!(list["showtimes"].as_array().unwrap().len(), 1);
    assert_eq!(list["showtimes"][0]["capacity"], 4);
}

#[tokio::test]
async fn a_single_node_without_redis_serves_seats_too() {
    let node = Node::start(None, "solo", |_| {}).await;
    let mut c = Client::connect(&node, "alice").await;
    let mut v = Client::connect(&node, "victor").await;
    let st = some_showtime(&mut c).await;
    let topic = format!("showtime:{st}");
    v.subscribe(&topic).await;
    let h = c.request(json!({"type": "hold", "showtime": st, "seats": ["A1"], "idempotency_key": "m1"})).await;
    assert_eq!(h["type"], "held", "{h}");
    assert_eq!(v.next_pub(&topic).await["data"]["changes"], json!([{"seat": "A1", "state": "held"}]));
    let r = c.request(json!({"type": "confirm", "showtime": st, "hold_id": h["hold"]["hold_id"]})).await;
    assert_eq!(r["type"], "confirmed", "{r}");
    assert_eq!(v.next_pub(&topic).await["data"]["changes"], json!([{"seat": "A1", "state": "sold"}]));
}

/// How long a racer waits for one reply or notification under full load.
const LONG: Duration = Duration::from_secs(30);
/// The contended seats.
const POOL: usize = 100;
/// Hold attempts per racer.
const ROUNDS: usize = 3;

/// One contention client: a user with a connection to one of the nodes,
/// subscribed to its own `user:` topic, remembering the bookings it was told about.
struct Racer {
    user: String,
    addrs: [SocketAddr; 2],
    node: usize,
    conn: Client,
    next: u64,
    notified: HashSet<String>,
}

impl Racer {
    async fn connect(addrs: [SocketAddr; 2], user: String, node: usize) -> Racer {
        let conn = Client::connect_url(&format!("ws://{}/ws?token={}", addrs[node], token(&user))).await;
        let mut r = Racer { user, addrs, node, conn, next: 1000, notified: HashSet::new() };
        let topic = format!("user:{}", r.user);
        let s = r.call(json!({"type": "subscribe", "topic": topic})).await;
        assert_eq!(s["type"], "subscribed", "{s}");
        r
    }

    /// Drops the connection and reconnects to the other node (the same user).
    async fn switch_node(&mut self) {
        let fresh = Racer::connect(self.addrs, self.user.clone(), 1 - self.node).await;
        let notified = std::mem::take(&mut self.notified);
        *self = fresh;
        self.notified.extend(notified);
    }

    /// Sends a request and vanishes before the answer, then reconnects.
    async fn send_and_switch(&mut self, mut req: Value) {
        req["id"] = json!(1);
        self.conn.send(req).await;
        self.switch_node().await;
    }

    async fn call(&mut self, mut req: Value) -> Value {
        self.next += 1;
        let id = self.next;
        req["id"] = json!(id);
        self.conn.send(req).await;
        loop {
            let f = self.conn.recv_within(LONG).await.expect("reply in time");
            if !self.note(&f) && f["id"] == json!(id) {
                return f;
            }
        }
    }

    /// Records a booking notification; true for any `pub` frame.
    fn note(&mut self, f: &Value) -> bool {
        if f["type"] != "pub" {
            return false;
        }
        if f["data"]["event"] == "confirmed" {
            self.notified.insert(f["data"]["booking"]["booking_id"].as_str().unwrap().to_owned());
        }
        true
    }

    async fn wait_notified(&mut self, booking: &str) {
        while !self.notified.contains(booking) {
            let f = self.conn.recv_within(LONG).await.expect("booking notification in time");
            self.note(&f);
        }
    }
}

/// What one racer did.
#[derive(Default)]
struct Outcome {
    holds: usize,
    refused: usize,
    retries: usize,
    expired: usize,
    released: usize,
    abandoned: usize,
    /// Bookings from `confirmed` replies (each one's notification arrived).
    confirmed: Vec<Value>,
    /// Confirmed bookings from `my_bookings` at the end.
    listed: Vec<Value>,
}

/// Two answers to the same hold request (same idempotency key) are the same.
fn assert_same_hold_result(a: &Value, b: &Value) {
    assert_eq!(a["type"], b["type"], "{a} vs {b}");
    if a["type"] == "held" {
        assert_eq!(a["hold"], b["hold"], "a retry returns the same hold");
    } else {
        assert_eq!((&a["code"], &a["seats"]), (&b["code"], &b["seats"]), "a retry returns the same failure");
    }
}

async fn race(
    addrs: [SocketAddr; 2],
    i: usize,
    showtime: Arc<str>,
    pool: Arc<Vec<String>>,
    gate: Arc<Semaphore>,
    clock: Clock,
) -> Outcome {
    let mut rng = StdRng::seed_from_u64(i as u64);
    let permit = gate.acquire().await.unwrap();
    let mut r = Racer::connect(addrs, format!("r{i}"), i % 2).await;
    drop(permit);
    let mut out = Outcome::default();
    for round in 0..ROUNDS {
        let n = rng.gen_range(1..=4);
        let seats: Vec<&String> = pool.choose_multiple(&mut rng, n).collect();
        let key = format!("{}-{round}", r.user);
        let req =
            json!({"type": "hold", "showtime": &*showtime, "seats": seats, "ttl_secs": 10, "idempotency_key": key});
        let dice: f64 = rng.r#gen();
        let reply = if dice < 0.2 {
            // The answer is lost with the connection; retry over the other node.
            r.send_and_switch(req.clone()).await;
            let first = r.call(req.clone()).await;
            let again = r.call(req.clone()).await;
            assert_same_hold_result(&first, &again);
            out.retries += 1;
            first
        } else {
            let first = r.call(req.clone()).await;
            if dice < 0.4 {
                r.switch_node().await;
                assert_same_hold_result(&first, &r.call(req.clone()).await);
                out.retries += 1;
            }
            first
        };
        if reply["type"] == "error" {
            assert_eq!(reply["code"], "seats_unavailable", "{reply}");
            let named = reply["seats"].as_array().unwrap();
            assert!(!named.is_empty() && named.iter().all(|s| seats.iter().any(|w| *w == s)), "{reply}");
            out.refused += 1;
            continue;
        }
        assert_eq!(reply["type"], "held", "{reply}");
        out.holds += 1;
        let hold_id = reply["hold"]["hold_id"].clone();
        let act: f64 = rng.r#gen();
        if act < 0.15 {
            // The hold survives a reconnect of its owner.
            r.switch_node().await;
        }
        if (0.55..0.65).contains(&act) {
            // Too slow: confirming after the hold expired fails cleanly.
            let until = reply["hold"]["expires_at"].as_i64().unwrap();
            while clock.now_ms() <= until {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let c = r.call(json!({"type": "confirm", "showtime": &*showtime, "hold_id": hold_id})).await;
            // `hold_not_found` once the sweeper has released it.
            assert!(c["code"] == "hold_expired" || c["code"] == "hold_not_found", "{c}");
            out.expired += 1;
        } else if act < 0.55 {
            let c = r.call(json!({"type": "confirm", "showtime": &*showtime, "hold_id": hold_id})).await;
            if c["type"] == "confirmed" {
                r.wait_notified(c["booking"]["booking_id"].as_str().unwrap()).await;
                out.confirmed.push(c["booking"].clone());
            } else {
                // The 10 s hold ran out first (a loaded machine): before the
                // payment step (`hold_expired`, or `hold_not_found` once swept)
                // or between the demo payment and the sale (`payment_refunded`).
                let code = c["code"].as_str().unwrap_or_default();
                assert!(["hold_expired", "hold_not_found", "payment_refunded"].contains(&code), "{c}");
                out.expired += 1;
            }
        } else if act < 0.8 {
            let x = r.call(json!({"type": "release", "showtime": &*showtime, "hold_id": hold_id})).await;
            let ok = x["type"] == "released" || x["code"] == "hold_expired" || x["code"] == "hold_not_found";
            assert!(ok, "{x}");
            out.released += 1;
        } else {
            out.abandoned += 1; // left to expire
        }
    }
    let mine = r.call(json!({"type": "my_bookings"})).await;
    out.listed = mine["bookings"].as_array().unwrap().iter().filter(|b| b["status"] == "confirmed").cloned().collect();
    out
}

/// A viewer of the showtime: applies every pushed delta to its first
/// snapshot, checking that versions come in order without gaps, until it
/// reaches the version it is told is the last.
async fn view(
    addr: SocketAddr,
    i: usize,
    showtime: Arc<str>,
    mut last: watch::Receiver<u64>,
) -> HashMap<String, String> {
    let mut c = Client::connect_url(&format!("ws://{addr}/ws?token={}", token(&format!("viewer{i}")))).await;
    let topic = format!("showtime:{showtime}");
    c.subscribe(&topic).await;
    let snap = c.request(json!({"type": "seat_map", "showtime": &*showtime})).await;
    let mut version = snap["map"]["version"].as_u64().unwrap();
    let mut map = states(&snap["map"]);
    loop {
        let target = *last.borrow_and_update();
        if target != 0 && version >= target {
            assert_eq!(version, target, "no deltas beyond the last version");
            return map;
        }
        tokio::select! {
            f = c.recv_within(Duration::from_millis(200)) => {
                let Some(f) = f else { continue };
                if f["type"] != "pub" || f["data"]["version"].as_u64().unwrap() <= version {
                    continue; // older than the snapshot
                }
                assert_eq!(f["data"]["version"].as_u64().unwrap(), version + 1, "viewer {i}: versions in order, no gaps");
                version += 1;
                apply(&mut map, &f["data"]);
            }
            _ = last.changed() => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_race_for_the_same_hundred_seats_over_two_nodes() {
    let clients: usize = std::env::var("MARQUEE_CONTENTION_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let started = std::time::Instant::now();
    let redis = RedisServer::start();
    let clock = manual_clock();
    let (a, b) = pair(&redis, &clock).await;
    let addrs = [a.addr, b.addr];
    let mut checker = Client::connect(&a, "checker").await;
    let showtime: Arc<str> = some_showtime(&mut checker).await.into();
    let snap = checker.request(json!({"type": "seat_map", "showtime": &*showtime})).await;
    let pool: Arc<Vec<String>> = Arc::new(
        snap["map"]["seats"]
            .as_array()
            .unwrap()
            .iter()
            .take(POOL)
            .map(|s| s["seat"].as_str().unwrap().to_owned())
            .collect(),
    );

    let (last_tx, last_rx) = watch::channel(0u64);
    let viewers: Vec<_> =
        (0..10).map(|i| tokio::spawn(view(addrs[i % 2], i, showtime.clone(), last_rx.clone()))).collect();
    // Holds of 10 s expire after about 2 s of real time.
    let ticking = CancellationToken::new();
    let ticker = {
        let (clock, stop) = (clock.clone(), ticking.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                clock.advance(Duration::from_millis(500));
            }
        })
    };
    let gate = Arc::new(Semaphore::new(64));
    let racers: Vec<_> = (0..clients)
        .map(|i| tokio::spawn(race(addrs, i, showtime.clone(), pool.clone(), gate.clone(), clock.clone())))
        .collect();
    let mut outcomes = Vec::with_capacity(clients);
    for r in racers {
        outcomes.push(r.await.unwrap());
    }
    let raced = started.elapsed();
    ticking.cancel();
    ticker.await.unwrap();

    // Every remaining hold expires; the sweepers release them.
    clock.advance(Duration::from_secs(3600));
    let checker_token = token("checker");
    let path = format!("/api/showtimes/{showtime}/seats");
    let last = eventually(Duration::from_secs(20), "every hold released", || async {
        let (_, map) = api(a.addr, "GET", &path, Some(&checker_token), None).await;
        map["seats"].as_array().unwrap().iter().all(|s| s["state"] != "held").then_some(json!({"map": map}))
    })
    .await;
    let final_map = states(&last["map"]);
    last_tx.send(last["map"]["version"].as_u64().unwrap()).unwrap();
    for v in viewers {
        assert_eq!(v.await.unwrap(), final_map, "the final map is the replay of every pushed delta");
    }

    // Every sold seat has exactly one booking, and every booking's seats are sold.
    let confirmed: Vec<&Value> = outcomes.iter().flat_map(|o| &o.confirmed).collect();
    let listed: Vec<&Value> = outcomes.iter().flat_map(|o| &o.listed).collect();
    let ids = |v: &[&Value]| v.iter().map(|b| b["booking_id"].as_str().unwrap().to_owned()).collect::<HashSet<_>>();
    assert_eq!(ids(&confirmed), ids(&listed), "the confirms are exactly the stored bookings");
    assert_eq!(ids(&confirmed).len(), confirmed.len());
    let mut owner: HashMap<String, &str> = HashMap::new();
    for b in &confirmed {
        for s in b["seats"].as_array().unwrap() {
            let seat = s.as_str().unwrap().to_owned();
            assert!(pool.contains(&seat));
            let prev = owner.insert(seat.clone(), b["booking_id"].as_str().unwrap());
            assert!(prev.is_none(), "seat {seat} sold twice: {prev:?} and {}", b["booking_id"]);
            assert_eq!(final_map[&seat], "sold", "{seat}");
        }
    }
    let sold = final_map.values().filter(|s| *s == "sold").count();
    assert_eq!(sold, owner.len(), "every sold seat has exactly one booking");

    let sum = |f: fn(&Outcome) -> usize| outcomes.iter().map(f).sum::<usize>();
    eprintln!(
        "contention: {clients} clients, {} holds ({} refused, {} retried), {} confirmed ({} seats sold, each notified), {} confirms after expiry, {} released, {} abandoned; final version {}; race {:.1?}, total {:.1?}",
        sum(|o| o.holds),
        sum(|o| o.refused),
        sum(|o| o.retries),
        confirmed.len(),
        sold,
        sum(|o| o.expired),
        sum(|o| o.released),
        sum(|o| o.abandoned),
        last["map"]["version"],
        raced,
        started.elapsed()
    );
    assert!(!confirmed.is_empty() && sum(|o| o.refused) > 0, "the race had winners and losers");
    assert!(sum(|o| o.expired) > 0 && sum(|o| o.abandoned) > 0, "holds expired during the race");
}

/// A webhook on a free port that answers 200 and hands every request body on.
async fn webhook() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/booking", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len: usize = text[..i]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    if text.len() >= i + 4 + len {
                        break text[i + 4..i + 4 + len].to_owned();
                    }
                }
                if n == 0 {
                    break String::new();
                }
            };
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            let _ = tx.send(body);
        }
    });
    (url, rx)
}

#[tokio::test]
async fn a_node_with_a_booking_webhook_delivers_confirmations_to_it() {
    let redis = RedisServer::start();
    let (url, mut hook) = webhook().await;
    let node = Node::start(Some(&redis), "a", |c| c.booking_webhook = Some(url)).await;
    let mut alice = Client::connect(&node, "alice").await;
    let st = some_showtime(&mut alice).await;
    let h = alice.request(json!({"type": "hold", "showtime": st, "seats": ["G5"], "idempotency_key": "w1"})).await;
    let c = alice.request(json!({"type": "confirm", "showtime": st, "hold_id": h["hold"]["hold_id"]})).await;
    assert_eq!(c["type"], "confirmed", "{c}");
    let body = tokio::time::timeout(Duration::from_secs(10), hook.recv()).await.expect("webhook called").unwrap();
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["event"], "confirmed", "{event}");
    let mut booking = c["booking"].clone();
    booking["version"] = json!(0); // events carry no seat-map version
    assert_eq!(event["booking"], booking);
}

#[tokio::test]
async fn a_single_node_without_redis_notifies_the_owner_live_and_the_webhook() {
    let (url, mut hook) = webhook().await;
    let node = Node::start(None, "solo", |c| c.booking_webhook = Some(url)).await;
    let mut alice = Client::connect(&node, "alice").await;
    let mut phone = Client::connect(&node, "alice").await;
    phone.subscribe("user:alice").await;
    let st = some_showtime(&mut alice).await;
    let h = alice.request(json!({"type": "hold", "showtime": st, "seats": ["G6"], "idempotency_key": "w1"})).await;
    let c = alice.request(json!({"type": "confirm", "showtime": st, "hold_id": h["hold"]["hold_id"]})).await;
    assert_eq!(c["type"], "confirmed", "{c}");
    // Events carry no seat-map version (only the confirm's answer knows it).
    let unversioned = |b: &Value| {
        let mut b = b.clone();
        b["version"] = json!(0);
        b
    };
    let booked = unversioned(&c["booking"]);
    let p = phone.next_pub("user:alice").await;
    assert_eq!((p["data"]["event"].as_str(), &p["data"]["booking"]), (Some("confirmed"), &booked), "{p}");
    let body = tokio::time::timeout(Duration::from_secs(10), hook.recv()).await.expect("webhook called").unwrap();
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((event["event"].as_str(), &event["booking"]), (Some("confirmed"), &booked), "{event}");
    let x = alice.request(json!({"type": "cancel_booking", "booking_id": c["booking"]["booking_id"]})).await;
    assert_eq!(x["type"], "booking_cancelled", "{x}");
    assert_eq!(phone.next_pub("user:alice").await["data"]["event"], "cancelled");
    let body = tokio::time::timeout(Duration::from_secs(10), hook.recv()).await.expect("webhook called").unwrap();
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (event["event"].as_str(), &event["booking"]),
        (Some("cancelled"), &unversioned(&x["booking"])),
        "{event}"
    );
}

#[tokio::test]
async fn an_admin_schedule_load_reaches_every_node_and_nodes_started_later() {
    let redis = RedisServer::start();
    let clock = manual_clock();
    let (a, b) = pair(&redis, &clock).await;
    let t = token("rita");
    let tok = Some(t.as_str());
    let (_, before) = api(b.addr, "GET", "/api/showtimes", tok, None).await;
    assert!(before["showtimes"].as_array().unwrap().len() > 1, "the demo week first");
    let schedule = json!({
        "theaters": [{"id": "t9", "name": "T", "screens": [{"id": "1", "name": "S1", "rows": [{"row": "A", "seats": "SSS"}]}]}],
        "movies": [{"id": "m9", "title": "M", "runtime_min": 90}],
        "showtimes": [{"id": "t9-1-y", "movie": "m9", "theater": "t9", "screen": "1",
            "starts_at": "2026-11-23T20:00:00+09:00[Asia/Seoul]",
            "prices": {"standard": 1, "premium": 2, "wheelchair": 1}}]
    });
    let (s, r) = api(a.addr, "POST", "/api/admin/schedule", Some(crate::support::ADMIN_TOKEN), Some(schedule)).await;
    assert_eq!((s, r["showtimes"].as_u64()), (200, Some(1)), "{r}");
    // The node that received it switched at once; the other within a sweep interval.
    let (_, on_a) = api(a.addr, "GET", "/api/showtimes", tok, None).await;
    assert_eq!(on_a["showtimes"][0]["id"], "t9-1-y", "{on_a}");
    let on_b = eventually(Duration::from_secs(10), "node b reloads the schedule", || async {
        let (_, list) = api(b.addr, "GET", "/api/showtimes", tok, None).await;
        (list["showtimes"].as_array().map(Vec::len) == Some(1)).then_some(list)
    })
    .await;
    assert_eq!(on_b["showtimes"], on_a["showtimes"]);
    // Seats of the new showtime work on the other node too.
    let mut ws = Client::connect(&b, "rita").await;
    let h = ws.request(json!({"type": "hold", "showtime": "t9-1-y", "seats": ["A2"], "idempotency_key": "s1"})).await;
    assert_eq!(h["type"], "held", "{h}");
    // A node started later takes the cluster's schedule, not its own demo week.
    let c = Node::start(Some(&redis), "c", |_| {}).await;
    let (_, on_c) = api(c.addr, "GET", "/api/showtimes", tok, None).await;
    assert_eq!(on_c["showtimes"], on_a["showtimes"]);
}

#[tokio::test]
async fn after_redis_restarts_empty_a_restarted_node_and_the_others_serve_one_schedule() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let clock = manual_clock();
    let (a, mut b) = pair(&redis, &clock).await;
    let t = token("rita");
    let tok = Some(t.as_str());
    let schedule = json!({
        "theaters": [{"id": "t9", "name": "T", "screens": [{"id": "1", "name": "S1", "rows": [{"row": "A", "seats": "SSSS"}]}]}],
        "movies": [{"id": "m9", "title": "M", "runtime_min": 90}],
        "showtimes": [{"id": "t9-1-admin", "movie": "m9", "theater": "t9", "screen": "1",
            "starts_at": "2026-11-23T20:00:00+09:00[Asia/Seoul]",
            "prices": {"standard": 1, "premium": 2, "wheelchair": 1}}]
    });
    let (s, r) = api(a.addr, "POST", "/api/admin/schedule", Some(crate::support::ADMIN_TOKEN), Some(schedule)).await;
    assert_eq!(s, 200, "{r}");
    eventually(Duration::from_secs(10), "node b takes the admin's schedule", || async {
        let (_, list) = api(b.addr, "GET", "/api/showtimes", tok, None).await;
        (list["showtimes"][0]["id"] == "t9-1-admin").then_some(())
    })
    .await;

    // Redis restarts empty (no persistence), and node b is restarted with
    // its own seed, the demo week.
    redis.kill();
    let redis = RedisServer::start_on(port);
    b.stop.cancel();
    let _ = (&mut b.task).await;
    let b = Node::start(Some(&redis), "b", |c| {
        c.clock = clock.clone();
        c.sweep_interval_ms = 20;
    })
    .await;

    // One schedule for the cluster, the admin's (the newest any node held),
    // within a bounded time: both nodes list it and hold on its showtime.
    let hold = |addr: SocketAddr, seat: &'static str| async move {
        let body = json!({"seats": [seat], "idempotency_key": format!("k-{seat}")});
        api(addr, "POST", "/api/showtimes/t9-1-admin/holds", tok, Some(body)).await.0
    };
    let lists = eventually(Duration::from_secs(20), "both nodes serve the same schedule", || async {
        let (sa, on_a) = api(a.addr, "GET", "/api/showtimes", tok, None).await;
        let (sb, on_b) = api(b.addr, "GET", "/api/showtimes", tok, None).await;
        (sa == 200 && sb == 200 && on_a["showtimes"] == on_b["showtimes"]).then_some((on_a, on_b))
    })
    .await;
    assert_eq!(lists.0["showtimes"].as_array().map(Vec::len), Some(1), "the admin's schedule: {}", lists.0);
    assert_eq!(lists.0["showtimes"][0]["id"], "t9-1-admin");
    assert_eq!((hold(a.addr, "A1").await, hold(b.addr, "A2").await), (200, 200), "a hold answers alike on both");
}
