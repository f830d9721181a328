//! Protocol behaviour on one node with the in-process bus: errors, limits,
//! close codes, history paging, heartbeats and draining; token lifetime,
//! display names and chat text hygiene, protocol violations over a raw
//! socket, and slow consumers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gateway::auth::{Auth, CLOCK_LEEWAY_SECS, Claims, now_secs};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Client, Closed, Node, SECRET, WAIT, api, token, token_with};

async fn node() -> Node {
    Node::start(None, "solo", |_| {}).await
}

#[tokio::test]
async fn welcome_names_session_node_protocol_and_heartbeat() {
    let n = node().await;
    let c = Client::connect(&n, "alice").await;
    assert_eq!(c.welcome["node"], "solo");
    assert_eq!(c.welcome["user"], "alice");
    assert_eq!(c.welcome["protocol"], 1);
    assert_eq!(c.welcome["heartbeat_ms"], 25_000);
    assert!(c.welcome["session"].as_str().unwrap().starts_with("solo:"));
}

#[tokio::test]
async fn bad_frames_get_documented_errors_and_the_session_stays_up() {
    let n = node().await;
    let mut c = Client::connect(&n, "alice").await;

    c.send_raw(Message::text("{not json")).await;
    let e = c.recv().await;
    assert_eq!((e["type"].as_str(), e["code"].as_str()), (Some("error"), Some("bad_request")));
    assert!(e.get("id").is_none());

    c.send(json!({"type": "dance", "id": 7})).await;
    let e = c.recv().await;
    assert_eq!((e["code"].as_str(), e["id"].as_u64()), (Some("unknown_type"), Some(7)));

    c.send(json!({"type": "subscribe", "id": 8})).await;
    let e = c.recv().await;
    assert_eq!((e["code"].as_str(), e["id"].as_u64()), (Some("bad_request"), Some(8)), "missing topic");

    let e = c.request(json!({"type": "subscribe", "topic": "lobby"})).await;
    assert_eq!(e["code"], "bad_topic");
    let e = c.request(json!({"type": "subscribe", "topic": "user:bob"})).await;
    assert_eq!(e["code"], "forbidden", "another user's private topic");
    let e = c.request(json!({"type": "publish", "topic": "showtime:1", "data": {}})).await;
    assert_eq!(e["code"], "forbidden", "only the server publishes seat changes");
    let e = c.request(json!({"type": "publish", "topic": "room:a", "data": 1})).await;
    assert_eq!(e["code"], "forbidden", "publishing needs membership");
    let e = c.request(json!({"type": "unsubscribe", "topic": "room:a"})).await;
    assert_eq!(e["code"], "not_subscribed");
    c.subscribe("room:a").await;
    let e = c.request(json!({"type": "subscribe", "topic": "room:a"})).await;
    assert_eq!(e["code"], "already_subscribed");

    // Still fully working after all that.
    let r = c.publish("room:a", json!({"ok": true})).await;
    assert_eq!(r["type"], "published");
    assert_eq!(c.next_pub("room:a").await["data"]["ok"], true);
    let r = c.request(json!({"type": "ping"})).await;
    assert_eq!(r["type"], "pong");
}

#[tokio::test]
async fn own_user_topic_and_token_room_lists_are_enforced() {
    let n = node().await;
    let mut c = Client::connect_url(&n.url(&token_with("alice", Some(vec!["a"])))).await;
    c.subscribe("user:alice").await;
    let r = c.publish("user:alice", json!("note to self")).await;
    assert_eq!(r["type"], "published");
    c.subscribe("room:a").await;
    let e = c.request(json!({"type": "subscribe", "topic": "room:b"})).await;
    assert_eq!(e["code"], "forbidden", "the token lists only room a");
    c.subscribe("showtime:42").await;
}

