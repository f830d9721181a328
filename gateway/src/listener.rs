//! The accept loop under the HTTP surface: every TCP socket holds one of
//! `MAX_CONNECTIONS` permits for its whole life (through a WebSocket upgrade,
//! so the limit is exact and counts every socket), HTTP/1 with a header
//! timeout and an idle timeout, sockets over the limit answered by a small
//! refusal router or closed at once, and the drain: keep answering (503) for
//! the grace period, then stop accepting and close the HTTP connections.
//!
//! It knows sockets, permits and timers, not routes: both routers come from
//! `http`. Nothing here is per connection after a WebSocket upgrade except
//! the permit inside the socket.

use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::add_extension::AddExtension;

use crate::config::DEFAULT_MAX_CONNECTIONS;

/// File descriptors kept free of client connections: Redis (commands and
/// pub/sub), the model service's gRPC channel, the webhook client, the
/// listeners, files being served, the runtime's own (epoll, eventfds), the
/// [`REFUSAL_SLOTS`] and logs.
pub const FD_RESERVE: u64 = 256;

/// Sockets over the limit that are still answered (a WebSocket gets 4013,
/// HTTP 503, `/healthz` 200) for at most [`REFUSAL_TIMEOUT`]; beyond these a
/// socket is closed as soon as it is accepted.
pub const REFUSAL_SLOTS: usize = 64;

/// How long a socket over the limit may take to send its request.
pub const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// The largest request head (request line and headers) and the per-connection
/// HTTP buffer bound. Browsers send about 1 KiB; hyper's default (about 400
/// KiB) would let slow clients pin that much memory each.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// After an accept error that is not one client's (EMFILE: out of file
/// descriptors), wait this long before accepting again instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How many connections the open-file soft limit `soft` leaves for clients:
/// `soft - FD_RESERVE`, or half of `soft` when it is below twice the reserve;
/// at least one.
pub fn file_limit_allows(soft: u64) -> usize {
    let n = if soft >= 2 * FD_RESERVE { soft - FD_RESERVE } else { soft / 2 };
    usize::try_from(n).unwrap_or(usize::MAX).max(1)
}

/// The connection limit a node runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimit {
    /// Sockets served at once.
    pub max: usize,
    /// The configured `MAX_CONNECTIONS` when it was more than the file limit
    /// allows and was lowered to `max`.
    pub lowered_from: Option<usize>,
}

/// The limit for a configured `MAX_CONNECTIONS` (`None`: the default) under
/// the open-file soft limit `nofile` (`None`: unlimited or unknown). The
/// default is [`DEFAULT_MAX_CONNECTIONS`] or what the file limit allows,
/// whichever is smaller; a configured value above what it allows is lowered
/// (a process that runs out of descriptors cannot even answer `/healthz`).
pub fn connection_limit(configured: Option<usize>, nofile: Option<u64>) -> ConnectionLimit {
    let allowed = nofile.map(file_limit_allows).unwrap_or(usize::MAX);
    match configured {
        Some(n) if n > allowed => ConnectionLimit { max: allowed, lowered_from: Some(n) },
        Some(n) => ConnectionLimit { max: n, lowered_from: None },
        None => ConnectionLimit { max: DEFAULT_MAX_CONNECTIONS.min(allowed), lowered_from: None },
    }
}

/// This process's open-file soft limit (`ulimit -n`); `None` when unlimited
/// or unknown.
pub fn nofile_soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// How the listener serves.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Sockets served at once (see [`connection_limit`]).
    pub max_connections: usize,
    /// A request's head must arrive within this (hyper also starts it when a
    /// kept-alive connection waits for its next request).
    pub header_timeout: Duration,
    /// An HTTP connection that moves no byte for this long is asked to close
    /// (an idle one closes at once, a request in progress may finish); after
    /// as long again it is dropped.
    pub idle_timeout: Duration,
    /// How long the node keeps answering after `shutdown` (503 for readiness
    /// and upgrades) before it stops accepting.
    pub drain_grace: Duration,
}

/// The routers a socket is served with.
pub struct Routers {
    /// Every route, for sockets within the limit.
    pub app: Router,
    /// The answers for sockets over the limit (4013, 503, `/healthz`).
    pub full: Router,
}

