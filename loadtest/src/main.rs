//! `loadgen`: drives gateway nodes over loopback with many WebSocket clients
//! and prints one JSON result. Scenarios:
//!
//! - `idle`: open N authenticated idle connections (spread over several
//!   loopback source addresses), then read the gateway's RSS from /proc and
//!   report bytes per connection.
//! - `fanout`: N subscribers of one topic spread over the given nodes, one
//!   publisher at a fixed rate; reports deliveries/s, loss and the latency
//!   distribution (HDR histogram, microseconds) from publish to receipt.
//!
//! - `seats`: V viewers of one showtime spread over the nodes. Phase 1: one
//!   driver makes single-seat changes (hold, release) at a fixed rate, and
//!   the viewers measure how long each versioned delta took to reach them.
//!   Phase 2: H holder connections, spread over the nodes, hold single seats
//!   as fast as the gateway answers; reports holds per second. By default
//!   each hold is followed by its release (a steady hold/release cycle on
//!   one showtime); with `--fill`, holders take every free seat of every
//!   showtime, one hold per seat and no releases (a sale opening).
//!
//! - `idle-cluster`: idle connections on several nodes (up to 19,000 each), opened
//!   by several generator processes (a process may hold at most 20,000 files), with
//!   each node's RSS per connection. `fanout --procs N` runs the subscribers in N
//!   generator processes. The processes are copies of this binary (`cluster.rs`).
//! - `chat`: users spread over the nodes send chats at a fixed total rate;
//!   reports the time from each `chat` frame to its first `delta` event
//!   (with `instant-model` as the model service: pipeline overhead).
//!
//! Every run is bounded in time and count and targets 127.0.0.0/8 only.

