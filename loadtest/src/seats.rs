//! The `seats` scenario: viewers of one showtime measure how fast seat
//! deltas reach them while a driver changes seats, then holders hold seats as
//! fast as the gateway answers (a hold/release cycle, `--fill`: a sale
//! opening, or `--book`: two-seat bookings, each hold confirmed, so the
//! bookings database is in the path); holds (or bookings) per second and CPU
//! per hold (or booking).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::request::{call, call_fast};
use crate::stats::{CLOCK_TICKS_PER_SEC, cpu_ticks, now_micros};
use crate::{Auth, connect, token};

/// The fields of a seat delta the viewers need.
#[derive(serde::Deserialize)]
struct SeatFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    data: Option<SeatDelta>,
}

#[derive(serde::Deserialize)]
struct SeatDelta {
    #[serde(default)]
    version: u64,
}

/// What the holders do in the throughput phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Hold one seat and release it, on one showtime.
    Cycle,
    /// Hold every free seat of every showtime once, one seat per hold.
    Fill,
    /// Book every free seat of every showtime once, two seats per booking:
    /// a hold, then its confirm.
    Book,
}

impl Mode {
    fn describe(self) -> &'static str {
        match self {
            Mode::Cycle => "cycle (hold + release)",
            Mode::Fill => "fill (holds only)",
            Mode::Book => "book (hold two seats + confirm)",
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn seats(
    auth: &Auth,
    sources: u8,
    nodes: &[SocketAddr],
    viewers: usize,
    rate: u64,
    holders: usize,
    seconds: u64,
    mode: Mode,
    watched: &[(String, String)],
) -> anyhow::Result<Value> {
    if nodes.is_empty() {
        bail!("--nodes is empty");
    }
    let mut driver = connect(nodes[0], &token(auth, "driver")?, viewers, sources).await?;
    let list = call(&mut driver, 1, json!({"type": "showtimes"})).await?;
    // The showtime on the largest screen gives the holders the most seats.
    let mut best: Option<(String, Vec<String>)> = None;
    for st in list["showtimes"].as_array().context("no showtimes")?.iter().take(20) {
        let id = st["id"].as_str().context("showtime id")?.to_owned();
        let map = call(&mut driver, 2, json!({"type": "seat_map", "showtime": id})).await?;
        let free: Vec<String> = map["map"]["seats"]
            .as_array()
            .context("seat map")?
            .iter()
            .filter(|s| s["state"] == "free")
            .filter_map(|s| s["seat"].as_str().map(str::to_owned))
            .collect();
        if best.as_ref().is_none_or(|(_, b)| free.len() > b.len()) {
            best = Some((id, free));
        }
    }
    let (showtime, free) = best.context("no showtime with free seats")?;
    let topic = format!("showtime:{showtime}");

    // Viewers: record (version, receive time) of the latency phase's deltas.
    let expect = (rate * seconds) as usize;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sem = Arc::new(tokio::sync::Semaphore::new(200));
    let mut ready = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..viewers {
        let (node, token, topic, sem) =
            (nodes[i % nodes.len()], token(auth, &format!("viewer{i}"))?, topic.clone(), sem.clone());
        let mut stop = stop_rx.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        ready.push(rx);
        tasks.push(tokio::spawn(async move {
            let mut ws = {
                let _permit = sem.acquire().await.ok()?;
                let mut ws = connect(node, &token, i, sources).await.ok()?;
                call(&mut ws, 1, json!({"type": "subscribe", "topic": topic})).await.ok()?;
                ws
            };
            let _ = tx.send(());
            let mut seen: Vec<(u64, u64)> = Vec::with_capacity(expect);
            while seen.len() < expect {
                let msg = tokio::select! {
                    m = ws.next() => m,
                    _ = stop.changed() => break,
                };
                let Some(Ok(Message::Text(t))) = msg else { if matches!(msg, Some(Ok(_))) { continue } else { break } };
                let Ok(f) = serde_json::from_str::<SeatFrame<'_>>(t.as_str()) else { continue };
                match (f.kind, f.data) {
                    ("pub", Some(d)) => seen.push((d.version, now_micros())),
                    ("ping", _) => {
                        let _ = ws.send(Message::text("{\"type\":\"pong\"}")).await;
                    }
                    _ => {}
                }
            }
            Some(seen)
        }));
    }
    let mut connected = 0u64;
    for rx in ready {
        if rx.await.is_ok() {
            connected += 1;
        }
    }

    // Phase 1: one driver, known versions, fixed rate. Only the driver changes
    // this showtime (holds last 10 min), so the next version is the last + 1.
    let seat = free.first().context("no free seat")?.clone();
    let map = call(&mut driver, 3, json!({"type": "seat_map", "showtime": showtime})).await?;
    let first_version = map["map"]["version"].as_u64().unwrap_or(0);
    let mut sent_at: Vec<(u64, u64)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let mut id = 10u64;
    let mut hold_id = String::new();
    for k in 0..rate * seconds {
        tick.tick().await;
        id += 1;
        sent_at.push((first_version + k + 1, now_micros()));
        let reply = if k % 2 == 0 {
            let key = format!("lat-{k}-{}", now_micros());
            let r = call(
                &mut driver,
                id,
                json!({"type": "hold", "showtime": showtime, "seats": [seat], "idempotency_key": key}),
            )
            .await?;
            hold_id = r["hold"]["hold_id"].as_str().unwrap_or_default().to_owned();
            r
        } else {
            call(&mut driver, id, json!({"type": "release", "showtime": showtime, "hold_id": hold_id})).await?
        };
        if reply["type"] == "error" {
            bail!("driver request failed: {reply}");
        }
    }
    let latency_changes = sent_at.len();

    // Collect the viewers' records (waiting at most 10 s for stragglers).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop_tx.send(true);
    let sent: std::collections::HashMap<u64, u64> = sent_at.into_iter().collect();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut measured, mut viewers_done) = (0u64, 0u64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for t in tasks {
        if let Ok(Ok(Some(seen))) = tokio::time::timeout_at(deadline, t).await {
            viewers_done += 1;
            for (v, at) in seen {
                if let Some(sent) = sent.get(&v) {
                    let _ = hist.record(at.saturating_sub(*sent).max(1));
                    measured += 1;
                }
            }
        }
    }
    let expected = latency_changes as u64 * connected;

    // Phase 2: holders hold seats as fast as answered, spread over the
    // nodes. Cycle: single seats, each on its own seats of this showtime,
    // releasing each hold. Fill: every free seat of every showtime once, no
    // releases. Book: every free seat of every showtime once, in pairs (a
    // seat and the next one of the map), each hold confirmed.
    let fill = mode != Mode::Cycle;
    let targets: Vec<(String, String)> = if fill {
        let mut all = Vec::new();
        for (i, st) in list["showtimes"].as_array().context("no showtimes")?.iter().enumerate() {
            let id = st["id"].as_str().context("showtime id")?.to_owned();
            let map = call(&mut driver, 100 + i as u64, json!({"type": "seat_map", "showtime": id})).await?;
            let seats: Vec<&str> = map["map"]["seats"]
                .as_array()
                .context("seat map")?
                .iter()
                .filter(|s| s["state"] == "free")
                .filter_map(|s| s["seat"].as_str())
                .collect();
            if mode == Mode::Book {
                // Ids are plain `[A-Za-z0-9]`: the pair goes into the frame as `A1","A2`.
                all.extend(seats.chunks_exact(2).map(|p| (id.clone(), p.join("\",\""))));
            } else {
                all.extend(seats.iter().map(|s| (id.clone(), (*s).to_owned())));
            }
        }
        all
    } else {
        free.iter().skip(1).map(|s| (showtime.clone(), s.clone())).collect()
    };
    let available = targets.len();
    let holds = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let booked = Arc::new(AtomicU64::new(0));
    let unconfirmed = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + Duration::from_secs(seconds);
    let mine: Vec<Vec<(String, String)>> =
        (0..holders).map(|h| targets.iter().skip(h).step_by(holders).cloned().collect()).collect();
    let mut workers = Vec::new();
    for (h, seats) in mine.into_iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        let (node, token, holds, refused) =
            (nodes[h % nodes.len()], token(auth, &format!("holder{h}"))?, holds.clone(), refused.clone());
        let (booked, unconfirmed) = (booked.clone(), unconfirmed.clone());
        workers.push(tokio::spawn(async move {
            let mut ws = connect(node, &token, h, sources).await.ok()?;
            let mut id = 1u64;
            let mut n = 0usize;
            while Instant::now() < stop_at && (!fill || n < seats.len()) {
                let (showtime, seat) = &seats[n % seats.len()];
                n += 1;
                id += 1;
                // Ids are plain `[A-Za-z0-9_.-]`, so no JSON escaping is needed.
                let req = format!(
                    r#"{{"type":"hold","id":{id},"showtime":"{showtime}","seats":["{seat}"],"idempotency_key":"t{h}-{n}"}}"#
                );
                let (held, hold_id) = call_fast(&mut ws, id, req).await.ok()?;
                if !held {
                    refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                holds.fetch_add(1, Ordering::Relaxed);
                if mode == Mode::Cycle {
                    id += 1;
                    let req = format!(r#"{{"type":"release","id":{id},"showtime":"{showtime}","hold_id":"{hold_id}"}}"#);
                    call_fast(&mut ws, id, req).await.ok()?;
                } else if mode == Mode::Book {
                    id += 1;
                    let req = format!(r#"{{"type":"confirm","id":{id},"showtime":"{showtime}","hold_id":"{hold_id}"}}"#);
                    let (confirmed, _) = call_fast(&mut ws, id, req).await.ok()?;
                    let counter = if confirmed { &booked } else { &unconfirmed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(())
        }));
    }
    let started = Instant::now();
    let cpu_before: Vec<Option<u64>> = watched.iter().map(|(_, pid)| cpu_ticks(pid)).collect();
    for w in workers {
        let _ = w.await;
    }
    let throughput_secs = started.elapsed().as_secs_f64();
    let bookings = booked.load(Ordering::Relaxed);
    // Per booking in `book` mode (a hold and its confirm), else per hold.
    let held = if mode == Mode::Book { bookings } else { holds.load(Ordering::Relaxed) }.max(1) as f64;
    // CPU time per hold (or booking) of each watched process during this phase (µs).
    let cpu_per_hold: serde_json::Map<String, Value> = watched
        .iter()
        .zip(cpu_before)
        .filter_map(|((name, pid), before)| {
            let used = cpu_ticks(pid)?.checked_sub(before?)?;
            Some((name.clone(), json!((used as f64 / CLOCK_TICKS_PER_SEC * 1e6 / held * 10.0).round() / 10.0)))
        })
        .collect();

    Ok(json!({
        "scenario": "seats",
        "showtime": showtime,
        "nodes": nodes.len(),
        "viewers": connected,
        "viewers_finished": viewers_done,
        "latency_changes": latency_changes,
        "change_rate": rate,
        "deltas_received": measured,
        "deltas_expected": expected,
        "lost": expected.saturating_sub(measured),
        "change_to_viewer_latency_us": {
            "p50": hist.value_at_quantile(0.50),
            "p99": hist.value_at_quantile(0.99),
            "p999": hist.value_at_quantile(0.999),
            "max": hist.max(),
        },
        "holders": holders,
        "mode": mode.describe(),
        "seats_available": available,
        "throughput_seconds": throughput_secs,
        "holds": holds.load(Ordering::Relaxed),
        "holds_per_second": holds.load(Ordering::Relaxed) as f64 / throughput_secs.max(0.001),
        "refused": refused.load(Ordering::Relaxed),
        "bookings": bookings,
        "bookings_per_second": bookings as f64 / throughput_secs.max(0.001),
        "confirms_refused": unconfirmed.load(Ordering::Relaxed),
        // Per booking (hold + confirm) in `book` mode.
        "cpu_us_per_hold": cpu_per_hold,
    }))
}