#[tokio::test]
async fn oversized_frames_close_with_1009_and_the_server_stays_up() {
    let n = Node::start(None, "solo", |c| c.max_frame_bytes = 1024).await;
    let mut c = Client::connect(&n, "alice").await;
    c.send_raw(Message::text(format!("{{\"type\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(2000)))).await;
    assert_eq!(c.closed().await, Closed::Code(1009, "frame too large".into()));
    let mut again = Client::connect(&n, "alice").await;
    assert_eq!(again.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn bad_tokens_close_with_4001() {
    let n = node().await;
    for url in [
        format!("ws://{}/ws", n.addr),
        n.url("garbage"),
        n.url(&crate::support::token("a b")), // user id unusable as a topic id
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        use futures_util::StreamExt;
        match ws.next().await {
            Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 4001),
            other => panic!("expected a 4001 close, got {other:?}"),
        }
    }
    let other_secret = gateway::auth::Auth::new("not-the-secret")
        .sign(&gateway::auth::Claims { sub: "x".into(), name: String::new(), exp: u64::MAX / 2, rooms: None })
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(n.url(&other_secret)).await.unwrap();
    use futures_util::StreamExt;
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(Some(f)))) if u16::from(f.code) == 4001));
    assert_eq!(Client::connect(&n, "fine").await.welcome["user"], "fine");
}

#[tokio::test]
async fn foreign_origins_are_refused_and_allowed_ones_pass() {
    let n = Node::start(None, "solo", |c| c.allowed_origins = vec!["https://cinema.example".into()]).await;
    let req = |origin: &str| {
        format!(
            "GET /ws?token={} HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            token("alice"),
            n.addr
        )
    };
    let status = |r: String| {
        let addr = n.addr;
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(r.as_bytes()).await.unwrap();
            let mut buf = [0u8; 64];
            let k = s.read(&mut buf).await.unwrap();
            String::from_utf8_lossy(&buf[..k]).split_whitespace().nth(1).unwrap_or("").to_owned()
        }
    };
    assert_eq!(status(req("https://evil.example")).await, "403");
    assert_eq!(status(req("https://cinema.example")).await, "101");
    assert_eq!(status(req(&format!("http://{}", n.addr))).await, "101", "same-origin page");
}

#[tokio::test]
async fn subscription_and_publish_rate_limits_answer_with_errors() {
    let n = Node::start(None, "solo", |c| {
        c.max_subscriptions = 2;
        c.publish_rate = 2;
    })
    .await;
    let mut c = Client::connect(&n, "alice").await;
    c.subscribe("room:1").await;
    c.subscribe("room:2").await;
    let e = c.request(json!({"type": "subscribe", "topic": "room:3"})).await;
    assert_eq!(e["code"], "too_many_subscriptions");
    let mut codes = Vec::new();
    for i in 0..6 {
        let r = c.publish("room:1", json!(i)).await;
        codes.push(r["code"].as_str().unwrap_or("ok").to_owned());
    }
    assert_eq!(&codes[..4], ["ok", "ok", "ok", "ok"], "a burst of twice the rate passes");
    assert!(codes[4..].iter().all(|c| c == "rate_limited"), "{codes:?}");
}