mod cluster;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use auth::{Auth, Claims, now_secs};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod chat;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Parser)]
#[command(about = "Marquee load generator (loopback only)")]
struct Args {
    /// JWT secret shared with the gateway nodes.
    #[arg(long, env = "JWT_SECRET", default_value = auth::DEV_JWT_SECRET)]
    secret: String,
    /// Number of loopback source addresses (127.0.0.2 ...) to spread connections over.
    #[arg(long, default_value_t = 4)]
    sources: u8,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Idle connections and gateway memory per connection.
    Idle {
        /// Gateway address (host:port on loopback).
        #[arg(long)]
        node: SocketAddr,
        /// Gateway process id, to read its RSS.
        #[arg(long)]
        pid: u32,
        /// Connections to open.
        #[arg(long, default_value_t = 1000)]
        conns: usize,
        /// Concurrent connection attempts.
        #[arg(long, default_value_t = 200)]
        parallel: usize,
        /// Connect to the Socket.IO peer instead of Marquee.
        #[arg(long)]
        socketio: bool,
    },
    /// Fan-out latency of one topic over several nodes.
    Fanout {
        /// Gateway addresses; subscribers are spread round-robin, the publisher uses the first.
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<SocketAddr>,
        /// Subscribers.
        #[arg(long, default_value_t = 1000)]
        subs: usize,
        /// Publications per second.
        #[arg(long, default_value_t = 50)]
        rate: u64,
        /// Seconds of publishing (after a 1 s warm-up that is not measured).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Drive the Socket.IO peer (loadtest/peers/socketio) instead of Marquee.
        #[arg(long)]
        socketio: bool,
        /// Generator processes for the subscribers (1: all in this process).
        #[arg(long, default_value_t = 1)]
        procs: usize,
    },
    /// Idle connections on several nodes from several generator processes.
    IdleCluster {
        /// Gateway addresses.
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<SocketAddr>,
        /// Gateway process ids, in the order of --nodes.
        #[arg(long, value_delimiter = ',')]
        pids: Vec<u32>,
        /// Connections per node (at most 19,000: a process may hold 20,000 files).
        #[arg(long, default_value_t = 1000)]
        per_node: usize,
        /// Generator processes (at least one per node).
        #[arg(long, default_value_t = 4)]
        procs: usize,
        /// Connect to the Socket.IO peer instead of Marquee.
        #[arg(long)]
        socketio: bool,
    },
    /// Worker of idle-cluster (started by it): holds idle connections until stdin closes.
    #[command(hide = true)]
    IdleWorker {
        #[arg(long)]
        node: SocketAddr,
        #[arg(long)]
        first: usize,
        #[arg(long)]
        conns: usize,
        #[arg(long)]
        socketio: bool,
    },
    /// Worker of fanout --procs (started by it): subscribers that report their latencies.
    #[command(hide = true)]
    FanoutWorker {
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<SocketAddr>,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        first: usize,
        #[arg(long)]
        subs: usize,
        #[arg(long)]
        socketio: bool,
    },
    /// Seat changes: delta latency to viewers, then hold throughput.
    Seats {
        /// Gateway addresses; viewers are spread round-robin, drivers use the first.
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<SocketAddr>,
        /// Viewers of the showtime.
        #[arg(long, default_value_t = 1000)]
        viewers: usize,
        /// Seat changes per second in the latency phase.
        #[arg(long, default_value_t = 20)]
        rate: u64,
        /// Concurrent holder connections in the throughput phase.
        #[arg(long, default_value_t = 32)]
        holders: usize,
        /// Seconds of each phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Throughput phase: hold free seats of all showtimes without releasing.
        #[arg(long)]
        fill: bool,
        /// Processes (`name=pid`, e.g. the nodes and redis-server) whose CPU time
        /// during the throughput phase is reported per hold, with this one's own.
        #[arg(long, value_delimiter = ',')]
        cpu_of: Vec<String>,
    },
    /// Chat pipeline overhead: chat frame in to first delta out.
    Chat {
        /// Gateway addresses; users are spread round-robin.
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<SocketAddr>,
        /// Users (one connection each).
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Chats per second in all.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Seconds of chatting (after a 1 s warm-up that is not measured).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// A model service that answers every question instantly (for `chat`).
    InstantModel {
        /// Address to serve gRPC on (loopback).
        #[arg(long)]
        addr: SocketAddr,
    },
}

/// mimalloc: the generator shares the CPU with what it measures, so it should take little.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let auth = Auth::new(&args.secret);
    let result = match args.scenario {
        Scenario::Idle { node, pid, conns, parallel, socketio } => {
            let proto = if socketio { Proto::SocketIo } else { Proto::Marquee };
            idle(&auth, args.sources, node, pid, conns, parallel, proto).await?
        }
        Scenario::Fanout { ref nodes, subs, rate, seconds, socketio, procs } => {
            let proto = if socketio { Proto::SocketIo } else { Proto::Marquee };
            fanout(&auth, &args.secret, args.sources, nodes, subs, rate, seconds, proto, procs).await?
        }
        Scenario::IdleCluster { ref nodes, ref pids, per_node, procs, socketio } => {
            let proto = if socketio { Proto::SocketIo } else { Proto::Marquee };
            cluster::idle_cluster(&args.secret, args.sources, nodes, pids, per_node, procs, proto).await?
        }
        Scenario::IdleWorker { node, first, conns, socketio } => {
            let proto = if socketio { Proto::SocketIo } else { Proto::Marquee };
            return cluster::idle_worker(&auth, args.sources, node, first, conns, proto).await;
        }
        Scenario::FanoutWorker { ref nodes, ref topic, first, subs, socketio } => {
            let proto = if socketio { Proto::SocketIo } else { Proto::Marquee };
            return cluster::fanout_worker(&auth, args.sources, nodes, topic, first, subs, proto).await;
        }
        Scenario::Seats { ref nodes, viewers, rate, holders, seconds, fill, ref cpu_of } => {
            let mut watched: Vec<(String, String)> = vec![("loadgen".into(), "self".into())];
            for w in cpu_of {
                let (name, pid) = w.split_once('=').context("--cpu-of takes name=pid")?;
                watched.push((name.to_owned(), pid.to_owned()));
            }
            seats(&auth, args.sources, nodes, viewers, rate, holders, seconds, fill, &watched).await?
        }
        Scenario::Chat { ref nodes, users, rate, seconds } => {
            chat::chat(&auth, args.sources, nodes, users, rate, seconds).await?
        }
        Scenario::InstantModel { addr } => {
            chat::instant_model(addr).await?;
            return Ok(());
        }
    };
    let out = serde_json::to_string_pretty(&result)?;
    std::io::Write::write_all(&mut std::io::stdout(), format!("{out}\n").as_bytes())?;
    // A run that lost anything is a failed run, whatever its speed.
    let failed = result["failed"].as_u64().unwrap_or(0);
    let lost = result["lost"].as_u64().unwrap_or(0) + result["offset_gaps_seen"].as_u64().unwrap_or(0);
    if failed > 0 || lost > 0 {
        bail!("{failed} connections failed, {lost} deliveries lost or out of order");
    }
    Ok(())
}

