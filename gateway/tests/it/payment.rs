//! Payment at the confirm, through the gateway: a node on a real
//! redis-server paying through the Toss adapter against the local Toss
//! protocol server (REST and WebSocket), and the demo default.

use serde_json::{Value, json};
use testkit::{RedisServer, TossServer};

use crate::support::{Client, Node, api, token};

async fn toss_node(redis: &RedisServer, toss: &TossServer) -> Node {
    let base = toss.base_url();
    Node::start(Some(redis), "pay-a", move |c| {
        c.payment_provider = "toss".into();
        c.toss_secret_key = Some("test_sk_x".into());
        c.toss_api_base = base;
    })
    .await
}

/// The first showtime with its standard price.
async fn showtime(node: &Node) -> (String, i64) {
    let (s, list) = api(node.addr, "GET", "/api/showtimes", Some(&token("rita")), None).await;
    assert_eq!(s, 200, "{list}");
    let st = &list["showtimes"][0];
    (st["id"].as_str().unwrap().to_owned(), st["prices"]["standard"].as_i64().unwrap())
}

async fn hold(node: &Node, user: &str, st: &str, seat: &str) -> String {
    let body = json!({"seats": [seat], "idempotency_key": format!("{user}-{seat}")});
    let (s, h) = api(node.addr, "POST", &format!("/api/showtimes/{st}/holds"), Some(&token(user)), Some(body)).await;
    assert_eq!(s, 200, "{h}");
    h["hold_id"].as_str().unwrap().to_owned()
}

async fn confirm(node: &Node, user: &str, st: &str, hold: &str, payment: Value) -> (u16, Value) {
    let path = format!("/api/showtimes/{st}/holds/{hold}/confirm");
    api(node.addr, "POST", &path, Some(&token(user)), Some(json!({"payment": payment}))).await
}

#[tokio::test]
async fn rest_confirm_pays_through_toss_once_and_declines_release_the_hold() {
    let redis = RedisServer::start();
    let toss = TossServer::start().await;
    let node = toss_node(&redis, &toss).await;
    let (st, price) = showtime(&node).await;
    let h = hold(&node, "alice", &st, "A1").await;
    let pay = json!({"payment_key": "tpk-1", "order_id": h, "amount": price});
    let (s, b) = confirm(&node, "alice", &st, &h, pay.clone()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["amount"].as_i64(), Some(price));
    // A retried confirm: the same booking, one charge.
    let (s, again) = confirm(&node, "alice", &st, &h, pay).await;
    assert_eq!((s, &again["booking_id"]), (200, &b["booking_id"]), "{again}");
    assert_eq!(toss.charges(), 1);

    // A wrong amount is refused before the provider is asked.
    let h2 = hold(&node, "alice", &st, "A2").await;
    let (s, e) = confirm(&node, "alice", &st, &h2, json!({"payment_key": "tpk-2", "order_id": h2, "amount": 1})).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("payment_mismatch")), "{e}");
    assert_eq!(toss.charges(), 1);

    // A decline: 402, the hold released.
    toss.script([testkit::toss::Behaviour::Decline {
        code: "REJECT_CARD_PAYMENT".into(), message: "한도초과".into()
    }]);
    let pay = json!({"payment_key": "tpk-2", "order_id": h2, "amount": price});
    let (s, e) = confirm(&node, "alice", &st, &h2, pay).await;
    assert_eq!((s, e["code"].as_str()), (402, Some("payment_declined")), "{e}");
    let (s, map) = api(node.addr, "GET", &format!("/api/showtimes/{st}/seats"), Some(&token("bob")), None).await;
    assert_eq!(s, 200);
    let a2 = map["seats"].as_array().unwrap().iter().find(|x| x["seat"] == "A2").unwrap().clone();
    assert_eq!(a2["state"], "free", "{a2}");
    assert_eq!(toss.charges(), 1);
}

#[tokio::test]
async fn ws_confirm_takes_a_payment_and_demo_stays_the_default() {
    let redis = RedisServer::start();
    let toss = TossServer::start().await;
    let node = toss_node(&redis, &toss).await;
    let (st, price) = showtime(&node).await;
    let h = hold(&node, "alice", &st, "B1").await;
    let mut alice = Client::connect(&node, "alice").await;
    let c = alice
        .request(json!({"type": "confirm", "showtime": st, "hold_id": h,
            "payment": {"payment_key": "tpk-ws", "order_id": h, "amount": price}}))
        .await;
    assert_eq!(c["type"], "confirmed", "{c}");
    assert_eq!(toss.charges(), 1);
    // Without a payment, a Toss node refuses: nothing to charge with.
    let h2 = hold(&node, "alice", &st, "B2").await;
    let e = alice.request(json!({"type": "confirm", "showtime": st, "hold_id": h2})).await;
    assert_eq!(e["code"], "payment_mismatch", "{e}");

    // The default node: the demo provider, confirm as before (with or without `payment`).
    let demo = Node::start(Some(&redis), "pay-b", |_| {}).await;
    let h3 = hold(&demo, "carol", &st, "C1").await;
    let (s, b) = confirm(&demo, "carol", &st, &h3, json!({"provider": "demo"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(toss.charges(), 1);
}
