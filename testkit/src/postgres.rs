//! A real PostgreSQL server for tests: `initdb` into a temporary directory
//! and `postgres` on a free loopback port, killed and removed when dropped.
//! The machine's own PostgreSQL (on 5432) is never used.
//!
//! The binaries are found in `PG_BIN_DIR`, else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout), else on `PATH`
//! (`scripts/lib.sh`'s `ensure_postgres` installs them). PostgreSQL refuses
//! to run as root, so under root the server runs as the `postgres` user
//! through `setpriv`, which execs (no parent process is left between the
//! test and the server, so killing the child kills the server).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A PostgreSQL server on a free loopback port with one database, `marquee`,
/// owned by the trusted superuser `marquee` (no password).
pub struct PostgresServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
}

impl PostgresServer {
    /// Initialises a fresh cluster and starts it; waits until it accepts
    /// connections (retrying on another port if the one found free was taken).
    ///
    /// # Panics
    /// Panics when the binaries are missing (run `scripts/test`, which
    /// installs PostgreSQL) or the server does not come up.
    pub fn start() -> Self {
        let bin = bin_dir();
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = std::env::temp_dir().join(format!(
            "marquee-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(user) = &run_as {
            let ok = Command::new("chown").args([&format!("{user}:"), dir.to_str().unwrap()]).status().unwrap();
            assert!(ok.success(), "chown of the PostgreSQL test directory failed");
        }
        let data = dir.join("data");
        let out = command(&bin, "initdb", run_as.as_deref())
            .args(["-D", data.to_str().unwrap(), "-U", "marquee", "--auth=trust", "-E", "UTF8", "--no-locale"])
            .args(["--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run initdb from {} (run scripts/test to install PostgreSQL): {e}", bin.display())
            });
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        for _ in 0..20 {
            let port = free_port();
            let mut server =
                PostgresServer { child: None, port, dir: dir.clone(), bin: bin.clone(), run_as: run_as.clone() };
            if server.try_run(&data) {
                server.create_database();
                return server;
            }
        }
        panic!("could not start PostgreSQL on a free port");
    }

    fn try_run(&mut self, data: &Path) -> bool {
        let log = std::fs::File::create(self.dir.join(format!("log-{}", self.port))).unwrap();
        let child = command(&self.bin, "postgres", self.run_as.as_deref())
            .args(["-D", data.to_str().unwrap(), "-p", &self.port.to_string(), "-k", self.dir.to_str().unwrap()])
            // Only loopback; durability off: a test database needs none, and
            // fsync per commit on a shared disk only measures the disk.
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false; // exited: most likely the port was taken
            }
            let ready = command(&self.bin, "pg_isready", None)
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "marquee", "-d", "postgres"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        false
    }

    fn create_database(&self) {
        let out = command(&self.bin, "createdb", None)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "marquee", "marquee"])
            .output()
            .unwrap();
        assert!(out.status.success(), "createdb failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `postgres://` URL for the `marquee` database.
    pub fn url(&self) -> String {
        format!("postgres://marquee@127.0.0.1:{}/marquee", self.port)
    }

    /// Starts the server again on the same port with the same data, after
    /// [`PostgresServer::kill`] (the database came back). Waits until it
    /// accepts connections.
    ///
    /// # Panics
    /// Panics when the server does not come back on its port.
    pub fn restart(&mut self) {
        self.kill();
        let data = self.dir.join("data");
        // The killed postmaster's backends notice its death and exit within
        // moments; until they have, a new postmaster refuses the data
        // directory (its shared memory is still attached), so try again.
        for _ in 0..100 {
            if self.try_run(&data) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("PostgreSQL did not restart on port {}", self.port);
    }

    /// Stops the server with a fast shutdown (`SIGINT`: sessions are
    /// terminated, the server exits cleanly), as when the database is
    /// restarted for maintenance or fails over; [`PostgresServer::restart`]
    /// brings it back on the same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }

    /// Kills the server (`SIGKILL`), as when the database host dies.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn command(bin: &Path, tool: &str, run_as: Option<&str>) -> Command {
    match run_as {
        Some(user) => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid", user, "--regid", user, "--clear-groups", "--"]).arg(bin.join(tool));
            c
        }
        None => Command::new(bin.join(tool)),
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Where the PostgreSQL server binaries are.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    // On PATH: the directory of `postgres`.
    let out = Command::new("sh").args(["-c", "command -v postgres"]).output().unwrap();
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!path.is_empty(), "PostgreSQL is not installed (run scripts/test, which installs it)");
    Path::new(&path).parent().unwrap().to_path_buf()
}