fn token(auth: &Auth, user: &str) -> anyhow::Result<String> {
    let claims = Claims { sub: user.to_owned(), name: user.to_owned(), exp: now_secs() + 3600, rooms: None };
    Ok(auth.sign(&claims)?)
}

/// Which server the fan-out scenario drives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// Marquee's protocol (docs/protocol.md).
    Marquee,
    /// Socket.IO v4 over a WebSocket (engine.io `0`/`40` handshake, `42[…]` events).
    SocketIo,
}

/// Connects to the Socket.IO peer and completes its handshake.
async fn connect_sio(node: SocketAddr, i: usize, sources: u8) -> anyhow::Result<Ws> {
    let mut ws = open(node, "/socket.io/?EIO=4&transport=websocket", i, sources).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.as_str().starts_with('0') => {}
        other => bail!("no engine.io open: {other:?}"),
    }
    ws.send(Message::text("40")).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().starts_with("40") => return Ok(ws),
            Some(Ok(_)) => continue,
            other => bail!("no socket.io connect: {other:?}"),
        }
    }
}

/// Opens a WebSocket to `path` from loopback source address `127.0.0.(2 + i % sources)`.
async fn open(node: SocketAddr, path: &str, i: usize, sources: u8) -> anyhow::Result<Ws> {
    if !node.ip().is_loopback() {
        bail!("refusing to load a non-loopback address: {node}");
    }
    let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % sources.max(1) as usize) as u8));
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(src, 0))?;
    socket.set_recv_buffer_size(16 * 1024)?;
    socket.set_send_buffer_size(16 * 1024)?;
    let stream = socket.connect(node).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{node}{path}"), MaybeTlsStream::Plain(stream)).await?;
    Ok(ws)
}

/// Connects from loopback source address `127.0.0.(2 + i % sources)`.
async fn connect(node: SocketAddr, token: &str, i: usize, sources: u8) -> anyhow::Result<Ws> {
    let mut ws = open(node, &format!("/ws?token={token}"), i, sources).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.as_str().contains("\"welcome\"") => Ok(ws),
        other => bail!("no welcome: {other:?}"),
    }
}

pub(crate) fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("read /proc status")?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    let kb: u64 = line.split_whitespace().nth(1).context("VmRSS value")?.parse()?;
    Ok(kb * 1024)
}

/// Opens `conns` idle connections to `node` (users `idle<first + k>`, source addresses
/// by index), at most `parallel` connecting at once. Returns the open ones.
async fn open_idle(
    auth: &Auth,
    sources: u8,
    node: SocketAddr,
    first: usize,
    conns: usize,
    parallel: usize,
    proto: Proto,
) -> anyhow::Result<Vec<Ws>> {
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = Vec::with_capacity(conns);
    for i in first..first + conns {
        let token = token(auth, &format!("idle{i}"))?;
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.ok()?;
            match proto {
                Proto::Marquee => connect(node, &token, i, sources).await.ok(),
                Proto::SocketIo => connect_sio(node, i, sources).await.ok(),
            }
        }));
    }
    let mut open = Vec::with_capacity(conns);
    for t in tasks {
        if let Ok(Some(ws)) = t.await {
            open.push(ws);
        }
    }
    Ok(open)
}

