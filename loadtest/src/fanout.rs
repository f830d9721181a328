//! The `fanout` scenario: subscribers of one topic spread over the nodes (in
//! this process or in worker processes), one publisher at a fixed rate;
//! deliveries, loss, offset gaps and publish-to-receipt latency.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::request::subscribe_with_retry;
use crate::stats::now_micros;
use crate::{Auth, Proto, cluster, connect, connect_sio, latency_histogram, token};

pub(crate) fn server_name(proto: Proto) -> &'static str {
    match proto {
        Proto::Marquee => "marquee",
        Proto::SocketIo => "socket.io + redis-streams-adapter",
    }
}

/// A publish request in the given protocol.
pub(crate) fn publish_frame(proto: Proto, id: u64, topic: &str, data: Value) -> Message {
    match proto {
        Proto::Marquee => Message::text(json!({"type": "publish", "id": id, "topic": topic, "data": data}).to_string()),
        Proto::SocketIo => Message::text(format!("42{}", json!(["publish", {"topic": topic, "data": data}]))),
    }
}

/// A Socket.IO `pub` event's payload.
#[derive(serde::Deserialize)]
struct SioPub {
    data: PubData,
}

/// The fields of a server frame the fan-out readers need.
#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    offset: Option<u64>,
    data: Option<PubData>,
}

/// The publisher's payload: send time (µs), measured flag, end marker.
#[derive(serde::Deserialize)]
struct PubData {
    #[serde(default)]
    t: u64,
    #[serde(default)]
    m: bool,
    #[serde(default)]
    end: bool,
}

/// Subscribers of one topic running in this process: one task per connection.
pub(crate) struct Subscribers {
    /// One per subscriber: fires once it is subscribed (dropped if it failed).
    ready: Vec<tokio::sync::oneshot::Receiver<()>>,
    /// One per subscriber: its offset gaps, when it saw the end marker.
    readers: Vec<tokio::task::JoinHandle<Option<u64>>>,
    /// Publish-to-receipt latency of the measured publications, µs.
    pub(crate) hist: Arc<Mutex<Histogram<u64>>>,
    /// Measured publications received.
    pub(crate) received: Arc<AtomicU64>,
    /// Subscribes retried after `unavailable`.
    pub(crate) retries: Arc<AtomicU64>,
}

impl Subscribers {
    /// Waits until every subscriber is subscribed or failed; returns how many subscribed.
    pub(crate) async fn wait_ready(&mut self) -> u64 {
        let mut connected = 0;
        for rx in self.ready.drain(..) {
            if rx.await.is_ok() {
                connected += 1;
            }
        }
        connected
    }

    /// Waits for the readers until `stop` resolves; returns (offset gaps, readers finished).
    pub(crate) async fn finish(&mut self, stop: impl std::future::Future<Output = ()>) -> (u64, u64) {
        let (mut gaps, mut finished) = (0, 0);
        tokio::pin!(stop);
        for r in self.readers.drain(..) {
            tokio::select! {
                done = r => if let Ok(Some(g)) = done {
                    gaps += g;
                    finished += 1;
                },
                () = &mut stop => break,
            }
        }
        (gaps, finished)
    }
}

