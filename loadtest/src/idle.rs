//! The `idle` scenario: many authenticated idle connections to one node,
//! then the node's resident memory per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::stats::rss_bytes;
use crate::{Auth, Proto, Ws, connect, connect_sio, server_name, token};

/// Opens `conns` idle connections to `node` (users `idle<first + k>`, source addresses
/// by index), at most `parallel` connecting at once. Returns the open ones.
pub(crate) async fn open_idle(
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

pub(crate) async fn idle(
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