#[tokio::test]
async fn history_pages_backwards_for_infinite_scroll() {
    let n = node().await;
    let mut c = Client::connect(&n, "alice").await;
    c.subscribe("room:h").await;
    for i in 1..=25 {
        c.publish("room:h", json!({"n": i})).await;
    }
    let page = c.request(json!({"type": "history", "topic": "room:h", "limit": 10})).await;
    assert_eq!(page["type"], "history");
    assert_eq!(page["offset"], 25);
    let offsets: Vec<u64> = page["pubs"].as_array().unwrap().iter().map(|p| p["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, (16..=25).rev().collect::<Vec<_>>());
    assert_eq!(page["pubs"][0]["data"]["n"], 25);
    assert_eq!(page["pubs"][0]["info"]["user"], "alice");
    let older = c.request(json!({"type": "history", "topic": "room:h", "before": 16, "limit": 10})).await;
    let offsets: Vec<u64> = older["pubs"].as_array().unwrap().iter().map(|p| p["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, (6..=15).rev().collect::<Vec<_>>());
    let forward = c.request(json!({"type": "history", "topic": "room:h", "after": 22})).await;
    assert_eq!(forward["pubs"].as_array().unwrap().len(), 3);
    let e = c.request(json!({"type": "history", "topic": "user:bob"})).await;
    assert_eq!(e["code"], "forbidden");
}

#[tokio::test]
async fn a_silent_client_is_closed_with_4004() {
    let n = Node::start(None, "solo", |c| c.heartbeat_ms = 100).await;
    let mut c = Client::connect(&n, "alice").await;
    // The client reads (and so sees pings) but never answers.
    assert_eq!(c.closed().await, Closed::Code(4004, "heartbeat timeout".into()));
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    // 300 ms pings: a client silent for 600 ms would be closed, so a loaded
    // CI machine (other tests run beside this one) has room for a late pong.
    let n = Node::start(None, "solo", |c| c.heartbeat_ms = 300).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(n.url(&token("alice"))).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2000);
    let mut pings = 0;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str().contains("\"ping\"") => {
                pings += 1;
                ws.send(Message::text("{\"type\":\"pong\"}")).await.unwrap();
            }
            Ok(Some(Ok(Message::Text(_)))) => {}
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => {}
        }
    }
    assert!(pings >= 4, "got {pings} pings");
}

#[tokio::test]
async fn draining_tells_clients_to_reconnect_then_closes_with_1012() {
    let mut n = Node::start(None, "solo", |c| c.drain_grace_ms = 400).await;
    let mut c = Client::connect(&n, "alice").await;
    n.stop.cancel();
    let r = c.recv().await;
    assert_eq!(r["type"], "reconnect");
    assert!(r["delay_ms"].as_u64().unwrap() < 400);
    assert_eq!(c.closed().await, Closed::Code(1012, "server restarting, reconnect".into()));
    let result = tokio::time::timeout(Duration::from_secs(5), &mut n.task).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "run returns after draining");
}

/// Signs a token for `user` with this expiry and display name.
fn token_for(user: &str, name: &str, exp: u64) -> String {
    Auth::new(SECRET).sign(&Claims { sub: user.into(), name: name.into(), exp, rooms: None }).unwrap()
}

