//! The outbox worker against the ledger (an SQLite file), the engines and a
//! real (tiny) HTTP server for the webhook: every confirmation and
//! cancellation arrives, with its idempotency key, after retries; one
//! failing event never holds back the others; events claimed by a worker
//! that died are delivered by another once its lease runs out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seats::BookingEvent;
use seats::notifier::OutboxConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{Env, Kind, WAIT, req};

/// What the webhook received: (idempotency key, body) of accepted requests.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// The webhook's answer per request: `fail_first` requests get 503; after
/// that a body naming a booking of a user in `gone` gets 410, others 200.
struct Hook {
    url: String,
    received: Received,
    attempts: Arc<Mutex<HashMap<String, usize>>>,
}

async fn webhook(fail_first: usize, gone: &'static [&'static str]) -> Hook {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/booking", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let attempts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let (r, a) = (received.clone(), attempts.clone());
    let total = Arc::new(Mutex::new(0usize));
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (r, a, total) = (r.clone(), a.clone(), total.clone());
            tokio::spawn(async move {
                let Some((head, body)) = read_request(&mut sock).await else { return };
                assert!(head.starts_with("POST /hooks/booking HTTP/1.1"), "{head}");
                let key = head.lines().find_map(|l| l.strip_prefix("Idempotency-Key: ")).unwrap_or("").to_owned();
                *a.lock().unwrap().entry(key.clone()).or_default() += 1;
                let n = {
                    let mut t = total.lock().unwrap();
                    *t += 1;
                    *t
                };
                let ev: BookingEvent = serde_json::from_str(&body).unwrap();
                let status = if n <= fail_first {
                    "503 Service Unavailable"
                } else if gone.contains(&ev.booking.user.as_str()) {
                    "410 Gone"
                } else {
                    r.lock().unwrap().push((key, body));
                    "200 OK"
                };
                let _ = sock.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
            });
        }
    });
    Hook { url, received, attempts }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(i) = text.find("\r\n\r\n") {
            let head = text[..i].to_owned();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if text.len() >= i + 4 + len {
                return Some((head, text[i + 4..i + 4 + len].to_owned()));
            }
        }
    }
}

fn config(url: &str) -> OutboxConfig {
    let mut c = OutboxConfig::new(Some(url.to_owned()));
    c.poll_interval = Duration::from_millis(20);
    c.min_backoff = Duration::from_millis(10);
    c.max_backoff = Duration::from_millis(50);
    c.max_attempts = 4;
    c
}

/// Waits until `check` holds, moving the manual clock on so retries fall due.
async fn until(env: &Env, what: &str, check: impl Fn() -> bool) {
    testkit::eventually(WAIT, what, || {
        env.clock.advance(Duration::from_millis(100));
        let ok = check();
        async move { ok.then_some(()) }
    })
    .await;
}

async fn every_change_reaches_the_webhook_and_the_users_topic_once_each(kind: Kind) {
    let env = Env::with_webhook(kind).await;
    let hook = webhook(3, &[]).await;
    env.start_outbox(config(&hook.url));
    let h1 = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b1 = env.store.confirm("st-1", "alice", &h1.hold_id).await.unwrap();
    let h2 = env.store.hold(req("alice", &["A2"], "k2")).await.unwrap();
    let b2 = env.store.confirm("st-1", "alice", &h2.hold_id).await.unwrap();
    env.store.cancel_booking("alice", &b1.booking_id).await.unwrap();
    until(&env, "three webhook deliveries", || hook.received.lock().unwrap().len() == 3).await;
    let mut keys: Vec<String> = hook.received.lock().unwrap().iter().map(|(k, _)| k.clone()).collect();
    keys.sort();
    let mut want = vec![
        format!("{}:cancelled:webhook", b1.booking_id),
        format!("{}:confirmed:webhook", b1.booking_id),
        format!("{}:confirmed:webhook", b2.booking_id),
    ];
    want.sort();
    assert_eq!(keys, want);
    for (_, body) in hook.received.lock().unwrap().iter() {
        let ev: BookingEvent = serde_json::from_str(body).unwrap();
        assert_eq!(ev.booking.amount, 15_000, "priced as charged");
        assert_eq!(ev.booking.code.len(), 8);
    }
    // The live channel: every change on `user:alice`, in the order made.
    until(&env, "three live events", || env.sink.publications("user:alice").len() == 3).await;
    let live: Vec<BookingEvent> =
        env.sink.publications("user:alice").iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    let seen: Vec<(String, seats::BookingStatus)> =
        live.iter().map(|e| (e.booking.booking_id.clone(), e.event)).collect();
    assert!(seen.contains(&(b1.booking_id.clone(), seats::BookingStatus::Cancelled)));
    assert!(seen.contains(&(b2.booking_id.clone(), seats::BookingStatus::Confirmed)));
    let stats = env.store.ledger().outbox_stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (0, 0));
}