async fn idle(
    auth: &Auth,
    sources: u8,
    node: SocketAddr,
    pid: u32,
    conns: usize,
    parallel: usize,
    proto: Proto,
) -> anyhow::Result<Value> {
    let before = rss_bytes(pid)?;
    let started = Instant::now();
    let open = open_idle(auth, sources, node, 0, conns, parallel, proto).await?;
    let connect_secs = started.elapsed().as_secs_f64();
    // Let the server settle (allocator, lazily grown buffers) before reading RSS.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_bytes(pid)?;
    let n = open.len();
    let per_conn = after.saturating_sub(before) as f64 / n.max(1) as f64;
    drop(open);
    Ok(json!({
        "scenario": "idle",
        "server": server_name(proto),
        "connections": n,
        "failed": conns - n,
        "connect_seconds": connect_secs,
        "connects_per_second": n as f64 / connect_secs,
        "gateway_rss_before_bytes": before,
        "gateway_rss_after_bytes": after,
        "rss_per_connection_bytes": per_conn.round(),
    }))
}

fn server_name(proto: Proto) -> &'static str {
    match proto {
        Proto::Marquee => "marquee",
        Proto::SocketIo => "socket.io + redis-streams-adapter",
    }
}

/// A publish request in the given protocol.
fn publish_frame(proto: Proto, id: u64, topic: &str, data: Value) -> Message {
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

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Subscribers of one topic running in this process: one task per connection.
struct Subscribers {
    /// One per subscriber: fires once it is subscribed (dropped if it failed).
    ready: Vec<tokio::sync::oneshot::Receiver<()>>,
    /// One per subscriber: its offset gaps, when it saw the end marker.
    readers: Vec<tokio::task::JoinHandle<Option<u64>>>,
    /// Publish-to-receipt latency of the measured publications, µs.
    hist: Arc<Mutex<Histogram<u64>>>,
    /// Measured publications received.
    received: Arc<AtomicU64>,
    /// Subscribes retried after `unavailable`.
    retries: Arc<AtomicU64>,
}

impl Subscribers {
    /// Waits until every subscriber is subscribed or failed; returns how many subscribed.
    async fn wait_ready(&mut self) -> u64 {
        let mut connected = 0;
        for rx in self.ready.drain(..) {
            if rx.await.is_ok() {
                connected += 1;
            }
        }
        connected
    }

    /// Waits for the readers until `stop` resolves; returns (offset gaps, readers finished).
    async fn finish(&mut self, stop: impl std::future::Future<Output = ()>) -> (u64, u64) {
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

/// A new histogram for latencies in µs (1 µs to 60 s, 3 significant digits).
pub(crate) fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?)
}

/// Starts subscribers `first..first + count` of `topic`: subscriber `i` connects to
/// `nodes[i % nodes.len()]` from source address index `i`, at most 200 connecting at once.
fn spawn_subscribers(
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

/// How often a subscribe answered `unavailable` (the bus timed out) is retried.
const SUBSCRIBE_ATTEMPTS: u32 = 5;

/// Subscribes to `topic`, retrying as docs/protocol.md asks when the answer is
/// `unavailable` (each retry is counted in `retries`); any other error fails.
async fn subscribe_with_retry(ws: &mut Ws, topic: &str, retries: &AtomicU64) -> anyhow::Result<()> {
    for attempt in 1..=SUBSCRIBE_ATTEMPTS {
        let reply = call(ws, u64::from(attempt), json!({"type": "subscribe", "topic": topic})).await?;
        match reply["type"].as_str() {
            Some("subscribed") => return Ok(()),
            Some("error") if reply["code"] == "unavailable" && attempt < SUBSCRIBE_ATTEMPTS => {
                retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            _ => bail!("subscribe refused: {reply}"),
        }
    }
    bail!("subscribe: no answer")
}

/// Where the fan-out scenario's subscribers run.
enum SubscriberSide {
    /// In this process.
    Local(Subscribers),
    /// In generator processes (`fanout-worker`), started and collected by `cluster`.
    Workers(cluster::Workers),
}

#[allow(clippy::too_many_arguments)]
async fn fanout(
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

/// Sends a request and returns the reply with the same id (other frames are skipped).
async fn call(ws: &mut Ws, id: u64, mut req: Value) -> anyhow::Result<Value> {
    req["id"] = json!(id);
    ws.send(Message::text(req.to_string())).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["id"] == json!(id) {
                    return Ok(v);
                }
            }
            Some(Ok(_)) => continue,
            other => bail!("connection ended: {other:?}"),
        }
    }
}

/// The fields of a hold or release reply a holder needs (borrowed, so the
/// load generator spends little CPU of the machine it shares with the nodes).
#[derive(serde::Deserialize)]
struct Reply<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, borrow)]
    hold: Option<HoldId<'a>>,
}

