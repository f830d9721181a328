//! Ticket types, age ratings, nearby theaters and e-tickets through the
//! gateway (docs/protocol.md, *Ticket types*, *Nearby theaters*, *Booking
//! codes and e-tickets*): real nodes on the demo schedule, real WebSocket and
//! HTTP clients, a real redis-server where a hold and its confirm cross nodes.

use serde_json::{Value, json};
use testkit::RedisServer;

use crate::support::{Client, Node, api, http, token};

/// Every listed showtime (REST).
async fn showtimes(node: &Node, query: &str) -> Vec<Value> {
    let (s, body) = api(node.addr, "GET", &format!("/api/showtimes{query}"), Some(&token("alice")), None).await;
    assert_eq!(s, 200, "{body}");
    body["showtimes"].as_array().unwrap().clone()
}

/// The first listed showtime that `pred` accepts.
async fn showtime_where(node: &Node, pred: impl Fn(&Value) -> bool) -> Value {
    showtimes(node, "").await.into_iter().find(|st| pred(st)).expect("a matching showtime in the demo schedule")
}

fn price(st: &Value, ticket: &str, class: &str) -> u64 {
    st["fares"][ticket][class].as_u64().unwrap_or_else(|| panic!("no {ticket}/{class} fare in {st}"))
}

#[tokio::test]
async fn ticket_types_are_priced_by_the_store_across_nodes() {
    let redis = RedisServer::start();
    let a = Node::start(Some(&redis), "a", |_| {}).await;
    // A screen that offers child tickets, for a film children may see.
    let st = showtime_where(&a, |st| st["fares"]["child"].is_object() && st["age_rating"] != "19").await;
    // The second node starts once the first one serves (and so has opened the shared ledger).
    let b = Node::start(Some(&redis), "b", |_| {}).await;
    let id = st["id"].as_str().unwrap();
    assert!(st["runtime_min"].as_u64() > Some(60), "{st}");
    let mut alice = Client::connect(&a, "alice").await;
    let held = alice
        .request(json!({"type": "hold", "showtime": id, "seats": ["A2", "A1"], "idempotency_key": "t-1",
            "tickets": {"adult": 1, "child": 1}}))
        .await;
    assert_eq!(held["type"], "held", "{held}");
    let hold = &held["hold"];
    let (adult, child) = (price(&st, "adult", "standard"), price(&st, "child", "standard"));
    assert!(child < adult, "{st}");
    assert_eq!(
        hold["lines"],
        json!([{"seat": "A1", "class": "standard", "ticket": "adult", "price": adult},
               {"seat": "A2", "class": "standard", "ticket": "child", "price": child}])
    );
    assert_eq!(hold["tickets"], json!({"adult": 1, "child": 1}));
    assert_eq!(hold["amount"].as_u64(), Some(adult + child));
    // Confirmed on the other node (REST, no body): the hold's tickets, priced again by the store.
    let hold_id = hold["hold_id"].as_str().unwrap();
    let path = format!("/api/showtimes/{id}/holds/{hold_id}/confirm");
    let (s, booking) = api(b.addr, "POST", &path, Some(&token("alice")), None).await;
    assert_eq!(s, 200, "{booking}");
    assert_eq!(booking["lines"], hold["lines"]);
    assert_eq!(booking["amount"], hold["amount"]);
    let (_, list) = api(a.addr, "GET", "/api/bookings", Some(&token("alice")), None).await;
    assert_eq!(list["bookings"][0]["lines"], hold["lines"], "{list}");
    assert_eq!(list["bookings"][0]["tickets"], json!({"adult": 1, "child": 1}));
    // A confirm may name other tickets: two seniors.
    let (s, h) = api(
        a.addr,
        "POST",
        &format!("/api/showtimes/{id}/holds"),
        Some(&token("alice")),
        Some(json!({"seats": ["F7", "F8"], "idempotency_key": "t-2"})),
    )
    .await;
    assert_eq!((s, h["tickets"].clone()), (200, json!({"adult": 2})), "{h}");
    let path = format!("/api/showtimes/{id}/holds/{}/confirm", h["hold_id"].as_str().unwrap());
    let (s, booking) = api(b.addr, "POST", &path, Some(&token("alice")), Some(json!({"tickets": {"senior": 2}}))).await;
    assert_eq!(s, 200, "{booking}");
    assert_eq!(booking["amount"].as_u64(), Some(2 * price(&st, "senior", "standard")), "{booking}");
    for l in booking["lines"].as_array().unwrap() {
        assert_eq!(l["ticket"], "senior", "{booking}");
        assert_eq!(l["price"].as_u64(), Some(price(&st, "senior", l["class"].as_str().unwrap())), "{booking}");
    }
}

