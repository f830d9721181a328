//! Booking dialogues end to end over two gateway nodes, a dispatcher,
//! model-svc and a real redis-server: who the tickets are for, which seats,
//! and where; the seat store prices every ticket and the read-back says what
//! it priced.

use serde_json::{Value, json};
use testkit::RedisServer;

use crate::chat::{booking_cluster, say, tools};
use crate::support::{Client, ModelSvc};

/// `1,234,500`.
fn won(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The first showtime offered as a button in `fin`.
fn first_offer(fin: &Value) -> Value {
    fin["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["showtime"].is_string())
        .unwrap_or_else(|| panic!("showtimes offered as buttons: {fin}"))
        .clone()
}

/// `(row, number)` of a seat id (`J17`).
fn seat(id: &Value) -> (char, u32) {
    let s = id.as_str().unwrap();
    (s.chars().next().unwrap(), s[1..].parse().unwrap())
}

/// A showtime from the `showtimes` listing.
async fn listed(c: &mut Client, id: &str) -> Value {
    let list = c.request(json!({"type": "showtimes"})).await;
    list["showtimes"].as_array().unwrap().iter().find(|s| s["id"] == id).cloned().expect("listed")
}

/// A user of the two-node cluster: a desk that talks and a phone that listens.
struct Talk {
    desk: Client,
    phone: Client,
    n: u32,
}

impl Talk {
    async fn new(a: &crate::support::Node, b: &crate::support::Node, user: &str) -> Talk {
        let desk = Client::connect(a, user).await;
        let mut phone = Client::connect(b, user).await;
        phone.subscribe(&format!("user:{user}")).await;
        Talk { desk, phone, n: 0 }
    }

    async fn say(&mut self, text: &str) -> (Value, Vec<Value>) {
        say(&mut self.desk, &mut self.phone, &mut self.n, text).await
    }

    /// The seats of `showtime` held by this user, from the live seat map.
    async fn mine(&mut self, showtime: &str) -> Vec<String> {
        let map = self.desk.request(json!({"type": "seat_map", "showtime": showtime})).await;
        map["map"]["seats"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["mine"] == true)
            .map(|s| s["seat"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn chat_a_grandparent_books_two_adults_and_a_child_in_standard_seats_at_the_stores_total() {
    let redis = RedisServer::start();
    let model = ModelSvc::start(0).await;
    let (a, b, _d, _clock) = booking_cluster(&redis, &model).await;
    let mut t = Talk::new(&a, &b, "halmeoni").await;

    let (fin, actions) = t.say("내일 센과 치히로의 행방불명 예매하고 싶어요").await;
    assert_eq!(tools(&actions), ["find_showtimes"], "{fin}");
    let pick = first_offer(&fin);
    let showtime = pick["showtime"].as_str().unwrap().to_owned();
    let st = listed(&mut t.desk, &showtime).await;
    assert_eq!(st["age_rating"], "all", "a film for everyone: {st}");

    let (fin, actions) = t.say(pick["text"].as_str().unwrap()).await;
    assert!(actions.is_empty(), "asks how many first: {fin}");
    // A grandchild of unknown age: a child's or a teen's ticket? It asks, holding nothing.
    let (fin, actions) = t.say("할머니랑 할아버지랑 손주 하나요").await;
    assert!(actions.is_empty(), "{actions:?}");
    let text = fin["text"].as_str().unwrap();
    assert!(text.contains("어린이") && text.contains("청소년"), "{fin}");
    assert!(t.mine(&showtime).await.is_empty());

    let (fin, actions) = t.say("어린이요").await;
    assert_eq!(tools(&actions), ["hold_best_available"], "{fin}");
    assert_eq!(actions[0]["ok"], true, "{actions:?}");
    assert_eq!(actions[0]["arguments"]["tickets"], json!({"adult": 2, "child": 1}), "{actions:?}");
    let hold = &actions[0]["result"];
    let lines = hold["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{hold}");
    assert!(lines.iter().all(|l| l["class"] == "standard"), "standard by default: {hold}");
    // The store's total: two adult and one child fare for standard seats.
    let adult = st["prices"]["standard"].as_u64().unwrap();
    let child = st["fares"]["child"]["standard"].as_u64().unwrap();
    assert!(child < adult, "{st}");
    let total = 2 * adult + child;
    assert_eq!(hold["amount"].as_u64(), Some(total), "{hold}");
    assert_eq!(hold["tickets"], json!({"adult": 2, "child": 1}));
    let text = fin["text"].as_str().unwrap();
    for want in ["일반석", "성인 2명", "어린이 1명", &won(total)] {
        assert!(text.contains(want), "the read-back names {want:?}: {text}");
    }
    let speech = fin["speech"].as_str().unwrap();
    assert!(speech.contains("어린이 1명") && speech.contains("일반석"), "{speech}");
    assert_eq!(t.mine(&showtime).await.len(), 3);

    let (fin, actions) = t.say("네").await;
    assert_eq!(tools(&actions), ["confirm_booking"], "{fin}");
    assert_eq!(actions[0]["ok"], true, "{actions:?}");
    let booking = &actions[0]["result"];
    assert_eq!(booking["amount"].as_u64(), Some(total), "{booking}");
    let list = t.desk.request(json!({"type": "my_bookings"})).await;
    let list = list["bookings"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["amount"].as_u64(), Some(total), "{list:?}");
    assert_eq!(list[0]["tickets"], json!({"adult": 2, "child": 1}), "{list:?}");
}

// Each test says fewer than the chat rate's burst (6) of messages: the
// limit is per connection and time-based, and these tests do not wait.

#[tokio::test]
async fn chat_a_wheelchair_user_and_a_companion_sit_side_by_side() {
    let redis = RedisServer::start();
    let model = ModelSvc::start(0).await;
    let (a, b, _d, _clock) = booking_cluster(&redis, &model).await;
    let mut t = Talk::new(&a, &b, "gildong").await;

    let (fin, actions) = t.say("내일 매트릭스 휠체어석으로 두 명 예매해 주세요").await;
    assert_eq!(tools(&actions), ["find_showtimes"], "{fin}");
    let pick = first_offer(&fin);
    let showtime = pick["showtime"].as_str().unwrap().to_owned();
    let (fin, actions) = t.say(pick["text"].as_str().unwrap()).await;
    assert_eq!(tools(&actions), ["hold_best_available"], "{fin}");
    assert_eq!(actions[0]["ok"], true, "{actions:?}");
    let hold = &actions[0]["result"];
    let lines = hold["lines"].as_array().unwrap();
    let classes: Vec<&str> = lines.iter().map(|l| l["class"].as_str().unwrap()).collect();
    assert_eq!(classes.iter().filter(|c| **c == "wheelchair").count(), 1, "{hold}");
    assert_eq!(classes.iter().filter(|c| **c == "standard").count(), 1, "a companion seat: {hold}");
    let (s1, s2) = (seat(&hold["seats"][0]), seat(&hold["seats"][1]));
    assert_eq!(s1.0, s2.0, "one row: {hold}");
    assert_eq!(s1.1 + 1, s2.1, "side by side: {hold}");
    assert_eq!(t.mine(&showtime).await.len(), 2);
    assert!(fin["text"].as_str().unwrap().contains("휠체어석"), "{fin}");
    let (_, actions) = t.say("아니요").await;
    assert_eq!(tools(&actions), ["release_hold"], "{actions:?}");
    assert!(t.mine(&showtime).await.is_empty());
}

#[tokio::test]
async fn chat_a_teen_at_an_adults_only_showing_is_refused_by_the_store_and_explained_kindly() {
    let redis = RedisServer::start();
    let model = ModelSvc::start(0).await;
    let (a, b, _d, _clock) = booking_cluster(&redis, &model).await;
    let mut t = Talk::new(&a, &b, "gildong").await;
    let tomorrow = jiff::Zoned::now().in_tz("Asia/Seoul").unwrap().date().tomorrow().unwrap();
    let list = t.desk.request(json!({"type": "showtimes", "date": tomorrow.to_string(), "movie": "nsyn-18"})).await;
    let adults_only = list["showtimes"][0].clone();
    assert_eq!(adults_only["age_rating"], "19", "{adults_only}");
    let (fin, _) = t.say("내일 살인의 추억 예매할게요").await;
    let pick = fin["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["showtime"] == adults_only["id"])
        .cloned()
        .unwrap_or_else(|| first_offer(&fin));
    t.say(pick["text"].as_str().unwrap()).await;
    let (fin, actions) = t.say("어른 하나 청소년 하나").await;
    assert_eq!(tools(&actions), ["hold_best_available"], "{fin}");
    assert_eq!(actions[0]["result"]["error"], "age_restricted", "{actions:?}");
    let text = fin["text"].as_str().unwrap();
    assert!(text.contains("청소년관람불가") && text.contains("다른 영화"), "{fin}");
    assert!(t.mine(pick["showtime"].as_str().unwrap()).await.is_empty());
}

#[tokio::test]
async fn chat_a_last_row_wish_is_honoured_and_a_correction_keeps_the_old_hold_until_the_new_one_is_held() {
    let redis = RedisServer::start();
    let model = ModelSvc::start(0).await;
    let (a, b, _d, _clock) = booking_cluster(&redis, &model).await;
    let mut t = Talk::new(&a, &b, "grandpa").await;

    let (fin, actions) = t.say("Two tickets for The Matrix tomorrow, in the last row please").await;
    assert_eq!(tools(&actions), ["find_showtimes"], "{fin}");
    let pick = first_offer(&fin);
    let showtime = pick["showtime"].as_str().unwrap().to_owned();
    let (fin, actions) = t.say(pick["text"].as_str().unwrap()).await;
    assert_eq!(tools(&actions), ["hold_best_available"], "{fin}");
    assert_eq!(actions[0]["arguments"]["position"], "last_row", "{actions:?}");
    assert_eq!(actions[0]["arguments"]["class"], "standard", "{actions:?}");
    let hold = actions[0]["result"].clone();
    // The last row of the screen, from its seat map.
    let map = t.desk.request(json!({"type": "seat_map", "showtime": showtime})).await;
    let last = map["map"]["seats"].as_array().unwrap().iter().map(|s| seat(&s["seat"]).0).max().unwrap();
    let rows: Vec<char> = hold["seats"].as_array().unwrap().iter().map(|s| seat(s).0).collect();
    assert_eq!(rows, [last, last], "{hold}");
    assert!(fin["text"].as_str().unwrap().contains("standard seats"), "{fin}");
    let first: Vec<String> = hold["seats"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();

    // "Make it three": the new seats are held first, then the old ones given back.
    let (fin, actions) = t.say("actually make it three people").await;
    assert_eq!(tools(&actions), ["hold_best_available", "release_hold"], "{fin}");
    assert!(actions.iter().all(|a| a["ok"] == true), "{actions:?}");
    assert_eq!(actions[1]["arguments"]["hold_id"], hold["hold_id"], "{actions:?}");
    let new = &actions[0]["result"];
    assert_eq!(new["seats"].as_array().unwrap().len(), 3, "{new}");
    assert!(new["seats"].as_array().unwrap().iter().all(|s| seat(s).0 == last), "still the last row: {new}");
    let mine = t.mine(&showtime).await;
    assert_eq!(mine.len(), 3, "{mine:?}");
    let text = fin["text"].as_str().unwrap();
    assert!(text.contains(&won(new["amount"].as_u64().unwrap())), "read back again: {fin}");
    let _ = first;
}