/// Starts subscribers `first..first + count` of `topic`: subscriber `i` connects to
/// `nodes[i % nodes.len()]` from source address index `i`, at most 200 connecting at once.
pub(crate) fn spawn_subscribers(
    auth: &Auth,
    sources: u8,
    nodes: &[SocketAddr],
    topic: &str,
    first: usize,
    count: usize,
    proto: Proto,
) -> anyhow::Result<Subscribers> {
    let hist = Arc::new(Mutex::new(latency_histogram()?));
    let received = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let sem = Arc::new(tokio::sync::Semaphore::new(200));
    let mut ready = Vec::new();
    let mut readers = Vec::new();
    for i in first..first + count {
        let node = nodes[i % nodes.len()];
        let token = token(auth, &format!("sub{i}"))?;
        let (topic, hist, received, sem) = (topic.to_owned(), hist.clone(), received.clone(), sem.clone());
        let retries = retries.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        ready.push(rx);
        readers.push(tokio::spawn(async move {
            let mut ws = {
                let _permit = sem.acquire().await.ok()?;
                if proto == Proto::SocketIo {
                    let mut ws = connect_sio(node, i, sources).await.ok()?;
                    // Socket.IO has no subscribe acknowledgement; the publisher
                    // waits before publishing instead.
                    ws.send(Message::text(format!("42[\"subscribe\",\"{topic}\"]"))).await.ok()?;
                    ws
                } else {
                    let mut ws = connect(node, &token, i, sources).await.ok()?;
                    subscribe_with_retry(&mut ws, &topic, &retries).await.ok()?;
                    ws
                }
            };
            let _ = tx.send(());
            let mut local = latency_histogram().ok()?;
            let (mut last, mut gaps, mut n) = (0u64, 0u64, 0u64);
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                if proto == Proto::SocketIo {
                    match t.as_str() {
                        "2" => {
                            let _ = ws.send(Message::text("3")).await;
                        }
                        ev if ev.starts_with("42") => {
                            let Ok((_, p)) = serde_json::from_str::<(&str, SioPub)>(&ev[2..]) else { continue };
                            if p.data.end {
                                break;
                            }
                            if p.data.m {
                                let _ = local.record(now_micros().saturating_sub(p.data.t).max(1));
                                n += 1;
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
                // Typed and borrowed: the load generator must cost far less
                // per frame than the server it measures.
                let Ok(f) = serde_json::from_str::<Frame<'_>>(t.as_str()) else { continue };
                match f.kind {
                    "pub" => {
                        let offset = f.offset.unwrap_or(0);
                        if last != 0 && offset != last + 1 {
                            gaps += 1;
                        }
                        last = offset;
                        let Some(d) = f.data else { continue };
                        if d.end {
                            break;
                        }
                        if d.m {
                            let _ = local.record(now_micros().saturating_sub(d.t).max(1));
                            n += 1;
                        }
                    }
                    "ping" => {
                        let _ = ws.send(Message::text("{\"type\":\"pong\"}")).await;
                    }
                    _ => {}
                }
            }
            received.fetch_add(n, Ordering::Relaxed);
            let _ = hist.lock().await.add(&local);
            Some(gaps)
        }));
    }
    Ok(Subscribers { ready, readers, hist, received, retries })
}

/// Where the fan-out scenario's subscribers run.
enum SubscriberSide {
    /// In this process.
    Local(Subscribers),
    /// In generator processes (`fanout-worker`), started and collected by `cluster`.
    Workers(cluster::Workers),
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn fanout(
    auth: &Auth,
    secret: &str,
    sources: u8,
    nodes: &[SocketAddr],
    subs: usize,
    rate: u64,
    seconds: u64,
    proto: Proto,
    procs: usize,
) -> anyhow::Result<Value> {
    if nodes.is_empty() {
        bail!("--nodes is empty");
    }
    let topic = format!("room:fanout{}", now_micros() % 1_000_000);
    let (mut side, connected) = if procs > 1 {
        let mut w = cluster::Workers::fanout(secret, sources, nodes, &topic, subs, procs, proto)?;
        let connected = w.wait_ready().await?;
        (SubscriberSide::Workers(w), connected)
    } else {
        let mut s = spawn_subscribers(auth, sources, nodes, &topic, 0, subs, proto)?;
        let connected = s.wait_ready().await;
        (SubscriberSide::Local(s), connected)
    };

    // The publisher writes on one half of its socket; acks are drained on the other.
    let publisher = if proto == Proto::SocketIo {
        let ws = connect_sio(nodes[0], subs, sources).await?;
        // No subscribe acknowledgement in Socket.IO: give the joins time to land.
        tokio::time::sleep(Duration::from_secs(2)).await;
        ws
    } else {
        let mut publisher = connect(nodes[0], &token(auth, "publisher")?, subs, sources).await?;
        // Publishing to a room needs membership: subscribe first.
        let join = json!({"type": "subscribe", "id": 0, "topic": topic});
        publisher.send(Message::text(join.to_string())).await?;
        loop {
            match publisher.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().contains("\"subscribed\"") => break,
                Some(Ok(_)) => continue,
                other => bail!("publisher could not join: {other:?}"),
            }
        }
        publisher
    };
    let (mut w, mut r) = publisher.split();
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = r.next().await {} });
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let warmup = rate; // one second, not measured
    let measured = rate * seconds;
    let mut id = 1u64;
    let mut measure_start = Instant::now();
    for k in 0..warmup + measured {
        tick.tick().await;
        if k == warmup {
            measure_start = Instant::now();
        }
        let data = json!({"t": now_micros(), "m": k >= warmup});
        w.send(publish_frame(proto, id, &topic, data)).await?;
        id += 1;
    }
    let measure_secs = measure_start.elapsed().as_secs_f64();
    w.send(publish_frame(proto, id, &topic, json!({"end": true}))).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (gaps, finished, got, h, retries) = match &mut side {
        SubscriberSide::Local(s) => {
            let (gaps, finished) = s.finish(tokio::time::sleep_until(deadline)).await;
            let h = s.hist.lock().await.clone();
            (gaps, finished, s.received.load(Ordering::Relaxed), h, s.retries.load(Ordering::Relaxed))
        }
        SubscriberSide::Workers(w) => {
            let t = w.finish(deadline).await?;
            (t.gaps, t.finished, t.received, t.hist, t.retries)
        }
    };
    drain.abort();
    let expected = measured * connected;
    Ok(json!({
        "scenario": "fanout",
        "server": server_name(proto),
        "nodes": nodes.len(),
        "generator_processes": procs.max(1),
        "subscribers": connected,
        // Subscribers that could not connect or subscribe: a failed run.
        "failed": (subs as u64).saturating_sub(connected),
        "subscribe_retries": retries,
        "subscribers_finished": finished,
        "publish_rate": rate,
        "measured_publications": measured,
        "measured_seconds": measure_secs,
        "deliveries": got,
        "deliveries_expected": expected,
        "lost": expected.saturating_sub(got),
        "deliveries_per_second": got as f64 / measure_secs.max(0.001),
        "offset_gaps_seen": gaps,
        "latency_us": {
            "p50": h.value_at_quantile(0.50),
            "p99": h.value_at_quantile(0.99),
            "p999": h.value_at_quantile(0.999),
            "max": h.max(),
        },
    }))
}