#[tokio::test]
async fn every_change_reaches_the_webhook_and_the_users_topic_once_each_in_process() {
    every_change_reaches_the_webhook_and_the_users_topic_once_each(Kind::Memory).await;
}

#[tokio::test]
async fn every_change_reaches_the_webhook_and_the_users_topic_once_each_with_redis() {
    every_change_reaches_the_webhook_and_the_users_topic_once_each(Kind::Redis).await;
}

#[tokio::test]
async fn a_permanently_refused_event_is_dead_lettered_without_holding_back_the_others() {
    let env = Env::with_webhook(Kind::Redis).await;
    let hook = webhook(0, &["bob"]).await;
    let hb = env.store.hold(req("bob", &["B1"], "kb")).await.unwrap();
    let bb = env.store.confirm("st-1", "bob", &hb.hold_id).await.unwrap();
    let mut alices = Vec::new();
    for i in 0..5 {
        let h = env.store.hold(req("alice", &[&format!("A{}", i + 1)], &format!("k{i}"))).await.unwrap();
        alices.push(env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap());
    }
    // Bob's event is first in the outbox; it is refused once and given up.
    env.start_outbox(config(&hook.url));
    until(&env, "alice's five confirmations", || hook.received.lock().unwrap().len() == 5).await;
    let dead = testkit::eventually(WAIT, "bob's event dead-lettered", || async {
        let d = env.store.ledger().dead_letters(10).await.unwrap();
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key, format!("{}:confirmed:webhook", bb.booking_id));
    assert!(dead[0].last_error.as_deref().is_some_and(|e| e.contains("410")), "{dead:?}");
    assert_eq!(hook.attempts.lock().unwrap()[&dead[0].key], 1, "a 4xx is not retried");
    // Bob still got his live event: channels fail on their own.
    until(&env, "bob's live event", || env.sink.publications("user:bob").len() == 1).await;
}

#[tokio::test]
async fn events_claimed_by_a_worker_that_died_are_delivered_by_another_after_its_lease() {
    let env = Env::with_webhook(Kind::Redis).await;
    let hook = webhook(0, &[]).await;
    let h = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    // A worker (of a node with another name) claims both events and dies.
    let now = env.clock.now_ms();
    let claimed = env.store.ledger().claim_events(now, 30_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "live and webhook");
    env.start_outbox(config(&hook.url));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(hook.received.lock().unwrap().is_empty(), "leased to the dead worker");
    env.clock.advance(Duration::from_secs(31));
    until(&env, "the webhook event", || hook.received.lock().unwrap().len() == 1).await;
    assert_eq!(hook.received.lock().unwrap()[0].0, format!("{}:confirmed:webhook", b.booking_id));
    until(&env, "the live event", || env.sink.publications("user:alice").len() == 1).await;
}

#[tokio::test]
async fn a_bad_webhook_url_is_refused_before_anything_runs() {
    let env = Env::with_webhook(Kind::Memory).await;
    let r = seats::notifier::run_outbox(env.store.clone(), config("ftp://x"), env.shutdown.clone()).await;
    assert!(matches!(r, Err(seats::notifier::NotifierError::BadUrl(_))), "{r:?}");
}
