//! The `rolling` scenario: clients stay subscribed with recovery, and holders
//! keep booking, while `loadtest/run rolling` restarts the gateway nodes one
//! after another the way a rolling update does (SIGTERM, drain, a new process
//! on the same port). Every client follows docs/protocol.md: on `reconnect`
//! it waits the `delay_ms` it was given, on a closed connection a jittered
//! delay, then connects to a node that answers (the next in turn) and
//! resubscribes with `recover`. Each client checks every offset it receives:
//! a gap that no `recovered: false` or `reset` announced is a silent loss, an
//! offset seen twice a duplicate. Holders hold two seats and confirm,
//! retrying across restarts with the same idempotency key (a confirm is
//! idempotent); a hold or confirm that fails for any other reason counts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::request::call;
use crate::{Auth, Ws, connect, token};

/// The fields of a frame a rolling client reads (borrowed: little CPU).
#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default, borrow)]
    epoch: Option<&'a str>,
    #[serde(default)]
    recovered: Option<bool>,
    #[serde(default)]
    delay_ms: Option<u64>,
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    received: u64,
    /// Offsets skipped without a `recovered: false` or `reset` saying so.
    silent_gaps: u64,
    duplicates: u64,
    /// Times the server said the client must refetch (`recovered: false`, `reset`).
    refetch: u64,
    reconnects: u64,
    /// Longest time from losing a connection to being subscribed again (ms).
    longest_away_ms: u64,
    last: u64,
    subscribed: bool,
}

/// Counters shared by the whole run.
#[derive(Default)]
struct Totals {
    published: AtomicU64,
    publish_retries: AtomicU64,
    holds: AtomicU64,
    bookings: AtomicU64,
    booking_failures: AtomicU64,
    booking_retries: AtomicU64,
}