#[tokio::test]
async fn child_tickets_are_refused_for_an_adults_only_film() {
    let node = Node::start(None, "a", |_| {}).await;
    let adults_only = showtime_where(&node, |st| st["age_rating"] == "19" && st["fares"]["child"].is_object()).await;
    let id = adults_only["id"].as_str().unwrap();
    let t = token("alice");
    let hold =
        |seats: Value, tickets: Value, key: &str| json!({"seats": seats, "idempotency_key": key, "tickets": tickets});
    let path = format!("/api/showtimes/{id}/holds");
    let (s, e) =
        api(node.addr, "POST", &path, Some(&t), Some(hold(json!(["A1", "A2"]), json!({"adult": 1, "child": 1}), "k1")))
            .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("age_restricted")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("청소년관람불가"), "{e}");
    let mut ws = Client::connect(&node, "alice").await;
    let r = ws
        .request(
            json!({"type": "hold", "showtime": id, "seats": ["A1"], "idempotency_key": "k2", "tickets": {"teen": 1}}),
        )
        .await;
    assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("age_restricted")), "{r}");
    let (s, e) =
        api(node.addr, "POST", &path, Some(&t), Some(hold(json!(["A1", "A2"]), json!({"adult": 1}), "k3"))).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("ticket_count_mismatch")), "{e}");
    // Nothing was held by the refusals: an adult hold of the same seats succeeds ...
    let (s, h) =
        api(node.addr, "POST", &path, Some(&t), Some(hold(json!(["A1", "A2"]), json!({"adult": 2}), "k4"))).await;
    assert_eq!(s, 200, "{h}");
    // ... and a confirm that turns them into a child's ticket is refused too.
    let confirm = format!("/api/showtimes/{id}/holds/{}/confirm", h["hold_id"].as_str().unwrap());
    let (s, e) = api(node.addr, "POST", &confirm, Some(&t), Some(json!({"tickets": {"adult": 1, "child": 1}}))).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("age_restricted")), "{e}");
    // A showtime without child fares does not sell them, whatever the film.
    let no_child = showtime_where(&node, |st| !st["fares"]["child"].is_object()).await;
    let path = format!("/api/showtimes/{}/holds", no_child["id"].as_str().unwrap());
    let (s, e) = api(node.addr, "POST", &path, Some(&t), Some(hold(json!(["A1"]), json!({"child": 1}), "k5"))).await;
    assert_eq!(s, 400, "{e}");
    assert!(["ticket_not_offered", "age_restricted"].contains(&e["code"].as_str().unwrap()), "{e}");
}

