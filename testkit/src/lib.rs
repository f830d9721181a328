//! Test support shared by every crate's integration tests.
//!
//! It starts real servers (`redis-server`, PostgreSQL, an aiosmtpd SMTP
//! server) on free loopback ports and offers an `eventually` helper so tests
//! poll for a condition instead of sleeping for a fixed time. It must never be a dependency of production code.

#![allow(clippy::unwrap_used)]

mod postgres;
mod smtp;
pub mod toss;

pub use crate::postgres::PostgresServer;
pub use crate::smtp::{Received, SmtpServer};
pub use crate::toss::TossServer;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process listening on a free loopback port.
///
/// It keeps nothing on disk and is killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a fresh `redis-server` on a free port of 127.0.0.1 and waits until
    /// it accepts connections.
    ///
    /// Tests run in parallel processes, so a port found free may be taken by
    /// another test's server before ours binds it; the server is therefore
    /// identified by its process id (`INFO server`) and started again on
    /// another port when the one answering is not ours.
    ///
    /// # Panics
    /// Panics when `redis-server` is not installed (run `scripts/test`, which
    /// installs it) or does not come up within ten seconds.
    pub fn start() -> Self {
        for _ in 0..20 {
            if let Some(server) = Self::try_start(free_port()) {
                return server;
            }
        }
        panic!("could not start redis-server on a free port");
    }

    /// Starts `redis-server` on the given loopback port (used to restart a
    /// server on the port it had, to test reconnection).
    ///
    /// # Panics
    /// Panics when the server does not come up on that port.
    pub fn start_on(port: u16) -> Self {
        Self::try_start(port).unwrap_or_else(|| panic!("redis-server did not start on port {port}"))
    }

    fn try_start(port: u16) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("marquee-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (run scripts/test to install it): {e}"));
        let pid = child.id();
        let mut server = RedisServer { child: Some(child), port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(Ok(Some(_))) = server.child.as_mut().map(Child::try_wait) {
                return None; // exited: the port was taken
            }
            match server_pid(server.addr()) {
                Some(p) if p == pid => return Some(server),
                Some(_) => return None, // someone else's server answers on this port
                None if Instant::now() > deadline => return None,
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's socket address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A directory beside this server that outlives its restarts on the same
    /// port ([`RedisServer::start_on`]) and is removed with it: for state that
    /// belongs with this Redis, such as the shared ledger file of the gateway
    /// nodes of a cluster test. Created on first use.
    pub fn scratch_dir(&self) -> PathBuf {
        let dir = self.dir.join("scratch");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A `redis://` URL for the server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server process without closing its sockets (`SIGSTOP`):
    /// connections stay up and commands get no answer, as when Redis stalls.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let Some(child) = &self.child else { panic!("redis-server is not running") };
        let status = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill {sig} redis-server failed");
    }

    /// Kills the server process (simulates Redis going away). The port can be
    /// reused with [`RedisServer::start_on`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A paused process dies on SIGKILL too, but resume it first so
            // nothing is left stopped if the kill fails.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Asks the Redis server at `addr` for its process id.
fn server_pid(addr: SocketAddr) -> Option<u32> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&buf).contains("process_id:") || !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if String::from_utf8_lossy(&buf).contains("\r\nprocess_id:") && buf.len() > 64 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().find(|l| l.starts_with("process_id:"))?;
    line.trim_start_matches("process_id:").trim().parse().ok()
}

/// Returns a currently free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` every 10 ms until it returns `Some`, or panics with `what`
/// after `timeout`. Use it instead of fixed sleeps.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
