//! The webhook notifier against a real redis-server and a real (tiny) HTTP
//! server that fails its first requests: every confirmed booking arrives,
//! after retries, with its idempotency key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seats::BookingEvent;
use seats::notifier::{NotifierConfig, run_local_notifier, run_notifier};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{Env, Kind, WAIT, req};

/// What the webhook received: (idempotency key, body) of accepted requests.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// Serves HTTP on a free port; answers 503 to the first `fail_first`
/// requests and 200 afterwards.
async fn webhook(fail_first: usize) -> (String, Received, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/booking", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let attempts = Arc::new(Mutex::new(0));
    let (r, a) = (received.clone(), attempts.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = sock.read(&mut chunk).await.unwrap();
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
                        break (head, text[i + 4..i + 4 + len].to_owned());
                    }
                }
                if n == 0 {
                    break (String::new(), String::new());
                }
            };
            assert!(head.starts_with("POST /hooks/booking HTTP/1.1"), "{head}");
            let key = head.lines().find_map(|l| l.strip_prefix("Idempotency-Key: ")).unwrap_or("").to_owned();
            let n = {
                let mut a = a.lock().unwrap();
                *a += 1;
                *a
            };
            let status = if n <= fail_first {
                "503 Service Unavailable"
            } else {
                r.lock().unwrap().push((key, body));
                "200 OK"
            };
            let _ = sock.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
        }
    });
    (url, received, attempts)
}

#[tokio::test]
async fn notifier_delivers_every_confirmation_to_the_webhook_with_retries() {
    let env = Env::new(Kind::Redis).await;
    let (url, received, attempts) = webhook(3).await;
    let h1 = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b1 = env.store.confirm("st-1", "alice", &h1.hold_id).await.unwrap();
    let client = match &env.bus {
        bus::Bus::Redis(rb) => rb.handle().clone(),
        bus::Bus::Memory(_) => unreachable!("redis env"),
    };
    let mut config = NotifierConfig::new(url, "node-1");
    config.min_backoff = Duration::from_millis(10);
    config.poll_interval = Duration::from_millis(20);
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_notifier(client, config, stop.clone()));
    // A booking made while the notifier runs arrives too.
    let h2 = env.store.hold(req("bob", &["A2"], "k1")).await.unwrap();
    let b2 = env.store.confirm("st-1", "bob", &h2.hold_id).await.unwrap();

    let got = testkit::eventually(WAIT, "both bookings delivered", || async {
        let r = received.lock().unwrap().clone();
        (r.len() >= 2).then_some(r)
    })
    .await;
    stop.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap().unwrap();
    assert!(*attempts.lock().unwrap() >= 5, "the first three attempts failed and were retried");
    let events: Vec<BookingEvent> = got.iter().map(|(_, body)| serde_json::from_str(body).unwrap()).collect();
    assert_eq!(events[0].booking, b1);
    assert_eq!(events[1].booking, b2);
    assert_eq!(got[0].0, format!("{}:confirmed", b1.booking_id));
    // Everything was acknowledged: nothing is pending in the group.
    let pending = crate::store::redis_cmd(
        &env,
        "XPENDING",
        vec![seats::NOTIFY_STREAM_KEY.into(), seats::notifier::NOTIFIER_GROUP.into()],
    )
    .await;
    assert_eq!(pending.into_array()[0].as_u64(), Some(0));
}

