//! Test support for the gateway: real nodes on free loopback ports (sharing a
//! real redis-server for cluster tests) and a WebSocket client that speaks
//! the protocol.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway::Config;
use gateway::auth::{Auth, Claims, now_secs};
use serde_json::{Value, json};
use testkit::RedisServer;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "test-secret-0123456789abcdef01234567";
/// The admin secret of the gateways that accept admin requests (at least 32 bytes).
pub const ADMIN_TOKEN: &str = "admin-secret-0123456789abcdef0123456";
/// How long a test waits for one expected frame.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running gateway node.
pub struct Node {
    pub addr: SocketAddr,
    pub stop: CancellationToken,
    pub task: JoinHandle<Result<(), gateway::RunError>>,
    /// The ledger directory of a node without Redis (removed on drop); nodes
    /// of a cluster share one beside their Redis ([`RedisServer::scratch_dir`]).
    _data: Option<tempfile::TempDir>,
}

impl Node {
    pub async fn start(redis: Option<&RedisServer>, id: &str, tweak: impl FnOnce(&mut Config)) -> Node {
        let (config, data) = Node::config(redis, id, tweak);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(gateway::run(listener, config, stop.clone()));
        Node { addr, stop, task, _data: data }
    }

    /// A node with an admin listener (`ADMIN_ADDR`) on a free port; returns
    /// the node and that address.
    pub async fn start_with_admin(
        redis: Option<&RedisServer>,
        id: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> (Node, SocketAddr) {
        let (config, data) = Node::config(redis, id, tweak);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (addr, admin_addr) = (listener.local_addr().unwrap(), admin.local_addr().unwrap());
        let stop = CancellationToken::new();
        let task = tokio::spawn(gateway::run_with_admin(listener, admin, config, stop.clone()));
        (Node { addr, stop, task, _data: data }, admin_addr)
    }

    fn config(
        redis: Option<&RedisServer>,
        id: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> (Config, Option<tempfile::TempDir>) {
        let mut config = Config::for_tests();
        config.redis_url = redis.map(RedisServer::url);
        let own = match redis {
            Some(redis) => {
                config.data_dir = redis.scratch_dir().join("ledger");
                None
            }
            None => {
                let dir = tempfile::tempdir().unwrap();
                config.data_dir = dir.path().to_owned();
                Some(dir)
            }
        };
        config.node_id = Some(id.to_owned());
        config.jwt_secret = SECRET.to_owned();
        config.drain_grace_ms = 300;
        // As in the `marquee` binary: without MODEL_SVC_URL, dispatchers answer
        // with the real model service in process.
        config.in_process_model = Some(in_process_model());
        tweak(&mut config);
        (config, own)
    }

    pub fn url(&self, token: &str) -> String {
        format!("ws://{}/ws?token={token}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A minimal HTTP/1.1 GET, enough for health and metrics endpoints.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).await
}

pub async fn http(addr: SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A JSON REST call: `method path` with an optional bearer token and body;
/// returns the status and the parsed body (`Null` when empty or not JSON).
pub async fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let auth = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, text) = http(addr, &request).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn token(user: &str) -> String {
    token_with(user, None)
}

pub fn token_with(user: &str, rooms: Option<Vec<&str>>) -> String {
    let claims = Claims {
        sub: user.to_owned(),
        name: format!("name-{user}"),
        exp: now_secs() + 3600,
        rooms: rooms.map(|r| r.into_iter().map(String::from).collect()),
    };
    Auth::new(SECRET).sign(&claims).unwrap()
}

/// A protocol client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    pub welcome: Value,
}

/// How a connection ended.
#[derive(Debug, PartialEq)]
pub enum Closed {
    Code(u16, String),
    NoFrame,
}

impl Client {
    pub async fn connect(node: &Node, user: &str) -> Client {
        Client::connect_url(&node.url(&token(user))).await
    }

    /// Connects with a tiny socket receive buffer, to play a client that
    /// stops reading (the kernel would otherwise absorb megabytes).
    pub async fn connect_stalling(node: &Node, user: &str) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(node.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (ws, _) =
            tokio_tungstenite::client_async(node.url(&token(user)), MaybeTlsStream::Plain(stream)).await.unwrap();
        let mut c = Client { ws, next_id: 1, welcome: Value::Null };
        c.welcome = c.recv().await;
        c
    }

    pub async fn connect_url(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await.unwrap();
        let mut c = Client { ws, next_id: 1, welcome: Value::Null };
        let w = c.recv().await;
        assert_eq!(w["type"], "welcome", "first frame is welcome: {w}");
        c.welcome = w;
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.unwrap();
    }

    /// Sends a request with a fresh id and returns the reply to that id
    /// (other frames that arrive first are kept in `skipped`).
    pub async fn request(&mut self, mut v: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        v["id"] = json!(id);
        self.send(v).await;
        self.recv_where(|f| f["id"] == json!(id) && f["type"] != "pub").await
    }

    pub async fn subscribe(&mut self, topic: &str) -> Value {
        let r = self.request(json!({"type": "subscribe", "topic": topic})).await;
        assert_eq!(r["type"], "subscribed", "{r}");
        r
    }

    pub async fn publish(&mut self, topic: &str, data: Value) -> Value {
        self.request(json!({"type": "publish", "topic": topic, "data": data})).await
    }

    /// Next text frame, skipping server pings.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next()).await.expect("frame in time");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] == "ping" {
                        continue;
                    }
                    return v;
                }
                Some(Ok(Message::Close(f))) => panic!("closed unexpectedly: {f:?}"),
                Some(Ok(_)) => continue,
                other => panic!("connection ended: {other:?}"),
            }
        }
    }

    /// Next text frame (skipping pings) within `wait`, or `None` on timeout.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] != "ping" {
                        return Some(v);
                    }
                }
                Some(Ok(Message::Close(f))) => panic!("closed unexpectedly: {f:?}"),
                Some(Ok(_)) => continue,
                other => panic!("connection ended: {other:?}"),
            }
        }
    }

    pub async fn recv_where(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.recv().await;
            if pred(&v) {
                return v;
            }
        }
    }

    /// Next `pub` frame of `topic`.
    pub async fn next_pub(&mut self, topic: &str) -> Value {
        self.recv_where(|v| v["type"] == "pub" && v["topic"] == topic).await
    }

    /// Reads until the server closes; returns the close code.
    pub async fn closed(&mut self) -> Closed {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("close in time") {
                Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                    return Closed::Code(code.into(), reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Closed::NoFrame,
                Some(Ok(_)) => continue,
            }
        }
    }
}

