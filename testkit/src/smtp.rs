//! A real SMTP server for tests: Python's aiosmtpd running `py/smtp_server.py`
//! on a loopback port, writing every accepted message to a temporary
//! directory. A recipient whose local part starts with `bounce` is refused
//! with 550 (permanent), one starting with `busy` with 451 (transient).
//!
//! The interpreter is `AIOSMTPD_PYTHON` (exported by `scripts/lib.sh`'s
//! `ensure_aiosmtpd`), else the venv `ensure_aiosmtpd` installs into
//! (`~/.cache/marquee/aiosmtpd-venv`), else `python3`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The server script, beside this crate's sources.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/py/smtp_server.py");

/// An aiosmtpd child process on a loopback port; killed and its directory
/// removed when dropped.
pub struct SmtpServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

/// One message the server accepted, decoded by Python's `email` package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`) the server accepted.
    pub rcpt_to: Vec<String>,
    /// The headers in order, values decoded (RFC 2047) and unfolded.
    pub headers: Vec<(String, String)>,
    /// The text/plain part, decoded ("" when there is none).
    pub text: String,
    /// The text/html part, decoded ("" when there is none).
    pub html: String,
    /// The message as it came over the wire.
    pub raw: String,
}

impl Received {
    /// The value of the first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl SmtpServer {
    /// Starts a server on a free loopback port (the server binds port 0 and
    /// reports the port it got, so there is no race for it).
    ///
    /// # Panics
    /// Panics when aiosmtpd is not installed (run `scripts/test`, which
    /// installs it) or the server does not start.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "marquee-smtp-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = SmtpServer { child: None, port: 0, dir };
        server.run(0);
        server
    }

    /// Starts a server on `port` (one a test reserved, to bring the server
    /// up where a client has been failing to connect).
    ///
    /// # Panics
    /// As [`SmtpServer::start`], or when the port is taken.
    pub fn start_on(port: u16) -> Self {
        let mut server = SmtpServer::start();
        server.stop();
        server.run(port);
        server
    }

    fn run(&mut self, port: u16) {
        let python = python();
        let mut child = Command::new(&python)
            .args([SCRIPT, &port.to_string(), self.dir.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python} (run scripts/test to install aiosmtpd): {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(got) = line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("aiosmtpd did not start with {python} (run scripts/test, which installs it): {line:?}");
        };
        self.port = got;
        self.child = Some(child);
    }

    /// The port the server listens on (it keeps it across [`SmtpServer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A plain `smtp://` URL for the server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Kills the server (connections are refused until [`SmtpServer::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on its port, keeping the messages received.
    pub fn restart(&mut self) {
        self.stop();
        self.run(self.port);
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn python() -> String {
    if let Ok(p) = std::env::var("AIOSMTPD_PYTHON") {
        return p;
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Ok(cache) = cache {
        let venv = cache.join("marquee/aiosmtpd-venv/bin/python");
        if venv.exists() {
            return venv.to_string_lossy().into_owned();
        }
    }
    "python3".to_owned()
}