#[derive(serde::Deserialize)]
struct HoldId<'a> {
    #[serde(borrow)]
    hold_id: &'a str,
}

/// Sends a prepared request text and returns (type, hold id) of the reply
/// with the same id; other frames are skipped.
async fn call_fast(ws: &mut Ws, id: u64, req: String) -> anyhow::Result<(bool, String)> {
    ws.send(Message::text(req)).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let r: Reply<'_> = serde_json::from_str(t.as_str())?;
                if r.id == Some(id) {
                    let held = matches!(r.kind, "held" | "released");
                    return Ok((held, r.hold.map(|h| h.hold_id.to_owned()).unwrap_or_default()));
                }
            }
            Some(Ok(_)) => continue,
            other => bail!("connection ended: {other:?}"),
        }
    }
}

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

#[allow(clippy::too_many_arguments)]
async fn seats(
    auth: &Auth,
    sources: u8,
    nodes: &[SocketAddr],
    viewers: usize,
    rate: u64,
    holders: usize,
    seconds: u64,
    fill: bool,
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

    // Phase 2: holders hold single seats as fast as answered, spread over the
    // nodes. Cycle: each on its own seats of this showtime, releasing each
    // hold. Fill: every free seat of every showtime once, no releases.
    let targets: Vec<(String, String)> = if fill {
        let mut all = Vec::new();
        for (i, st) in list["showtimes"].as_array().context("no showtimes")?.iter().enumerate() {
            let id = st["id"].as_str().context("showtime id")?.to_owned();
            let map = call(&mut driver, 100 + i as u64, json!({"type": "seat_map", "showtime": id})).await?;
            for s in map["map"]["seats"].as_array().context("seat map")?.iter().filter(|s| s["state"] == "free") {
                if let Some(seat) = s["seat"].as_str() {
                    all.push((id.clone(), seat.to_owned()));
                }
            }
        }
        all
    } else {
        free.iter().skip(1).map(|s| (showtime.clone(), s.clone())).collect()
    };
    let available = targets.len();
    let holds = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + Duration::from_secs(seconds);
    let mine: Vec<Vec<(String, String)>> =
        (0..holders).map(|h| targets.iter().skip(h).step_by(holders).cloned().collect()).collect();
    let mut workers = Vec::new();
    for (h, seats) in mine.into_iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        let (node, token, holds, refused) =
            (nodes[h % nodes.len()], token(auth, &format!("holder{h}"))?, holds.clone(), refused.clone());
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
                if !fill {
                    id += 1;
                    let req = format!(r#"{{"type":"release","id":{id},"showtime":"{showtime}","hold_id":"{hold_id}"}}"#);
                    call_fast(&mut ws, id, req).await.ok()?;
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
    let held = holds.load(Ordering::Relaxed).max(1) as f64;
    // CPU time per hold of each watched process during this phase (µs).
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
        "mode": if fill { "fill (holds only)" } else { "cycle (hold + release)" },
        "seats_available": available,
        "throughput_seconds": throughput_secs,
        "holds": holds.load(Ordering::Relaxed),
        "holds_per_second": holds.load(Ordering::Relaxed) as f64 / throughput_secs.max(0.001),
        "refused": refused.load(Ordering::Relaxed),
        "cpu_us_per_hold": cpu_per_hold,
    }))
}

/// `sysconf(_SC_CLK_TCK)` on Linux (fixed at 100 for user space).
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// User + system CPU time of process `pid` (or `self`) so far, in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) close with ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
