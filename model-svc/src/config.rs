//! The binary's one typed configuration: flags with environment fallbacks
//! and defaults as named constants. Validated before anything binds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";
/// Default pause between text deltas, milliseconds (0 = as fast as the client reads).
pub const DEFAULT_DELTA_INTERVAL_MS: u64 = 0;
/// Default time given to in-flight answers on shutdown, milliseconds.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 5_000;

/// model-svc: gRPC retrieval and grounded answers for Marquee.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "model-svc", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "MODEL_SVC_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Directory holding movies.jsonl and reviews.jsonl; the built-in catalog when absent.
    #[arg(long, env = "MODEL_SVC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Pause between streamed text deltas, in milliseconds.
    #[arg(long, env = "MODEL_SVC_DELTA_INTERVAL_MS", default_value_t = DEFAULT_DELTA_INTERVAL_MS)]
    pub delta_interval_ms: u64,
    /// Time in-flight answers get to finish on shutdown, in milliseconds.
    #[arg(long, env = "MODEL_SVC_SHUTDOWN_GRACE_MS", default_value_t = DEFAULT_SHUTDOWN_GRACE_MS)]
    pub shutdown_grace_ms: u64,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "MODEL_SVC_LOG_JSON")]
    pub log_json: bool,
}

impl Config {
    /// A configuration with every default (built-in catalog), for tests.
    pub fn for_tests() -> Self {
        Self {
            addr: ([127, 0, 0, 1], 0).into(),
            data_dir: None,
            delta_interval_ms: 0,
            shutdown_grace_ms: DEFAULT_SHUTDOWN_GRACE_MS,
            log_json: false,
        }
    }

    /// Checks settings that clap cannot.
    ///
    /// # Errors
    /// When the data directory does not exist.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(dir) = &self.data_dir
            && !dir.join("movies.jsonl").is_file()
        {
            return Err(format!("{} has no movies.jsonl", dir.display()));
        }
        Ok(())
    }

    /// The pause between deltas.
    pub fn delta_interval(&self) -> Duration {
        Duration::from_millis(self.delta_interval_ms)
    }
}