#[tokio::test]
async fn showtimes_near_a_point_come_nearest_first() {
    let node = Node::start(None, "a", |_| {}).await;
    // From 합정 station: Marquee Hongdae is about 1 km away, Gangnam about 11 km.
    let near = showtimes(&node, "?near=37.5495,126.9139").await;
    let theaters: Vec<&str> = near.iter().map(|s| s["theater"].as_str().unwrap()).collect();
    let first_gangnam = theaters.iter().position(|t| *t == "gangnam").unwrap();
    assert!(first_gangnam > 0 && theaters[..first_gangnam].iter().all(|t| *t == "hongdae"), "{theaters:?}");
    assert!(theaters[first_gangnam..].iter().all(|t| *t == "gangnam"), "{theaters:?}");
    let d: Vec<f64> = near.iter().map(|s| s["distance_km"].as_f64().unwrap()).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
    assert!(d[0] < 2.0 && d[d.len() - 1] > 9.0, "{d:?}");
    // By district, as people say it.
    let hongdae = showtimes(&node, "?district=%ED%99%8D%EB%8C%80%20%EA%B7%BC%EC%B2%98").await; // 홍대 근처
    assert!(!hongdae.is_empty() && hongdae.iter().all(|s| s["theater"] == "hongdae" && s["district"] == "마포"));
    let gangnam = showtimes(&node, "?district=%EA%B0%95%EB%82%A8").await; // 강남
    assert!(!gangnam.is_empty() && gangnam.iter().all(|s| s["theater"] == "gangnam"));
    assert!(gangnam.iter().all(|s| s.get("distance_km").is_none()), "no point, no distance");
    let (s, e) = api(node.addr, "GET", "/api/showtimes?near=north", Some(&token("alice")), None).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("invalid_request")), "{e}");
    // The WebSocket frame takes the same filters.
    let mut ws = Client::connect(&node, "alice").await;
    let r = ws.request(json!({"type": "showtimes", "near": "37.4979,127.0276", "district": "Gangnam"})).await;
    assert_eq!(r["type"], "showtimes", "{r}");
    let list = r["showtimes"].as_array().unwrap();
    assert!(
        !list.is_empty() && list.iter().all(|s| s["theater"] == "gangnam" && s["distance_km"].as_f64() < Some(1.0))
    );
}

/// Renders the SVG of the QR code (the `qrcode` crate's `M x y h w v h …`
/// path of dark modules) to a greyscale image, 4 px per unit, and decodes it.
fn decode_qr_svg(svg: &str) -> String {
    let attr = |name: &str| -> usize {
        let at = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        svg[at..].split('"').next().unwrap().parse().unwrap()
    };
    let (w, h) = (attr("width"), attr("height"));
    let d_at = svg.find(" d=\"").unwrap() + 4;
    let d = svg[d_at..].split('"').next().unwrap();
    let mut dark = vec![false; w * h];
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        let nums: Vec<usize> =
            rect.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
        let (x, y, rw, rh) = (nums[0], nums[1], nums[2], nums[3]);
        for yy in y..y + rh {
            for xx in x..x + rw {
                dark[yy * w + xx] = true;
            }
        }
    }
    let scale = 4;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w * scale, h * scale, |x, y| {
        if dark[(y / scale) * w + x / scale] { 0 } else { 255 }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn the_e_ticket_qr_code_carries_the_booking_code() {
    let node = Node::start(None, "a", |_| {}).await;
    let st = showtimes(&node, "").await.remove(0);
    let id = st["id"].as_str().unwrap();
    let t = token("alice");
    let (_, h) = api(
        node.addr,
        "POST",
        &format!("/api/showtimes/{id}/holds"),
        Some(&t),
        Some(json!({"seats": ["B3"], "idempotency_key": "e-1"})),
    )
    .await;
    let confirm = format!("/api/showtimes/{id}/holds/{}/confirm", h["hold_id"].as_str().unwrap());
    let (s, booking) = api(node.addr, "POST", &confirm, Some(&t), None).await;
    assert_eq!(s, 200, "{booking}");
    let code = booking["code"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    assert!(code.chars().all(|c| "34679ACDEFGHJKMNPQRTUVWXY".contains(c)), "{code}");
    let booking_id = booking["booking_id"].as_str().unwrap();
    let get = |user: &str, path: String| {
        let addr = node.addr;
        let auth = token(user);
        async move {
            http(
                addr,
                &format!(
                    "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {auth}\r\n\r\n"
                ),
            )
            .await
        }
    };
    let (s, svg) = get("alice", format!("/api/bookings/{booking_id}/ticket.svg")).await;
    assert_eq!(s, 200, "{svg}");
    assert!(svg.contains("<svg"), "{svg}");
    assert_eq!(decode_qr_svg(&svg), format!("MARQUEE:{code}:{booking_id}"));
    // The code, as a person reads it, finds the same ticket.
    let spoken = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
    assert_eq!(get("alice", format!("/api/bookings/{spoken}/ticket.svg")).await, (200, svg));
    let (s, body) = get("bob", format!("/api/bookings/{booking_id}/ticket.svg")).await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("not_owner"), "{body}");
    let (s, _) = get("alice", "/api/bookings/bk000000000000-nope/ticket.svg".into()).await;
    assert_eq!(s, 404);
}