/// The close code a client gets right after connecting with `token`, or
/// `None` when it gets a welcome.
async fn refused_with(n: &Node, token: &str) -> Option<u16> {
    use futures_util::StreamExt;
    let (mut ws, _) = tokio_tungstenite::connect_async(n.url(token)).await.unwrap();
    match tokio::time::timeout(WAIT, ws.next()).await.expect("a first frame") {
        Some(Ok(Message::Close(Some(f)))) => Some(f.code.into()),
        Some(Ok(Message::Text(t))) if t.as_str().contains("\"welcome\"") => None,
        other => panic!("expected a welcome or a close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_session_closes_with_4003_when_its_token_expires() {
    let n = node().await;
    // Expired 3 s ago: still inside the 5 s leeway, so accepted, and closed
    // when the leeway runs out (in about 2 s).
    const { assert!(CLOCK_LEEWAY_SECS > 3) };
    let mut c = Client::connect_url(&n.url(&token_for("alice", "Alice", now_secs() - 3))).await;
    c.subscribe("room:a").await;
    assert_eq!(c.closed().await, Closed::Code(4003, "token expired".into()));
    // Past the leeway the token is refused at the door.
    assert_eq!(refused_with(&n, &token_for("alice", "Alice", now_secs() - CLOCK_LEEWAY_SECS - 30)).await, Some(4001));
    // A fresh token works; nothing else about the node changed.
    let mut again = Client::connect_url(&n.url(&token_for("alice", "Alice", now_secs() + 3600))).await;
    assert_eq!(again.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn a_refresh_with_a_newer_token_keeps_the_session_past_the_old_expiry() {
    let n = node().await;
    // Would close in about 2 s (expired 3 s ago, 5 s leeway).
    let mut c = Client::connect_url(&n.url(&token_for("alice", "Alice", now_secs() - 3))).await;
    c.subscribe("room:r").await;
    let e = c.request(json!({"type": "refresh", "token": "garbage"})).await;
    assert_eq!(e["code"], "unauthorized", "{e}");
    let other = token_for("mallory", "Mallory", now_secs() + 3600);
    let e = c.request(json!({"type": "refresh", "token": other})).await;
    assert_eq!(e["code"], "forbidden", "another user's token: {e}");
    let rooms = token_with("alice", Some(vec!["r"]));
    let e = c.request(json!({"type": "refresh", "token": rooms})).await;
    assert_eq!(e["code"], "forbidden", "other rooms: {e}");
    let exp = now_secs() + 3600;
    let r = c.request(json!({"type": "refresh", "token": token_for("alice", "Alice Kim", exp)})).await;
    assert_eq!((r["type"].as_str(), r["expires_at"].as_u64()), (Some("refreshed"), Some(exp)), "{r}");
    // Past the old token's end the session is still up and serving.
    tokio::time::sleep(Duration::from_secs(CLOCK_LEEWAY_SECS)).await;
    c.publish("room:r", json!("still here")).await;
    let p = c.next_pub("room:r").await;
    assert_eq!(p["info"]["name"], "Alice Kim", "the new token's name: {p}");
}

#[tokio::test]
async fn a_token_that_is_not_valid_yet_is_refused_with_4001() {
    #[derive(serde::Serialize)]
    struct WithNbf<'a> {
        sub: &'a str,
        name: &'a str,
        exp: u64,
        nbf: u64,
    }
    let n = node().await;
    let with_nbf =
        |nbf: u64| Auth::new(SECRET).sign(&WithNbf { sub: "bob", name: "Bob", exp: nbf + 3600, nbf }).unwrap();
    assert_eq!(refused_with(&n, &with_nbf(now_secs() + 3600)).await, Some(4001), "valid only in an hour");
    assert_eq!(refused_with(&n, &with_nbf(now_secs() + 2)).await, None, "2 s ahead: within the leeway");
    assert_eq!(refused_with(&n, &with_nbf(now_secs() - 60)).await, None, "valid since a minute");
}

#[tokio::test]
async fn guest_and_token_names_cannot_impersonate_or_hide_characters() {
    let n = node().await;
    let addr = n.addr;
    let guest = |name: &str| {
        let body = json!({ "name": name });
        async move {
            let (status, g) = api(addr, "POST", "/auth/guest", None, Some(body)).await;
            assert_eq!(status, 200, "{g}");
            g
        }
    };
    for name in [
        "admin",
        "ADMINISTRATOR",
        "운영자",
        "관리자",
        "Marquee Team",
        "guest-0123456789ab",
        "Guest 1a2b",
        " \u{200B}\u{3000}",
    ] {
        let g = guest(name).await;
        let user = g["user"].as_str().unwrap();
        assert_eq!(g["name"], format!("Guest {}", &user[6..10]), "{name:?} falls back to the generated name");
    }
    for (name, shown) in
        [("김영희", "김영희"), ("할머니", "할머니"), ("\u{202E}evil\u{200B}\u{7} twin\u{2066}", "evil twin")]
    {
        assert_eq!(guest(name).await["name"], shown, "{name:?}");
    }

    // Tokens from another issuer (or minted before the rule) are cleaned when
    // verified: what others see in `pub` frames and presence.
    let mut carol = Client::connect_url(&n.url(&token_for("carol", "Administrator", now_secs() + 3600))).await;
    let mut dave = Client::connect_url(&n.url(&token_for("dave", "Dave\u{202E}\u{200D} Kim", now_secs() + 3600))).await;
    carol.subscribe("room:names").await;
    dave.subscribe("room:names").await;
    carol.publish("room:names", json!("hi")).await;
    let p = dave.next_pub("room:names").await;
    assert_eq!((p["info"]["user"].as_str(), p["info"]["name"].as_str()), (Some("carol"), Some("carol")), "{p}");
    let list = carol.request(json!({"type": "presence", "topic": "room:names"})).await;
    let mut names: Vec<&str> =
        list["clients"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Dave Kim", "carol"], "{list}");
}

#[tokio::test]
async fn chat_text_is_cleaned_of_control_and_bidi_characters() {
    let n = node().await;
    let mut bob = Client::connect(&n, "bob").await;
    bob.subscribe("user:bob").await;
    let text = "표 두 장\u{202E}\u{7} 예매\u{200B}해 줘\r\n고마워\u{1b}[2J 👩\u{200D}💻";
    let ok = bob.request(json!({"type": "chat", "message_id": "m-clean", "conversation": "c1", "text": text})).await;
    assert_eq!(ok["type"], "chat_accepted", "{ok}");
    let echo = bob
        .recv_where(|v| v["type"] == "pub" && v["data"]["event"] == "message" && v["data"]["message_id"] == "m-clean")
        .await;
    assert_eq!(echo["data"]["text"], "표 두 장 예매해 줘\n고마워[2J 👩\u{200D}💻", "{echo}");
    let invisible = "\u{200B}\u{202E}\u{7}\u{2066}";
    let e =
        bob.request(json!({"type": "chat", "message_id": "m-empty", "conversation": "c1", "text": invisible})).await;
    assert_eq!((e["type"].as_str(), e["code"].as_str()), (Some("error"), Some("bad_request")), "{e}");
}

#[tokio::test]
async fn a_cancelled_utterance_stays_cancelled_however_many_follow() {
    let n = node().await;
    let mut bob = Client::connect(&n, "bob").await;
    bob.send(json!({"type": "voice_partial", "utterance_id": "u-first", "revision": 1, "conversation": "c1", "text": "취소"})).await;
    bob.send(json!({"type": "voice_cancel", "utterance_id": "u-first"})).await;
    // Far more utterances than a session follows partials of (32).
    for i in 0..100 {
        let u = format!("u-{i}");
        bob.send(
            json!({"type": "voice_partial", "utterance_id": u, "revision": 1, "conversation": "c1", "text": "음"}),
        )
        .await;
        bob.send(json!({"type": "voice_cancel", "utterance_id": u})).await;
    }
    let late = bob
        .request(json!({"type": "voice_final", "utterance_id": "u-first", "conversation": "c1", "text": "취소한 말"}))
        .await;
    assert_eq!((late["type"].as_str(), late["code"].as_str()), (Some("error"), Some("bad_request")), "{late}");
    assert_eq!(late["message"], "this utterance was cancelled");
}

/// A WebSocket client on a plain TCP socket, to send what no library would.
struct RawWs {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// Upgrades and reads the welcome frame.
    async fn connect(n: &Node, user: &str) -> RawWs {
        let mut s = TcpStream::connect(n.addr).await.unwrap();
        let req = format!(
            "GET /ws?token={} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            token(user),
            n.addr
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut ws = RawWs { s, buf: Vec::new() };
        let end = loop {
            if let Some(p) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            assert!(ws.fill().await, "headers before EOF");
        };
        assert!(ws.buf.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&ws.buf));
        ws.buf.drain(..end);
        let (op, welcome) = ws.frame().await.expect("welcome");
        assert_eq!(op, 1);
        assert!(String::from_utf8_lossy(&welcome).contains("\"welcome\""));
        ws
    }

    /// Reads more bytes; false at EOF or on a reset.
    async fn fill(&mut self) -> bool {
        let mut b = [0u8; 4096];
        match tokio::time::timeout(WAIT, self.s.read(&mut b)).await.expect("bytes in time") {
            Ok(0) | Err(_) => false,
            Ok(k) => {
                self.buf.extend_from_slice(&b[..k]);
                true
            }
        }
    }

    /// Sends one final frame with `opcode`, masked (as clients must) or not.
    async fn send(&mut self, opcode: u8, payload: &[u8], masked: bool) {
        assert!(payload.len() < 126);
        let mut f = vec![0x80 | opcode, if masked { 0x80 } else { 0 } | payload.len() as u8];
        if masked {
            let key = [0x37u8, 0xfa, 0x21, 0x3d];
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        self.s.write_all(&f).await.unwrap();
    }

    /// The next server frame as (opcode, payload); `None` when the connection ended.
    async fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let op = self.buf[0] & 0x0f;
                let (len, head) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => (usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])), 4),
                    127 if self.buf.len() >= 10 => {
                        (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10)
                    }
                    126 | 127 => (usize::MAX, 0),
                    n => (usize::from(n), 2),
                };
                if len != usize::MAX && self.buf.len() >= head + len {
                    let payload = self.buf[head..head + len].to_vec();
                    self.buf.drain(..head + len);
                    return Some((op, payload));
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Reads up to the server's close frame: its code and the text frames
    /// before it; `None` for the code when the connection ended without one.
    async fn close_code(&mut self) -> (Option<u16>, Vec<Value>) {
        let mut texts = Vec::new();
        while let Some((op, payload)) = self.frame().await {
            match op {
                1 => texts.push(serde_json::from_slice(&payload).unwrap()),
                8 => return (payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]])), texts),
                _ => {}
            }
        }
        (None, texts)
    }
}