/// Accepts and serves connections until `shutdown` plus the drain grace,
/// then stops accepting and asks every HTTP connection to close; those
/// connections stay on `tracker` until they have. `stop` drops whatever is
/// still open (the caller's deadline).
pub async fn serve(
    listener: TcpListener,
    routers: Routers,
    settings: Settings,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSAL_SLOTS));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(settings.header_timeout).max_buf_size(MAX_HEAD_BYTES);
    // Not `keep_alive(false)`: hyper would then answer an upgrade with
    // `Connection: close`, and the client would never see its 4013. The
    // refusal router closes after each answer instead.
    let mut refuse = http.clone();
    refuse.header_read_timeout(REFUSAL_TIMEOUT);
    let close = CancellationToken::new();
    let mut drained = pin!(async {
        shutdown.cancelled().await;
        tracing::info!(
            grace_ms = settings.drain_grace.as_millis() as u64,
            "draining: answering 503 until the grace ends"
        );
        tokio::time::sleep(settings.drain_grace).await;
    });
    loop {
        let (tcp, peer) = tokio::select! {
            biased;
            () = &mut drained => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // Small frames must not wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let (permit, router, builder, idle) = match permits.clone().try_acquire_owned() {
            Ok(p) => (p, &routers.app, &http, settings.idle_timeout),
            Err(_) => match refusals.clone().try_acquire_owned() {
                Ok(p) => (p, &routers.full, &refuse, REFUSAL_TIMEOUT),
                Err(_) => {
                    tracing::debug!(%peer, "over the connection limit and the refusal slots: closed");
                    continue;
                }
            },
        };
        let activity = Arc::new(AtomicU64::new(0));
        let socket = Socket { tcp, activity: Some(activity.clone()), _permit: permit };
        let service = TowerToHyperService::new(AddExtension::new(router.clone(), ConnectInfo(peer)));
        let conn = builder.serve_connection(TokioIo::new(socket), service).with_upgrades();
        tracker.spawn(watch(conn, activity, idle, close.clone(), stop.clone()));
    }
    drop(listener);
    close.cancel();
}

/// An accept error: one client's (reset before accept) is skipped; any other
/// (out of file descriptors) is logged and waited out.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::warn!(error = %e, "accept failed; retrying shortly");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

type Connection =
    http1::UpgradeableConnection<TokioIo<Socket>, TowerToHyperService<AddExtension<Router, ConnectInfo<SocketAddr>>>>;

/// Drives one HTTP connection until it ends or upgrades, closing it when
/// `close` fires or it stays silent (see [`Settings::idle_timeout`]).
async fn watch(
    conn: Connection,
    activity: Arc<AtomicU64>,
    idle: Duration,
    close: CancellationToken,
    stop: CancellationToken,
) {
    let mut conn = pin!(conn);
    // Two quiet ticks in a row: silent for at least `idle` (at most 1.5 x).
    let period = (idle / 2).max(Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = activity.load(Ordering::Relaxed);
    let mut quiet = 0u8;
    let mut closing = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "http connection ended");
                }
                return;
            }
            () = close.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = stop.cancelled() => return,
            _ = tick.tick() => {
                let now = activity.load(Ordering::Relaxed);
                if now != seen {
                    seen = now;
                    quiet = 0;
                    continue;
                }
                quiet += 1;
                if quiet == 2 && !closing {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                } else if quiet >= 4 {
                    tracing::debug!("http connection silent too long: dropped");
                    return;
                }
            }
        }
    }
}

/// A client socket: holds its connection permit until it is dropped (after
/// a WebSocket upgrade, when the session ends) and counts reads and writes
/// for the idle timeout while [`watch`] still looks.
struct Socket {
    tcp: TcpStream,
    /// Shared with [`watch`]; let go on the first I/O after `watch` has
    /// (an upgraded session needs no idle count).
    activity: Option<Arc<AtomicU64>>,
    _permit: OwnedSemaphorePermit,
}

impl Socket {
    fn touch(&mut self) {
        if let Some(a) = &self.activity {
            if Arc::strong_count(a) == 1 {
                self.activity = None;
            } else {
                a.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.touch();
        }
        polled
    }
}

impl AsyncWrite for Socket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limit_follows_the_file_limit_and_a_larger_setting_is_lowered() {
        // 20,000 open files (the load-test shell's `ulimit -n`): 19,744, not 50,000.
        assert_eq!(connection_limit(None, Some(20_000)), ConnectionLimit { max: 19_744, lowered_from: None });
        // A large file limit: the default stays 50,000.
        assert_eq!(connection_limit(None, Some(1 << 20)).max, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(connection_limit(None, None).max, DEFAULT_MAX_CONNECTIONS);
        // A small limit keeps half for everything else.
        assert_eq!(connection_limit(None, Some(256)).max, 128);
        assert_eq!(connection_limit(None, Some(0)).max, 1);
        // An explicit setting within the limit is kept, above it lowered.
        assert_eq!(connection_limit(Some(5), Some(20_000)), ConnectionLimit { max: 5, lowered_from: None });
        assert_eq!(
            connection_limit(Some(100_000), Some(20_000)),
            ConnectionLimit { max: 19_744, lowered_from: Some(100_000) }
        );
        assert_eq!(connection_limit(Some(100_000), None).max, 100_000);
    }

    #[test]
    fn this_process_has_a_file_limit() {
        // Linux always reports one; the tests run under `ulimit -n`.
        #[cfg(target_os = "linux")]
        assert!(nofile_soft_limit().is_some_and(|n| n > 0));
    }
}
