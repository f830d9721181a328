//! The binary's one typed configuration: flags with environment fallbacks
//! and defaults as named constants. Validated before anything binds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";
/// Default pause between text deltas, milliseconds (0 = as fast as the client reads).
pub const DEFAULT_DELTA_INTERVAL_MS: u64 = 0;
/// Default longest wait for the LLM's first chunk, milliseconds.
pub const DEFAULT_LLM_FIRST_TOKEN_TIMEOUT_MS: u64 = 15_000;
/// Default longest wait between two LLM chunks, milliseconds.
pub const DEFAULT_LLM_IDLE_TIMEOUT_MS: u64 = 10_000;
/// Default time given to in-flight answers on shutdown, milliseconds.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 5_000;

/// model-svc: gRPC retrieval and grounded answers for Marquee.
#[derive(Clone, clap::Parser)]
#[command(name = "model-svc", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "MODEL_SVC_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Directory holding movies.jsonl and reviews.jsonl; the built-in catalog when absent.
    #[arg(long, env = "MODEL_SVC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory of a pretrained sentence-embedding model (config.json, model.safetensors,
    /// tokenizer.json) run with candle; the weight-free n-gram hashing embedder when absent.
    #[arg(long, env = "MODEL_SVC_EMBED_MODEL_DIR")]
    pub embed_model_dir: Option<PathBuf>,
    /// Schedule file (the seat store's format, e.g. `seats/data/demo.json`) whose
    /// theater and movie names the booking dialogue recognises in requests that
    /// carry no schedule (the gateway always sends its seat store's); default:
    /// none, so such requests know only catalog titles.
    #[arg(long, env = "MODEL_SVC_SCHEDULE_FILE")]
    pub schedule_file: Option<PathBuf>,
    /// Pause between streamed text deltas, in milliseconds.
    #[arg(long, env = "MODEL_SVC_DELTA_INTERVAL_MS", default_value_t = DEFAULT_DELTA_INTERVAL_MS)]
    pub delta_interval_ms: u64,
    /// Time in-flight answers get to finish on shutdown, in milliseconds.
    #[arg(long, env = "MODEL_SVC_SHUTDOWN_GRACE_MS", default_value_t = DEFAULT_SHUTDOWN_GRACE_MS)]
    pub shutdown_grace_ms: u64,
    /// Base URL of an OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1); the composer answers when unset.
    #[arg(long, env = "MODEL_SVC_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// API key for the LLM endpoint.
    #[arg(long, env = "MODEL_SVC_LLM_API_KEY", default_value = "", hide_env_values = true)]
    pub llm_api_key: String,
    /// Model name at the LLM endpoint.
    #[arg(long, env = "MODEL_SVC_LLM_MODEL", default_value = "gpt-4o-mini")]
    pub llm_model: String,
    /// Longest wait for the LLM's first chunk before falling back to the composer, in milliseconds.
    #[arg(long, env = "MODEL_SVC_LLM_FIRST_TOKEN_TIMEOUT_MS", default_value_t = DEFAULT_LLM_FIRST_TOKEN_TIMEOUT_MS)]
    pub llm_first_token_timeout_ms: u64,
    /// Longest wait between two LLM chunks before the answer fails, in milliseconds.
    #[arg(long, env = "MODEL_SVC_LLM_IDLE_TIMEOUT_MS", default_value_t = DEFAULT_LLM_IDLE_TIMEOUT_MS)]
    pub llm_idle_timeout_ms: u64,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "MODEL_SVC_LOG_JSON")]
    pub log_json: bool,
    /// Address of an HTTP listener serving `GET /metrics` (Prometheus text);
    /// none when unset. In-process, the gateway's `/metrics` has the same series.
    #[arg(long, env = "MODEL_SVC_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every field but the API key.
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("embed_model_dir", &self.embed_model_dir)
            .field("schedule_file", &self.schedule_file)
            .field("delta_interval_ms", &self.delta_interval_ms)
            .field("shutdown_grace_ms", &self.shutdown_grace_ms)
            .field("llm_base_url", &self.llm_base_url)
            .field("llm_model", &self.llm_model)
            .field("metrics_addr", &self.metrics_addr)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration with every default (built-in catalog), for tests.
    pub fn for_tests() -> Self {
        Self {
            addr: ([127, 0, 0, 1], 0).into(),
            data_dir: None,
            embed_model_dir: None,
            schedule_file: None,
            delta_interval_ms: 0,
            shutdown_grace_ms: DEFAULT_SHUTDOWN_GRACE_MS,
            llm_base_url: None,
            llm_api_key: String::new(),
            llm_model: "test-model".to_owned(),
            llm_first_token_timeout_ms: DEFAULT_LLM_FIRST_TOKEN_TIMEOUT_MS,
            llm_idle_timeout_ms: DEFAULT_LLM_IDLE_TIMEOUT_MS,
            log_json: false,
            metrics_addr: None,
        }
    }

    /// The LLM settings, when an endpoint is configured.
    pub fn llm(&self) -> Option<crate::llm::LlmConfig> {
        self.llm_base_url.as_ref().filter(|u| !u.is_empty()).map(|base_url| crate::llm::LlmConfig {
            base_url: base_url.clone(),
            api_key: self.llm_api_key.clone(),
            model: self.llm_model.clone(),
            first_token_timeout: Duration::from_millis(self.llm_first_token_timeout_ms),
            idle_timeout: Duration::from_millis(self.llm_idle_timeout_ms),
        })
    }

    /// The theater and movie names of the configured schedule file (none
    /// when no file is configured), for requests without a schedule.
    ///
    /// # Errors
    /// When the schedule file cannot be read or is not a schedule.
    pub fn names(&self) -> Result<dialog::Lexicon, String> {
        match &self.schedule_file {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(|e| e.to_string())?;
                dialog::Lexicon::from_schedule_json(&text).map_err(|e| e.to_string())
            }
            None => Ok(dialog::Lexicon::new()),
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
        if let Some(f) = &self.schedule_file {
            self.names().map_err(|e| format!("{}: {e}", f.display()))?;
        }
        Ok(())
    }

    /// The pause between deltas.
    pub fn delta_interval(&self) -> Duration {
        Duration::from_millis(self.delta_interval_ms)
    }
}