#[tokio::test]
async fn a_confirmation_read_by_a_node_that_died_is_delivered_by_another_node() {
    let env = Env::new(Kind::Redis).await;
    let (url, received, _) = webhook(0).await;
    let h = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    // Node 1 read the event and died before delivering it: the entry is
    // pending at a consumer that never comes back (NODE_ID is random).
    let stream = seats::NOTIFY_STREAM_KEY;
    let group = seats::notifier::NOTIFIER_GROUP;
    crate::store::redis_cmd(&env, "XGROUP", vec!["CREATE".into(), stream.into(), group.into(), "0".into()]).await;
    let read = crate::store::redis_cmd(
        &env,
        "XREADGROUP",
        vec!["GROUP".into(), group.into(), "node-1".into(), "STREAMS".into(), stream.into(), ">".into()],
    )
    .await;
    assert!(!read.is_nil(), "node 1 took the entry");
    // Node 2 has nothing new to read; it takes over what node 1 left idle.
    let bus::Bus::Redis(rb) = &env.bus else { unreachable!("redis env") };
    let mut config = NotifierConfig::new(url, "node-2");
    config.poll_interval = Duration::from_millis(20);
    config.claim_idle = Duration::from_millis(200);
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_notifier(rb.handle().clone(), config, stop.clone()));
    let got = testkit::eventually(WAIT, "the stranded confirmation delivered", || async {
        let r = received.lock().unwrap().clone();
        (!r.is_empty()).then_some(r)
    })
    .await;
    stop.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap().unwrap();
    let event: BookingEvent = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(event.booking, b);
    assert_eq!(got.len(), 1, "delivered once");
    let pending = crate::store::redis_cmd(&env, "XPENDING", vec![stream.into(), group.into()]).await;
    assert_eq!(pending.into_array()[0].as_u64(), Some(0), "acknowledged by node 2");
}

#[tokio::test]
async fn notifier_rejects_a_bad_url_up_front() {
    let env = Env::new(Kind::Redis).await;
    let bus::Bus::Redis(rb) = &env.bus else { unreachable!("redis env") };
    // https is allowed (rustls); another scheme is not.
    let r = run_notifier(rb.handle().clone(), NotifierConfig::new("ftp://x", "n"), CancellationToken::new()).await;
    assert!(matches!(r, Err(seats::notifier::NotifierError::BadUrl(_))));
}

#[tokio::test]
async fn an_undelivered_booking_event_is_delivered_by_the_next_sweep() {
    let env = Env::new(Kind::Redis).await;
    let h = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    // Simulate a node that died between the sale and the delivery: the event
    // is back in the showtime's outbox and the showtime is marked pending.
    let mut raw = b.clone();
    raw.amount = 0;
    let json = serde_json::to_string(&raw).unwrap();
    let outbox = crate::store::showtime_keys("st-1").outbox;
    crate::store::redis_cmd(&env, "RPUSH", vec![outbox.as_str().into(), json.as_str().into()]).await;
    crate::store::redis_cmd(&env, "SADD", vec![seats::OUTBOX_INDEX_KEY.into(), "st-1".into()]).await;

    env.store.sweep_expired().await.unwrap();

    // Delivered again (at least once: consumers dedupe by booking id and event).
    let v =
        crate::store::redis_cmd(&env, "XRANGE", vec![seats::NOTIFY_STREAM_KEY.into(), "-".into(), "+".into()]).await;
    let events: Vec<BookingEvent> = v
        .into_array()
        .into_iter()
        .map(|e| serde_json::from_str(e.into_array()[1].clone().into_array()[1].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.booking == b), "the redelivered event is priced like the first");
    let left = crate::store::redis_cmd(&env, "LLEN", vec![outbox.as_str().into()]).await;
    assert_eq!(left.as_u64(), Some(0));
    let pending = crate::store::redis_cmd(&env, "SCARD", vec![seats::OUTBOX_INDEX_KEY.into()]).await;
    assert_eq!(pending.as_u64(), Some(0));
    assert_eq!(env.store.my_bookings("alice").await.unwrap(), vec![b]);
}

