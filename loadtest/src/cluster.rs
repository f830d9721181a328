//! Load generation over several processes: one process may hold at most 20,000 open
//! files here, so tens of thousands of connections need several generators. The
//! parent starts copies of this binary as workers (`idle-worker`, `fanout-worker`),
//! talks to each over its stdin/stdout (one JSON line per step), and aggregates.
//!
//! A worker runs until its stdin closes, so a parent that dies takes its workers
//! with it; the parent also kills them when dropped. Nothing here measures: the
//! scenarios do, in the workers, and the parent only adds the figures up.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::{Proto, latency_histogram, rss_bytes};

/// How long the parent waits for a worker's next line before giving up on it.
const WORKER_STEP_TIMEOUT: Duration = Duration::from_secs(300);

/// One running worker process.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    /// Starts this binary with `args` as a worker.
    fn spawn(secret: &str, sources: u8, args: &[String]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("own executable")?;
        let mut child = Command::new(exe)
            .env("JWT_SECRET", secret)
            .arg("--sources")
            .arg(sources.to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("start a load-generator worker")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("worker stdout")?;
        Ok(Self { child, stdin, lines: BufReader::new(stdout).lines() })
    }

    /// The worker's next JSON line, waiting at most until `deadline`.
    async fn next(&mut self, deadline: tokio::time::Instant) -> anyhow::Result<Option<Value>> {
        match tokio::time::timeout_at(deadline, self.lines.next_line()).await {
            Ok(line) => match line.context("read a worker's output")? {
                Some(l) => Ok(Some(serde_json::from_str(&l).context("a worker's line is not JSON")?)),
                None => bail!("a worker exited early"),
            },
            Err(_) => Ok(None),
        }
    }

    /// Closes the worker's stdin: it reports what it has and exits.
    fn stop(&mut self) {
        self.stdin.take();
    }

    /// The worker's resident memory.
    fn rss(&self) -> u64 {
        self.child.id().and_then(|pid| rss_bytes(pid).ok()).unwrap_or(0)
    }

    async fn wait(mut self) {
        self.stop();
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// Writes one JSON line to stdout (a worker's report to its parent).
fn emit(v: &Value) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    out.flush()?;
    Ok(())
}

/// Resolves when this process's stdin closes (the parent stopped or died).
async fn stdin_closed() {
    // A blocking read on its own thread: tokio's stdin needs a feature the rest of
    // the workspace does not build with.
    let _ = tokio::task::spawn_blocking(|| {
        use std::io::Read;
        let mut buf = [0u8; 64];
        while let Ok(n) = std::io::stdin().read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Splits `total` into `parts` shares that differ by at most one.
fn share(total: usize, parts: usize, k: usize) -> usize {
    total / parts + usize::from(k < total % parts)
}

/// `idle-worker`: opens its idle connections, reports, holds them until stdin closes.
pub(crate) async fn idle_worker(
    auth: &auth::Auth,
    sources: u8,
    node: SocketAddr,
    first: usize,
    conns: usize,
    proto: Proto,
) -> anyhow::Result<()> {
    let open = crate::open_idle(auth, sources, node, first, conns, 200, proto).await?;
    emit(&json!({"connected": open.len(), "failed": conns - open.len()}))?;
    stdin_closed().await;
    drop(open);
    Ok(())
}

/// `idle-cluster`: `per_node` idle connections on each node, opened by `procs`
/// workers (each serving one node), and each node's RSS per connection.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn idle_cluster(
    secret: &str,
    sources: u8,
    nodes: &[SocketAddr],
    pids: &[u32],
    per_node: usize,
    procs: usize,
    proto: Proto,
) -> anyhow::Result<Value> {
    if nodes.is_empty() || nodes.len() != pids.len() {
        bail!("give one --pids entry per --nodes entry");
    }
    let procs = procs.max(nodes.len());
    let before = pids.iter().map(|&p| rss_bytes(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    let mut workers = Vec::new();
    let mut first = 0;
    for (j, node) in nodes.iter().enumerate() {
        let mine = (0..procs).filter(|w| w % nodes.len() == j).count();
        for k in 0..mine {
            let conns = share(per_node, mine, k);
            let mut args = vec![
                "idle-worker".to_owned(),
                format!("--node={node}"),
                format!("--first={first}"),
                format!("--conns={conns}"),
            ];
            if proto == Proto::SocketIo {
                args.push("--socketio".to_owned());
            }
            workers.push((j, conns, Worker::spawn(secret, sources, &args)?));
            first += conns;
        }
    }
    let mut connected = vec![0u64; nodes.len()];
    let mut failed = 0u64;
    let deadline = tokio::time::Instant::now() + WORKER_STEP_TIMEOUT;
    for (j, conns, w) in &mut workers {
        match w.next(deadline).await? {
            Some(v) => {
                connected[*j] += v["connected"].as_u64().unwrap_or(0);
                failed += v["failed"].as_u64().unwrap_or(0);
            }
            None => failed += *conns as u64,
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    // Let the servers settle (allocator, lazily grown buffers) before reading RSS.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = pids.iter().map(|&p| rss_bytes(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let loadgen_rss: u64 = workers.iter().map(|(_, _, w)| w.rss()).sum();
    for (_, _, w) in workers {
        w.wait().await;
    }
    let total: u64 = connected.iter().sum();
    let per_node_results: Vec<Value> = (0..nodes.len())
        .map(|j| {
            json!({
                "node": nodes[j].to_string(),
                "connections": connected[j],
                "gateway_rss_before_bytes": before[j],
                "gateway_rss_after_bytes": after[j],
                "rss_per_connection_bytes":
                    (after[j].saturating_sub(before[j]) as f64 / connected[j].max(1) as f64).round(),
            })
        })
        .collect();
    Ok(json!({
        "scenario": "idle-cluster",
        "server": crate::server_name(proto),
        "generator_processes": procs,
        "source_addresses": sources,
        "connections": total,
        "failed": failed,
        "connect_seconds": connect_secs,
        "connects_per_second": total as f64 / connect_secs,
        "nodes": per_node_results,
        "loadgen_rss_per_connection_bytes": (loadgen_rss as f64 / total.max(1) as f64).round(),
    }))
}

/// `fanout-worker`: subscribers `first..first + subs` of `topic`; reports
/// `{"ready": n}` once subscribed, then, at the end marker or when stdin closes,
/// `{"received", "gaps", "finished", "hist": [[µs, count], …]}`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn fanout_worker(
    auth: &auth::Auth,
    sources: u8,
    nodes: &[SocketAddr],
    topic: &str,
    first: usize,
    subs: usize,
    proto: Proto,
) -> anyhow::Result<()> {
    let mut s = crate::spawn_subscribers(auth, sources, nodes, topic, first, subs, proto)?;
    let connected = s.wait_ready().await;
    emit(&json!({"ready": connected}))?;
    let (gaps, finished) = s.finish(stdin_closed()).await;
    let h = s.hist.lock().await;
    let buckets: Vec<[u64; 2]> = h.iter_recorded().map(|v| [v.value_iterated_to(), v.count_at_value()]).collect();
    emit(&json!({
        "received": s.received.load(std::sync::atomic::Ordering::Relaxed),
        "gaps": gaps,
        "finished": finished,
        "retries": s.retries.load(std::sync::atomic::Ordering::Relaxed),
        "hist": buckets,
    }))
}

/// What the fan-out workers measured, added up.
pub(crate) struct Totals {
    pub(crate) received: u64,
    pub(crate) gaps: u64,
    pub(crate) finished: u64,
    pub(crate) retries: u64,
    pub(crate) hist: Histogram<u64>,
}

/// The fan-out scenario's subscriber processes.
pub(crate) struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    /// Starts `procs` workers sharing `subs` subscribers of `topic`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fanout(
        secret: &str,
        sources: u8,
        nodes: &[SocketAddr],
        topic: &str,
        subs: usize,
        procs: usize,
        proto: Proto,
    ) -> anyhow::Result<Self> {
        let nodes_arg = nodes.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let mut workers = Vec::new();
        let mut first = 0;
        for k in 0..procs {
            let n = share(subs, procs, k);
            let mut args = vec![
                "fanout-worker".to_owned(),
                format!("--nodes={nodes_arg}"),
                format!("--topic={topic}"),
                format!("--first={first}"),
                format!("--subs={n}"),
            ];
            if proto == Proto::SocketIo {
                args.push("--socketio".to_owned());
            }
            workers.push(Worker::spawn(secret, sources, &args)?);
            first += n;
        }
        Ok(Self { workers })
    }

    /// Waits until every worker's subscribers are subscribed; returns how many are.
    pub(crate) async fn wait_ready(&mut self) -> anyhow::Result<u64> {
        let deadline = tokio::time::Instant::now() + WORKER_STEP_TIMEOUT;
        let mut ready = 0;
        for w in &mut self.workers {
            let v = w.next(deadline).await?.context("a worker did not get ready in time")?;
            ready += v["ready"].as_u64().unwrap_or(0);
        }
        Ok(ready)
    }

    /// Collects every worker's report; at `deadline` the late ones are told to stop
    /// and report what they have.
    pub(crate) async fn finish(&mut self, deadline: tokio::time::Instant) -> anyhow::Result<Totals> {
        let mut t = Totals { received: 0, gaps: 0, finished: 0, retries: 0, hist: latency_histogram()? };
        for w in &mut self.workers {
            let v = match w.next(deadline).await? {
                Some(v) => v,
                None => {
                    w.stop();
                    let late = tokio::time::Instant::now() + Duration::from_secs(10);
                    w.next(late).await?.context("a worker did not report")?
                }
            };
            t.received += v["received"].as_u64().unwrap_or(0);
            t.gaps += v["gaps"].as_u64().unwrap_or(0);
            t.finished += v["finished"].as_u64().unwrap_or(0);
            t.retries += v["retries"].as_u64().unwrap_or(0);
            for b in v["hist"].as_array().map(Vec::as_slice).unwrap_or_default() {
                if let (Some(value), Some(count)) = (b[0].as_u64(), b[1].as_u64()) {
                    t.hist.record_n(value, count)?;
                }
            }
        }
        for w in self.workers.drain(..) {
            w.wait().await;
        }
        Ok(t)
    }
}
