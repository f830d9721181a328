//! The chat scenario: pipeline overhead from a `chat` frame in to the first
//! `delta` event out, with a model service that answers instantly (the
//! `instant-model` subcommand: a real tonic server of the `marquee.v1`
//! contract whose answer is one delta and a final, no retrieval), so what is
//! measured is the gateway, the queue, the dispatcher and the way back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use auth::Auth;
use futures_util::{SinkExt, Stream, StreamExt};
use hdrhistogram::Histogram;
use proto::v1 as pb;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::{connect, token};

/// The instant model: every answer is one delta and a final.
struct Instant0;

type AnswerStream = Pin<Box<dyn Stream<Item = Result<pb::AnswerEvent, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl pb::model_service_server::ModelService for Instant0 {
    type AnswerStream = AnswerStream;

    async fn answer(
        &self,
        _req: tonic::Request<pb::AnswerRequest>,
    ) -> Result<tonic::Response<AnswerStream>, tonic::Status> {
        use pb::answer_event::Event;
        let events = vec![
            Ok(pb::AnswerEvent { event: Some(Event::Text(pb::TextDelta { text: "ok".into() })) }),
            Ok(pb::AnswerEvent {
                event: Some(Event::Final(pb::Final {
                    speech: "ok".into(),
                    generator: "instant".into(),
                    ..pb::Final::default()
                })),
            }),
        ];
        Ok(tonic::Response::new(Box::pin(futures_util::stream::iter(events))))
    }

    async fn search(
        &self,
        _req: tonic::Request<pb::SearchRequest>,
    ) -> Result<tonic::Response<pb::SearchResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("the instant model only answers"))
    }

    async fn embed(
        &self,
        _req: tonic::Request<pb::EmbedRequest>,
    ) -> Result<tonic::Response<pb::EmbedResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("the instant model only answers"))
    }

    async fn ingest(
        &self,
        _req: tonic::Request<pb::IngestRequest>,
    ) -> Result<tonic::Response<pb::IngestResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("the instant model only answers"))
    }
}

/// Serves the instant model on `addr` (loopback) until killed.
pub async fn instant_model(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("refusing a non-loopback address: {addr}");
    }
    tonic::transport::Server::builder()
        .add_service(pb::model_service_server::ModelServiceServer::new(Instant0))
        .serve(addr)
        .await?;
    Ok(())
}

/// `users` clients spread over `nodes`, each subscribed to its own user
/// topic, send `rate` chats per second in all for `seconds` (after a 1 s
/// warm-up); reports the time from sending each chat to its first delta.
pub async fn chat(
    auth: &Auth,
    sources: u8,
    nodes: &[SocketAddr],
    users: usize,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<Value> {
    if nodes.is_empty() || users == 0 || rate == 0 {
        bail!("need nodes, users and a rate");
    }
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?));
    let sent = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let tag = format!("{:x}", rand_tag());
    let mut clients = Vec::with_capacity(users);
    for i in 0..users {
        let node = nodes[i % nodes.len()];
        let user = format!("lg{tag}-{i}");
        let mut ws = connect(node, &token(auth, &user)?, i, sources).await?;
        let sub = json!({"type": "subscribe", "id": 1, "topic": format!("user:{user}")});
        ws.send(Message::text(sub.to_string())).await?;
        clients.push(ws);
    }
    // Each user sends every `users / rate` seconds, staggered.
    let every = Duration::from_secs_f64(users as f64 / rate as f64);
    let warmup = Duration::from_secs(1);
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let stop_sending = start + warmup + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (i, ws) in clients.into_iter().enumerate() {
        let (hist, sent, answered, failed) = (hist.clone(), sent.clone(), answered.clone(), failed.clone());
        let offset = every.mul_f64(i as f64 / users as f64);
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let mut pending: HashMap<String, (Instant, bool)> = HashMap::new();
            let mut tick = tokio::time::interval_at(start + offset, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0u64;
            let drain_until = stop_sending + Duration::from_secs(10);
            loop {
                tokio::select! {
                    t = tick.tick(), if t_before(stop_sending) => {
                        let measured = t >= start + warmup;
                        n += 1;
                        let mid = format!("m{i}-{n}");
                        let frame = json!({"type": "chat", "id": 100 + n, "message_id": mid, "conversation": "load", "text": "ok?"});
                        pending.insert(mid, (Instant::now(), measured));
                        if measured {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        if tx.send(Message::text(frame.to_string())).await.is_err() {
                            failed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                    msg = rx.next() => {
                        let Some(Ok(Message::Text(t))) = msg else {
                            if msg.is_none() { failed.fetch_add(1, Ordering::Relaxed); return; }
                            continue;
                        };
                        let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else { continue };
                        if v["type"] == "error" {
                            failed.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        let d = &v["data"];
                        if v["type"] != "pub" || d["type"] != "chat" {
                            continue;
                        }
                        let Some(mid) = d["message_id"].as_str() else { continue };
                        match d["event"].as_str() {
                            Some("delta") => {
                                if let Some((at, measured)) = pending.get_mut(mid)
                                    && *measured
                                {
                                    let us = at.elapsed().as_micros() as u64;
                                    let _ = hist.lock().await.record(us.max(1));
                                    *measured = false;
                                }
                            }
                            Some("final") => {
                                if let Some((_, _)) = pending.remove(mid) {
                                    answered.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            _ => {}
                        }
                    }
                    _ = tokio::time::sleep_until(drain_until) => return,
                }
                if !t_before(stop_sending) && pending.is_empty() {
                    return;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let h = hist.lock().await;
    let sent = sent.load(Ordering::Relaxed);
    // Answers of warm-up messages are counted too; compare measured ones.
    let measured_answered = h.len();
    Ok(json!({
        "scenario": "chat",
        "nodes": nodes.len(),
        "users": users,
        "rate_per_s": rate,
        "seconds": seconds,
        "chats_sent": sent,
        "finals_received": answered.load(Ordering::Relaxed),
        "lost": sent.saturating_sub(measured_answered),
        "failed": failed.load(Ordering::Relaxed),
        "chat_to_first_delta_us": {
            "p50": h.value_at_quantile(0.50),
            "p90": h.value_at_quantile(0.90),
            "p99": h.value_at_quantile(0.99),
            "p999": h.value_at_quantile(0.999),
            "max": h.max(),
        },
    }))
}

fn t_before(deadline: tokio::time::Instant) -> bool {
    tokio::time::Instant::now() < deadline
}

fn rand_tag() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
}