/// A connection to whichever node answers first, starting at `start`
/// (nodes restart one at a time, so one of them always does).
async fn connect_any(
    nodes: &[SocketAddr],
    start: usize,
    token: &str,
    i: usize,
    sources: u8,
    stop: &AtomicBool,
) -> Option<(Ws, usize)> {
    let mut n = start;
    while !stop.load(Ordering::Relaxed) {
        let node = nodes[n % nodes.len()];
        if let Ok(Ok(ws)) = tokio::time::timeout(Duration::from_secs(2), connect(node, token, i, sources)).await {
            return Some((ws, n % nodes.len()));
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// A small deterministic jitter (no RNG needed): 0..max ms, spread by `i` and `round`.
fn jitter(i: usize, round: u64, max_ms: u64) -> Duration {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(round.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    Duration::from_millis((x >> 33) % max_ms.max(1))
}

/// One subscriber: connected, subscribed with recovery, until `stop`; then
/// it reads until `drain_until` so nothing published is left in flight.
#[allow(clippy::too_many_arguments)]
async fn subscriber(
    nodes: Arc<Vec<SocketAddr>>,
    sources: u8,
    i: usize,
    token: String,
    topic: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    mut first_connect: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let mut epoch = String::new();
    let mut node_at = i;
    let mut round = 0u64;
    let mut lost_at: Option<Instant> = None;
    loop {
        let Some((mut ws, at)) = connect_any(&nodes, node_at, &token, i, sources, &stop).await else { return };
        node_at = at;
        let (last, known) = {
            let s = seen.lock().await;
            (s.last, s.subscribed)
        };
        let req = if known && !epoch.is_empty() {
            json!({"type": "subscribe", "id": 1, "topic": topic, "recover": {"epoch": epoch, "offset": last}})
        } else {
            json!({"type": "subscribe", "id": 1, "topic": topic})
        };
        if ws.send(Message::text(req.to_string())).await.is_err() {
            continue;
        }
        let mut delay = None;
        while let Some(msg) = ws.next().await {
            let Ok(Message::Text(t)) = msg else {
                if matches!(msg, Ok(Message::Close(_)) | Err(_)) {
                    break;
                }
                continue;
            };
            let Ok(f) = serde_json::from_str::<Frame<'_>>(t.as_str()) else { continue };
            let mut s = seen.lock().await;
            match f.kind {
                "subscribed" if f.id == Some(1) => {
                    let now_epoch = f.epoch.unwrap_or_default();
                    let offset = f.offset.unwrap_or(0);
                    if !s.subscribed || f.recovered == Some(false) {
                        // First time, or the server said the gap cannot be repaired.
                        if s.subscribed {
                            s.refetch += 1;
                        }
                        s.last = offset;
                    }
                    s.subscribed = true;
                    epoch = now_epoch.to_owned();
                    drop(first_connect.take());
                    if let Some(t0) = lost_at.take() {
                        s.longest_away_ms = s.longest_away_ms.max(t0.elapsed().as_millis() as u64);
                    }
                }
                "pub" => {
                    let Some(o) = f.offset else { continue };
                    if o <= s.last {
                        s.duplicates += 1;
                    } else {
                        if o > s.last + 1 {
                            s.silent_gaps += o - s.last - 1;
                        }
                        s.last = o;
                        s.received += 1;
                    }
                }
                "reset" => {
                    s.refetch += 1;
                    s.last = f.offset.unwrap_or(s.last);
                    epoch = f.epoch.unwrap_or_default().to_owned();
                }
                "reconnect" => delay = f.delay_ms.map(Duration::from_millis),
                "ping" => {
                    drop(s);
                    let _ = ws.send(Message::text("{\"type\":\"pong\"}")).await;
                }
                "error" if f.id == Some(1) => {
                    // `unavailable` while a node drains or Redis is busy: resubscribe.
                    break;
                }
                _ => {}
            }
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        // Lost: a drain told us when to come back, else a jittered delay.
        lost_at.get_or_insert_with(Instant::now);
        seen.lock().await.reconnects += 1;
        round += 1;
        tokio::time::sleep(delay.unwrap_or_else(|| jitter(i, round, 1000))).await;
        node_at += 1;
    }
}

/// The publisher: publishes `{"k": n}` to the topics in turn at `rate`,
/// each with an `idem` key, resending on a lost connection or `unavailable`
/// (the key dedupes a resend), on whichever node answers. Returns the last
/// offset of each topic.
async fn publisher(
    nodes: Arc<Vec<SocketAddr>>,
    sources: u8,
    token: String,
    topics: Vec<String>,
    rate: u64,
    until: Instant,
    totals: Arc<Totals>,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let never = AtomicBool::new(false);
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let mut ws: Option<Ws> = None;
    let mut node_at = 0;
    let mut id = 100u64;
    let mut k = 0u64;
    while Instant::now() < until {
        tick.tick().await;
        let topic = &topics[(k % topics.len() as u64) as usize];
        let idem = format!("roll-{k}");
        loop {
            if ws.is_none() {
                let (mut c, at) = connect_any(&nodes, node_at, &token, 0, sources, &never).await.context("no node")?;
                node_at = at;
                // Rooms are published to by members: join each topic first.
                let mut ok = true;
                for (j, t) in topics.iter().enumerate() {
                    let r = call(&mut c, 10 + j as u64, json!({"type": "subscribe", "topic": t})).await;
                    ok &= r.is_ok_and(|r| r["type"] == "subscribed");
                }
                if !ok {
                    node_at += 1;
                    continue;
                }
                ws = Some(c);
            }
            let Some(c) = ws.as_mut() else { continue };
            id += 1;
            let r = call(c, id, json!({"type": "publish", "topic": topic, "data": {"k": k}, "idem": idem})).await;
            match r {
                Ok(r) if r["type"] == "published" => {
                    let o = r["offset"].as_u64().unwrap_or(0);
                    let e = last.entry(topic.clone()).or_default();
                    *e = (*e).max(o);
                    totals.published.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(r) if r["code"] == "unavailable" || r["code"] == "rate_limited" => {
                    totals.publish_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(r) => bail!("publish refused: {r}"),
                Err(_) => {
                    // The node went away (drained): resend on another.
                    totals.publish_retries.fetch_add(1, Ordering::Relaxed);
                    ws = None;
                    node_at += 1;
                }
            }
        }
        k += 1;
    }
    Ok(last)
}

/// A holder's connection to whichever node answers.
struct Link {
    nodes: Arc<Vec<SocketAddr>>,
    ws: Option<Ws>,
    node_at: usize,
    token: String,
    i: usize,
    sources: u8,
    id: u64,
}

impl Link {
    /// One request answered on some node, resent (same frame, so the same
    /// idempotency key) across lost connections and `unavailable`.
    async fn call_retrying(&mut self, req: &Value, totals: &Totals) -> anyhow::Result<Value> {
        let never = AtomicBool::new(false);
        for _ in 0..50 {
            if self.ws.is_none() {
                let (c, at) = connect_any(&self.nodes, self.node_at, &self.token, self.i, self.sources, &never)
                    .await
                    .context("no node")?;
                self.node_at = at;
                self.ws = Some(c);
            }
            let Some(c) = self.ws.as_mut() else { continue };
            self.id += 1;
            match call(c, self.id, req.clone()).await {
                Ok(r) if r["type"] == "error" && r["code"] == "unavailable" => {
                    totals.booking_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(r) => return Ok(r),
                Err(_) => {
                    totals.booking_retries.fetch_add(1, Ordering::Relaxed);
                    self.ws = None;
                    self.node_at += 1;
                }
            }
        }
        bail!("no answer after 50 attempts")
    }
}

/// A holder: books pairs of seats (hold, then confirm) until `until`.
async fn holder(mut link: Link, seats: Vec<(String, String, String)>, until: Instant, totals: Arc<Totals>) {
    let h = link.i;
    for (n, (showtime, a, b)) in seats.iter().enumerate() {
        if Instant::now() >= until {
            break;
        }
        let hold =
            json!({"type": "hold", "showtime": showtime, "seats": [a, b], "idempotency_key": format!("roll-{h}-{n}")});
        let r = link.call_retrying(&hold, &totals).await;
        let Some(hold_id) = r.as_ref().ok().and_then(|r| r["hold"]["hold_id"].as_str().map(str::to_owned)) else {
            totals.booking_failures.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        totals.holds.fetch_add(1, Ordering::Relaxed);
        let confirm = json!({"type": "confirm", "showtime": showtime, "hold_id": hold_id});
        match link.call_retrying(&confirm, &totals).await {
            Ok(r) if r["type"] == "confirmed" => {
                totals.bookings.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                totals.booking_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn rolling(
    auth: &Auth,
    sources: u8,
    nodes: &[SocketAddr],
    clients: usize,
    topics: usize,
    rate: u64,
    holders: usize,
    seconds: u64,
) -> anyhow::Result<Value> {
    if nodes.is_empty() || topics == 0 {
        bail!("--nodes and --topics must not be empty");
    }
    let nodes = Arc::new(nodes.to_vec());
    let names: Vec<String> = (0..topics).map(|t| format!("room:roll-{t}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let totals = Arc::new(Totals::default());

    // The holders' seats: pairs of free seats of the first showtimes.
    let mut driver = connect(nodes[0], &token(auth, "roll-driver")?, 0, sources).await?;
    let list = call(&mut driver, 1, json!({"type": "showtimes"})).await?;
    let mut pairs = Vec::new();
    for (i, st) in list["showtimes"].as_array().context("no showtimes")?.iter().take(10).enumerate() {
        let id = st["id"].as_str().context("showtime id")?.to_owned();
        let map = call(&mut driver, 2 + i as u64, json!({"type": "seat_map", "showtime": id})).await?;
        let free: Vec<&str> = map["map"]["seats"]
            .as_array()
            .context("seat map")?
            .iter()
            .filter(|s| s["state"] == "free" && s["class"] == "standard")
            .filter_map(|s| s["seat"].as_str())
            .collect();
        pairs.extend(free.chunks_exact(2).map(|p| (id.clone(), p[0].to_owned(), p[1].to_owned())));
    }
    drop(driver);

    // Subscribers, connected and subscribed before the publisher starts.
    let mut subs = Vec::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(200));
    let mut ready = Vec::new();
    for i in 0..clients {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (nodes, stop, seen2, sem) = (nodes.clone(), stop.clone(), seen.clone(), sem.clone());
        let (tok, topic) = (token(auth, &format!("roll{i}"))?, names[i % topics].clone());
        ready.push(seen.clone());
        // At most 200 connecting at once; each holds its permit until first subscribed.
        let permit = sem.acquire_owned().await.ok();
        subs.push((seen, tokio::spawn(subscriber(nodes, sources, i, tok, topic, stop, seen2, permit))));
    }
    let setup = Instant::now() + Duration::from_secs(60);
    for s in &ready {
        while !s.lock().await.subscribed && Instant::now() < setup {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The driver script (loadtest/run) starts restarting nodes once it sees this line.
    eprintln!("rolling: {clients} clients subscribed");

    let until = Instant::now() + Duration::from_secs(seconds);
    let publisher = tokio::spawn(publisher(
        nodes.clone(),
        sources,
        token(auth, "roll-publisher")?,
        names.clone(),
        rate,
        until,
        totals.clone(),
    ));
    let per = pairs.len() / holders.max(1);
    let mut hs = Vec::new();
    for h in 0..holders {
        let mine: Vec<_> = pairs.iter().skip(h * per).take(per).cloned().collect();
        let link = Link {
            nodes: nodes.clone(),
            ws: None,
            node_at: h,
            token: token(auth, &format!("roll-holder{h}"))?,
            i: h,
            sources,
            id: 1000,
        };
        hs.push(tokio::spawn(holder(link, mine, until, totals.clone())));
    }
    let last = publisher.await.context("publisher")??;
    for h in hs {
        let _ = h.await;
    }

    // Let the subscribers catch up (at most 20 s), then stop them.
    let catch_up = Instant::now() + Duration::from_secs(20);
    loop {
        let mut behind = 0;
        for (i, (seen, _)) in subs.iter().enumerate() {
            let want = last.get(&names[i % topics]).copied().unwrap_or(0);
            if seen.lock().await.last < want {
                behind += 1;
            }
        }
        if behind == 0 || Instant::now() > catch_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut received, mut gaps, mut dups, mut refetch, mut reconnects, mut longest, mut behind) =
        (0, 0, 0, 0, 0, 0, 0);
    let mut not_back = 0;
    for (i, (seen, task)) in subs.into_iter().enumerate() {
        task.abort();
        let s = seen.lock().await;
        let want = last.get(&names[i % topics]).copied().unwrap_or(0);
        received += s.received;
        gaps += s.silent_gaps;
        dups += s.duplicates;
        refetch += s.refetch;
        reconnects += s.reconnects;
        longest = longest.max(s.longest_away_ms);
        if s.last < want {
            behind += want - s.last;
            not_back += 1;
        }
    }
    let t = &totals;
    Ok(json!({
        "scenario": "rolling",
        "nodes": nodes.len(),
        "clients": clients,
        "topics": topics,
        "publish_rate": rate,
        "seconds": seconds,
        "published": t.published.load(Ordering::Relaxed),
        "publish_retries": t.publish_retries.load(Ordering::Relaxed),
        "received": received,
        "reconnects": reconnects,
        "longest_away_ms": longest,
        "told_to_refetch": refetch,
        "duplicates": dups,
        "offset_gaps_seen": gaps,
        "lost": behind,
        "clients_not_caught_up": not_back,
        "holders": holders,
        "holds": t.holds.load(Ordering::Relaxed),
        "bookings": t.bookings.load(Ordering::Relaxed),
        "booking_retries": t.booking_retries.load(Ordering::Relaxed),
        "failed": t.booking_failures.load(Ordering::Relaxed),
    }))
}
