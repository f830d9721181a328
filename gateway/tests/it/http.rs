//! The HTTP endpoints: guest tokens, health, readiness, metrics, web client,
//! and the HTTP attacks: slow and idle sockets, the connection limit under
//! concurrent upgrades, draining, files outside the client, headers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Client, Node, WAIT, http, http_get, token};

#[tokio::test]
async fn guest_token_opens_a_session() {
    let n = Node::start(None, "solo", |_| {}).await;
    let body = r#"{"name":"김영희"}"#;
    let req = format!(
        "POST /auth/guest HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        n.addr,
        body.len()
    );
    let (status, body) = http(n.addr, &req).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["name"], "김영희");
    let user = v["user"].as_str().unwrap();
    assert!(user.starts_with("guest-"));
    let c = Client::connect_url(&n.url(v["token"].as_str().unwrap())).await;
    assert_eq!(c.welcome["user"], user);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let n = Node::start(None, "solo", |_| {}).await;
    assert_eq!(n.get("/healthz").await, (200, "ok".into()));
    assert_eq!(n.get("/readyz").await.0, 200);
    let mut c = Client::connect(&n, "alice").await;
    c.subscribe("room:m").await;
    c.publish("room:m", serde_json::json!(1)).await;
    c.next_pub("room:m").await;
    let (status, text) = n.get("/metrics").await;
    assert_eq!(status, 200);
    for line in ["marquee_connections 1", "marquee_deliveries_total 1", "marquee_ready 1", "marquee_frames_in_total 2"]
    {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[tokio::test]
async fn metrics_include_errors_by_code_and_the_seat_store() {
    let n = Node::start(None, "solo", |_| {}).await;
    let mut c = Client::connect(&n, "alice").await;
    let e = c.request(serde_json::json!({"type": "subscribe", "topic": "lobby"})).await;
    assert_eq!(e["code"], "bad_topic");
    let r = c.request(serde_json::json!({"type": "showtimes"})).await;
    let st = r["showtimes"][0]["id"].as_str().unwrap().to_owned();
    let h =
        c.request(serde_json::json!({"type": "hold", "showtime": st, "seats": ["A1"], "idempotency_key": "m1"})).await;
    assert_eq!(h["type"], "held", "{h}");
    let taken =
        c.request(serde_json::json!({"type": "hold", "showtime": st, "seats": ["A1"], "idempotency_key": "m2"})).await;
    assert_eq!(taken["code"], "seats_unavailable", "{taken}");

    let (status, text) = n.get("/metrics").await;
    assert_eq!(status, 200);
    // Node metrics: exact.
    for line in [
        "marquee_errors_total 2\n",
        "marquee_errors_by_code_total{code=\"bad_topic\"} 1\n",
        "marquee_errors_by_code_total{code=\"seats_unavailable\"} 1\n",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    // Process metrics of the seat store: other tests in the same process may add to them.
    let value = |series: &str| {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse::<f64>().ok()).unwrap_or(0.0)
    };
    assert!(value("marquee_seat_operations_total{op=\"hold\",outcome=\"ok\"}") >= 1.0, "{text}");
    assert!(value("marquee_seat_operations_total{op=\"hold\",outcome=\"seats_unavailable\"}") >= 1.0, "{text}");
    for name in ["# TYPE marquee_seats_expired_total counter", "# TYPE marquee_seat_lane_batch_ops histogram"] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
}

/// Reads from `s` until the server closes it (EOF or reset) and returns what
/// came; panics if it stays open for `wait`.
async fn read_until_closed(s: &mut TcpStream, wait: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => panic!("still open after {wait:?}; got {:?}", String::from_utf8_lossy(&got)),
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A raw HTTP/1.1 GET; returns the status line and headers (lower-cased
/// names) and the body.
async fn get_with_headers(addr: SocketAddr, path: &str) -> (u16, HashMap<String, String>, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let text = read_until_closed(&mut s, WAIT).await;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

#[tokio::test]
async fn slow_headers_are_closed_after_the_header_timeout_and_healthz_is_answered_meanwhile() {
    let n = Node::start(None, "solo", |c| {
        c.max_connections = Some(4);
        c.http_header_timeout_ms = 500;
        c.http_idle_timeout_ms = 60_000;
    })
    .await;
    // Every permit taken by a client that sends half a request and stalls.
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(n.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        slow.push(s);
    }
    // One more that keeps dribbling a byte at a time: never silent, still too slow.
    let mut dribble = TcpStream::connect(n.addr).await.unwrap();
    let dribbling = tokio::spawn(async move {
        let _ = dribble.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").await;
        for _ in 0..200 {
            if dribble.write_all(b"a").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    // The process still says it lives while they hold the sockets.
    assert_eq!(n.get("/healthz").await, (200, "ok".into()));
    for s in &mut slow {
        read_until_closed(s, WAIT * 2).await;
    }
    assert!(dribbling.await.unwrap(), "a client dribbling its headers is closed too");
    // The permits are back: a full route answers again.
    testkit::eventually(WAIT, "readyz served again", || async { (n.get("/readyz").await.0 == 200).then_some(()) })
        .await;
}

#[tokio::test]
async fn idle_kept_alive_connections_and_stalled_bodies_are_closed() {
    let n = Node::start(None, "solo", |c| {
        c.http_header_timeout_ms = 60_000;
        c.http_idle_timeout_ms = 400;
    })
    .await;
    // A kept-alive connection after its answer.
    let mut idle = TcpStream::connect(n.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let got = read_until_closed(&mut idle, WAIT * 2).await;
    assert!(got.starts_with("HTTP/1.1 200") && got.ends_with("ok"), "answered, then closed: {got}");
    // A request body that stops half way.
    let mut stalled = TcpStream::connect(n.addr).await.unwrap();
    stalled
        .write_all(b"POST /auth/guest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na")
        .await
        .unwrap();
    read_until_closed(&mut stalled, WAIT * 2).await;
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket; `Ok` with the welcome and the open socket, or
/// `Err(close code)` (0: no close frame).
async fn try_connect(url: String) -> Result<(Value, Ws), u16> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.map_err(|_| 0u16)?;
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                return Ok((v, ws));
            }
            Some(Ok(Message::Close(Some(f)))) => return Err(f.code.into()),
            Some(Ok(_)) => continue,
            _ => return Err(0),
        }
    }
}

#[tokio::test]
async fn concurrent_upgrades_past_the_limit_admit_exactly_the_limit_and_close_the_rest_with_4013() {
    const LIMIT: usize = 8;
    let n = Node::start(None, "solo", |c| c.max_connections = Some(LIMIT)).await;
    let attempts: Vec<_> = (0..2 * LIMIT).map(|i| tokio::spawn(try_connect(n.url(&token(&format!("u{i}")))))).collect();
    let mut welcomed = Vec::new();
    let mut refused = 0;
    for a in attempts {
        match a.await.unwrap() {
            Ok((w, ws)) => {
                assert_eq!(w["type"], "welcome");
                welcomed.push(ws);
            }
            Err(code) => {
                assert_eq!(code, 4013, "over the limit: 4013");
                refused += 1;
            }
        }
    }
    assert_eq!((welcomed.len(), refused), (LIMIT, LIMIT));
    // Every socket counts, not only sessions: HTTP is refused too while full,
    // except the liveness probe.
    assert_eq!(n.get("/readyz").await, (503, "too many connections".into()));
    assert_eq!(n.get("/healthz").await, (200, "ok".into()));
    // A session holds its permit until it ends; then the next one gets in.
    assert!(matches!(try_connect(n.url(&token("late"))).await, Err(4013)));
    let mut leaving = welcomed.pop().unwrap();
    leaving.close(None).await.unwrap();
    while let Some(Ok(_)) = leaving.next().await {}
    testkit::eventually(WAIT, "a freed permit admits the next session", || async {
        try_connect(n.url(&token("late"))).await.ok().map(|(w, _)| assert_eq!(w["type"], "welcome"))
    })
    .await;
}

#[tokio::test]
async fn sockets_past_the_limit_and_the_refusal_slots_are_closed_unanswered() {
    let n = Node::start(None, "solo", |c| {
        c.max_connections = Some(1);
        c.http_header_timeout_ms = 60_000;
    })
    .await;
    // The one permit and every refusal slot held by clients that stall.
    let mut held = Vec::new();
    for _ in 0..=gateway::listener::REFUSAL_SLOTS {
        let mut s = TcpStream::connect(n.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").await.unwrap();
        held.push(s);
    }
    // The next socket sends a whole request and is closed without an answer
    // (a refusal slot would have answered 503).
    let mut past = TcpStream::connect(n.addr).await.unwrap();
    past.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert_eq!(read_until_closed(&mut past, WAIT).await, "", "closed unanswered");
    // The refusal slots' own clients are closed after REFUSAL_TIMEOUT.
    for s in held.iter_mut().skip(1) {
        read_until_closed(s, WAIT).await;
    }
}

#[tokio::test]
async fn a_draining_node_answers_503_during_the_grace_then_stops_accepting() {
    let mut n = Node::start(None, "solo", |c| c.drain_grace_ms = 1_500).await;
    assert_eq!(n.get("/readyz").await.0, 200);
    n.stop.cancel();
    assert_eq!(n.get("/readyz").await, (503, "draining".into()));
    let upgrade = format!(
        "GET /ws?token={} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        token("late"),
        n.addr
    );
    let (status, body) = http(n.addr, &upgrade).await;
    assert_eq!((status, body.as_str()), (503, "draining; connect to another node"));
    let ran = tokio::time::timeout(WAIT * 2, &mut n.task).await;
    assert!(matches!(ran, Ok(Ok(Ok(())))), "run returns after the grace: {ran:?}");
    assert!(TcpStream::connect(n.addr).await.is_err(), "no longer accepting");
}

fn web_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// A web root like `web/` with a file in each place that must not be served.
fn web_root_with_traps() -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("marquee-web-{}-{}", std::process::id(), rand_suffix()));
    for (path, text) in [
        ("index.html", "<!doctype html><title>t</title>"),
        ("style.css", "body{}"),
        ("js/app.js", "export {};"),
        ("js/.secret", "dotfile"),
        ("tests/harness.js", "test"),
        ("tests/node_modules/playwright-core/package.json", "{}"),
        (".env", "SECRET=1"),
    ] {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    root
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[tokio::test]
async fn only_the_clients_files_are_served_not_the_tests_or_dotfiles() {
    let root = web_root_with_traps();
    let n = Node::start(None, "solo", |c| c.web_dir = root.clone()).await;
    let (status, body) = n.get("/").await;
    assert_eq!(status, 200);
    assert!(body.to_ascii_lowercase().starts_with("<!doctype html>"), "{body}");
    assert_eq!(n.get("/index.html").await.0, 200);
    assert_eq!(n.get("/style.css").await.0, 200);
    assert_eq!(n.get("/js/app.js").await, (200, "export {};".into()));
    for path in [
        "/tests/harness.js",
        "/tests/node_modules/playwright-core/package.json",
        "/.env",
        "/js/.secret",
        "/js/../tests/harness.js",
        "/js/%2e%2e/tests/harness.js",
        "/nothing",
    ] {
        assert_eq!(n.get(path).await.0, 404, "{path}");
    }
    // The real client's entry points are where the routes say.
    let real = Node::start(None, "solo", |c| c.web_dir = web_dir()).await;
    for path in ["/", "/style.css", "/js/app.js", "/js/connection.js"] {
        assert_eq!(real.get(path).await.0, 200, "{path}");
    }
    assert_eq!(real.get("/tests/harness.js").await.0, 404);
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let n = Node::start(None, "solo", |c| c.web_dir = web_dir()).await;
    for path in ["/", "/js/app.js", "/healthz", "/api/showtimes", "/nothing"] {
        let (status, h, _) = get_with_headers(n.addr, path).await;
        assert_ne!(status, 0, "{path}");
        let csp = h.get("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP in {h:?}"));
        for directive in
            ["default-src 'self'", "script-src 'self'", "connect-src 'self' ws: wss:", "frame-ancestors 'none'"]
        {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h.get("x-content-type-options").map(String::as_str), Some("nosniff"), "{path}");
        assert_eq!(h.get("x-frame-options").map(String::as_str), Some("DENY"), "{path}");
        assert_eq!(h.get("referrer-policy").map(String::as_str), Some("no-referrer"), "{path}");
    }
}

fn guest_request(addr: SocketAddr) -> String {
    format!("POST /auth/guest HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn guest_tokens_are_rate_limited_per_address_and_can_be_switched_off() {
    let n = Node::start(None, "solo", |c| c.guest_rate_per_min = 3).await;
    for _ in 0..3 {
        assert_eq!(http(n.addr, &guest_request(n.addr)).await.0, 200);
    }
    let mut s = TcpStream::connect(n.addr).await.unwrap();
    s.write_all(guest_request(n.addr).as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut s, WAIT).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let retry = answer
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(matches!(retry, Some(1..=20)), "one token per 20 s: {answer}");

    let off = Node::start(None, "solo", |c| c.guests = gateway::config::Guests::Off).await;
    assert_eq!(http(off.addr, &guest_request(off.addr)).await.0, 403);
}

#[tokio::test]
async fn metrics_move_to_the_admin_address_when_one_is_set() {
    let (n, admin) = Node::start_with_admin(None, "solo", |_| {}).await;
    assert_eq!(n.get("/metrics").await.0, 404, "not on the public address");
    let (status, text) = http_get(admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(text.contains("marquee_ready 1"), "{text}");
    assert_eq!(http_get(admin, "/readyz").await.0, 200);
    // Without ADMIN_ADDR, where it always was.
    let plain = Node::start(None, "solo", |_| {}).await;
    assert_eq!(plain.get("/metrics").await.0, 200);
}