/// The booking events in the notifications stream, oldest first.
async fn notified(env: &Env) -> Vec<BookingEvent> {
    let v = crate::store::redis_cmd(env, "XRANGE", vec![seats::NOTIFY_STREAM_KEY.into(), "-".into(), "+".into()]).await;
    v.into_array()
        .into_iter()
        .map(|e| serde_json::from_str(e.into_array()[1].clone().into_array()[1].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_drain_lease_held_by_a_dead_node_delays_delivery_but_loses_nothing() {
    let env = Env::new(Kind::Redis).await;
    // Another node took the showtime's drain lease and died: its lease is
    // left, for 300 ms.
    let lock = crate::store::showtime_keys("st-1").outbox_lease;
    crate::store::redis_cmd(&env, "SET", vec![lock.as_str().into(), "dead-node".into(), "PX".into(), 300.into()]).await;
    let h = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    // The sale stands; its event waits in the outbox, the showtime marked.
    assert!(notified(&env).await.is_empty(), "nobody drains under another node's lease");
    let pending = crate::store::redis_cmd(&env, "SISMEMBER", vec![seats::OUTBOX_INDEX_KEY.into(), "st-1".into()]).await;
    assert_eq!(pending.as_u64(), Some(1));
    // Once the lease runs out, the next sweep delivers it, once.
    let events = testkit::eventually(WAIT, "the event delivered after the lease", || async {
        env.store.sweep_expired().await.unwrap();
        let events = notified(&env).await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].booking, b);
    let left = crate::store::redis_cmd(&env, "LLEN", vec![crate::store::showtime_keys("st-1").outbox.into()]).await;
    assert_eq!(left.as_u64(), Some(0));
}

#[tokio::test]
async fn in_process_confirmations_and_cancellations_reach_the_webhook_with_retries() {
    let env = Env::new(Kind::Memory).await;
    let (url, received, attempts) = webhook(2).await;
    let queue = env.store.local_notifications(16).expect("the in-process store takes a queue");
    assert!(env.store.local_notifications(16).is_none(), "only one notifier");
    let mut config = NotifierConfig::new(url, "solo");
    config.min_backoff = Duration::from_millis(10);
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_local_notifier(queue, config, stop.clone()));
    let h = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    let again = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    assert_eq!(again, b, "a retried confirm is not a second event");
    let cancelled = env.store.cancel_booking("alice", &b.booking_id).await.unwrap();

    let got = testkit::eventually(WAIT, "both events delivered", || async {
        let r = received.lock().unwrap().clone();
        (r.len() >= 2).then_some(r)
    })
    .await;
    assert_eq!(got.len(), 2);
    assert!(*attempts.lock().unwrap() >= 4, "the first two attempts failed and were retried");
    assert_eq!(got[0].0, format!("{}:confirmed", b.booking_id));
    assert_eq!(got[1].0, format!("{}:cancelled", b.booking_id));
    let first: BookingEvent = serde_json::from_str(&got[0].1).unwrap();
    let second: BookingEvent = serde_json::from_str(&got[1].1).unwrap();
    assert_eq!((first.booking, second.booking), (b, cancelled));
    // The owner got both live on `user:alice` as well.
    let live = env.sink.publications("user:alice");
    assert_eq!(live.len(), 2);
    stop.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_full_in_process_queue_refuses_the_sale_and_changes_nothing() {
    let env = Env::new(Kind::Memory).await;
    let mut queue = env.store.local_notifications(1).unwrap();
    let h1 = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let h2 = env.store.hold(req("bob", &["A2"], "k2")).await.unwrap();
    env.store.confirm("st-1", "alice", &h1.hold_id).await.unwrap();
    let before = env.store.snapshot("st-1", None).await.unwrap();
    // The notifier is behind: the next sale would have nowhere to put its event.
    let err = env.store.confirm("st-1", "bob", &h2.hold_id).await.unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err}");
    assert_eq!(env.store.snapshot("st-1", None).await.unwrap(), before, "nothing changed");
    assert!(queue.recv().await.unwrap().contains(&h1.seats[0].to_string()));
    // Once the notifier caught up, the same confirm goes through.
    let b2 = env.store.confirm("st-1", "bob", &h2.hold_id).await.unwrap();
    let ev: BookingEvent = serde_json::from_str(&queue.recv().await.unwrap()).unwrap();
    assert_eq!(ev.booking, b2);
}