#[tokio::test]
async fn protocol_violations_close_with_the_rfc_6455_codes() {
    let n = node().await;
    // A text frame that is not UTF-8: 1007.
    let mut ws = RawWs::connect(&n, "alice").await;
    ws.send(0x1, &[0x7b, 0xff, 0xfe, 0x7d], true).await;
    assert_eq!(ws.close_code().await.0, Some(1007), "invalid UTF-8");
    // An unmasked client frame (RFC 6455 5.1: the server MUST fail the connection): 1002.
    let mut ws = RawWs::connect(&n, "alice").await;
    ws.send(0x1, br#"{"type":"ping"}"#, false).await;
    assert_eq!(ws.close_code().await.0, Some(1002), "unmasked frame");
    // A reserved opcode: 1002.
    let mut ws = RawWs::connect(&n, "alice").await;
    ws.send(0x3, b"x", true).await;
    assert_eq!(ws.close_code().await.0, Some(1002), "reserved opcode");
    // A binary frame: the error says why, then 1003.
    let mut ws = RawWs::connect(&n, "alice").await;
    ws.send(0x2, &[1, 2, 3], true).await;
    let (code, texts) = ws.close_code().await;
    assert_eq!(code, Some(1003), "binary frame");
    assert_eq!(texts.iter().map(|t| t["code"].as_str()).collect::<Vec<_>>(), [Some("unsupported_frame")]);
    // Text that is not JSON, again and again: each gets bad_request, the 8th closes with 1007.
    let mut ws = RawWs::connect(&n, "alice").await;
    for _ in 0..8 {
        ws.send(0x1, b"not json", true).await;
    }
    let (code, texts) = ws.close_code().await;
    assert_eq!(code, Some(1007), "a stream of garbage");
    assert_eq!(texts.len(), 8);
    assert!(texts.iter().all(|t| t["code"] == "bad_request"), "{texts:?}");
    // A few bad frames between good ones never close (the count is of frames in a row).
    let mut c = Client::connect(&n, "alice").await;
    for _ in 0..3 {
        for _ in 0..7 {
            c.send_raw(Message::text("not json")).await;
            assert_eq!(c.recv().await["code"], "bad_request");
        }
        assert_eq!(c.request(json!({"type": "ping"})).await["type"], "pong");
    }
    // The node is fine.
    let mut again = Client::connect(&n, "alice").await;
    assert_eq!(again.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn a_slow_consumer_that_reads_again_after_a_long_stall_still_gets_4008() {
    let n = Node::start(None, "solo", |c| c.publish_rate = 100_000).await;
    let mut stalled = Client::connect_stalling(&n, "slow").await;
    stalled.subscribe("room:firehose").await;
    let mut publisher = Client::connect(&n, "pub").await;
    publisher.subscribe("room:firehose").await;
    let stop = Arc::new(AtomicBool::new(false));
    let publishing = tokio::spawn({
        let stop = stop.clone();
        async move {
            let big = "x".repeat(8 * 1024);
            // More than the socket buffers hold; stops once the node gave up.
            for _ in 0..5000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let r = publisher.publish("room:firehose", json!({ "blob": big })).await;
                assert_eq!(r["type"], "published");
            }
        }
    });
    testkit::eventually(Duration::from_secs(30), "slow consumer detected", || async {
        n.get("/metrics").await.1.contains("marquee_slow_disconnects_total 1").then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    publishing.await.unwrap();
    // The client goes on not reading for longer than a close frame used to
    // be given (5 s), then reads: what was buffered, then the reason.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(stalled.closed().await, Closed::Code(4008, "slow consumer: outbound queue overflow".into()));
}
