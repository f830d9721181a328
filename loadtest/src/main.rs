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
//! - `rolling`: clients subscribed with recovery to a few rooms, a publisher and
//!   holders booking, while `loadtest/run rolling` restarts the nodes one after
//!   another; reports silent gaps, duplicates, refetches and failed bookings.
//!
//! Every run is bounded in time and count and targets 127.0.0.0/8 only.
//!
//! Code map: this file reads the command line, prints the result and holds
//! what every scenario shares (tokens, opening connections, the latency
//! histogram); each scenario has its module (`idle`, `fanout`, `seats`,
//! `chat`, and `cluster` for the multi-process runs); `request` makes
//! requests and waits for their replies; `stats` reads memory and CPU time.

mod cluster;
mod fanout;
mod idle;
mod request;
mod rolling;
mod seats;
mod stats;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};
use auth::{Auth, Claims, now_secs};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

// Shared by the scenario modules, which (like `chat` and `cluster`) take them from the crate root.
use fanout::{server_name, spawn_subscribers};
use idle::open_idle;
use stats::rss_bytes;

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
        /// Throughput phase: book (hold two seats, then confirm: every booking
        /// is committed to the bookings database) free seats of all showtimes.
        #[arg(long, conflicts_with = "fill")]
        book: bool,
        /// Processes (`name=pid`, e.g. the nodes and redis-server) whose CPU time
        /// during the throughput phase is reported per hold, with this one's own.
        #[arg(long, value_delimiter = ',')]
        cpu_of: Vec<String>,
    },
    /// Rolling restart: subscribers with recovery, a publisher and holders
    /// keep going while the nodes are restarted (by `loadtest/run rolling`).
    Rolling {
        /// Gateway addresses (clients move to the next one when theirs goes away).
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<SocketAddr>,
        /// Subscribers, spread over the topics and nodes.
        #[arg(long, default_value_t = 2000)]
        clients: usize,
        /// Rooms they subscribe to.
        #[arg(long, default_value_t = 20)]
        topics: usize,
        /// Publications per second, over all the rooms.
        #[arg(long, default_value_t = 100)]
        rate: u64,
        /// Connections booking (hold two seats, confirm) meanwhile.
        #[arg(long, default_value_t = 8)]
        holders: usize,
        /// Seconds of publishing (the restarts happen within them).
        #[arg(long, default_value_t = 30)]
        seconds: u64,
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
            idle::idle(&auth, args.sources, node, pid, conns, parallel, proto).await?
        }
        Scenario::Fanout { ref nodes, subs, rate, seconds, socketio, procs } => {
            let proto = if socketio { Proto::SocketIo } else { Proto::Marquee };
            fanout::fanout(&auth, &args.secret, args.sources, nodes, subs, rate, seconds, proto, procs).await?
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
        Scenario::Seats { ref nodes, viewers, rate, holders, seconds, fill, book, ref cpu_of } => {
            let mode = match (fill, book) {
                (_, true) => seats::Mode::Book,
                (true, false) => seats::Mode::Fill,
                (false, false) => seats::Mode::Cycle,
            };
            let mut watched: Vec<(String, String)> = vec![("loadgen".into(), "self".into())];
            for w in cpu_of {
                let (name, pid) = w.split_once('=').context("--cpu-of takes name=pid")?;
                watched.push((name.to_owned(), pid.to_owned()));
            }
            seats::seats(&auth, args.sources, nodes, viewers, rate, holders, seconds, mode, &watched).await?
        }
        Scenario::Rolling { ref nodes, clients, topics, rate, holders, seconds } => {
            let r = rolling::rolling(&auth, args.sources, nodes, clients, topics, rate, holders, seconds).await?;
            if r["duplicates"].as_u64().unwrap_or(0) > 0 {
                let out = serde_json::to_string_pretty(&r)?;
                std::io::Write::write_all(&mut std::io::stdout(), format!("{out}\n").as_bytes())?;
                bail!("duplicated deliveries");
            }
            r
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

/// A new histogram for latencies in µs (1 µs to 60 s, 3 significant digits).
pub(crate) fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?)
}