impl Client {
    /// Like [`Client::recv_where`], waiting up to `wait` in all.
    pub async fn recv_where_within(&mut self, wait: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self.recv_within(left).await.unwrap_or_else(|| panic!("no matching frame within {wait:?}"));
            if pred(&v) {
                return v;
            }
        }
    }
}

/// model-svc with its built-in catalog, started in process by dispatchers
/// without MODEL_SVC_URL (the `marquee` binary's wiring).
pub fn in_process_model() -> gateway::chat::model::InProcessModel {
    gateway::chat::model::InProcessModel::new(|listener, shutdown| {
        use clap::Parser as _;
        let addr = listener.local_addr()?.to_string();
        let config = model_svc::Config::try_parse_from(["model-svc", "--addr", &addr])?;
        Ok(Box::pin(async move { Ok(model_svc::run(listener, config, shutdown.cancelled_owned()).await?) }))
    })
}

/// A model service (the real gRPC server) on a free loopback port.
pub struct ModelSvc {
    pub url: String,
    pub stop: CancellationToken,
}

impl ModelSvc {
    /// Starts model-svc with its built-in catalog; `delta_ms` paces the streamed text.
    pub async fn start(delta_ms: u64) -> ModelSvc {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        ModelSvc::start_on(listener, delta_ms).await
    }

    pub async fn start_on(listener: tokio::net::TcpListener, delta_ms: u64) -> ModelSvc {
        ModelSvc::start_with(listener, delta_ms, &[]).await
    }

    /// Starts model-svc with extra command-line arguments.
    pub async fn start_with(listener: tokio::net::TcpListener, delta_ms: u64, extra: &[&str]) -> ModelSvc {
        use clap::Parser as _;
        let addr = listener.local_addr().unwrap();
        let mut args = vec![
            "model-svc".to_owned(),
            "--addr".to_owned(),
            addr.to_string(),
            "--delta-interval-ms".to_owned(),
            delta_ms.to_string(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let config = model_svc::Config::try_parse_from(args).unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(model_svc::run(listener, config, stop.clone().cancelled_owned()));
        ModelSvc { url: format!("http://{addr}"), stop }
    }
}

impl Drop for ModelSvc {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Runs `redis-cli` against the test's Redis (to stage state an older
/// version or a fault could have left, or to read what a test checks).
pub fn redis_cli(redis: &RedisServer, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string()])
        .args(args)
        .output()
        .expect("redis-cli is installed with redis-server");
    assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Where the nodes of a test keep their ledger (bookings, archived history).
pub(crate) enum Db {
    /// The embedded default: one SQLite file beside the test's Redis.
    Sqlite,
    /// Cluster mode: `DATABASE_URL` of a PostgreSQL started for the test.
    Postgres(testkit::PostgresServer),
}

impl Db {
    /// The nodes' `DATABASE_URL` (`None`: the SQLite default).
    pub(crate) fn url(&self) -> Option<String> {
        match self {
            Db::Sqlite => None,
            Db::Postgres(pg) => Some(pg.url()),
        }
    }
}
