//! The gateway's configuration: one typed struct, read from flags and
//! environment variables, validated before anything binds. Defaults are the
//! named constants below; `gateway --help` documents every setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Where the single-node default keeps its SQLite file.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// How long one payment provider request may take, in ms.
pub const DEFAULT_PAYMENT_TIMEOUT_MS: u64 = 10_000;
/// Default secret for HS256 tokens (the `auth` crate's). Fine for a laptop
/// demo, refused with Redis.
pub use ::auth::DEV_JWT_SECRET;
/// Largest accepted WebSocket message (and frame), in bytes.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;
/// Per-connection outbound queue, in messages.
pub const DEFAULT_OUTBOUND_QUEUE: usize = 1024;
/// Per-connection outbound queue, in bytes.
pub const DEFAULT_OUTBOUND_BYTES: usize = 1024 * 1024;
/// Subscriptions one connection may hold.
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 64;
/// Publishes per second one connection may make (sustained).
pub const DEFAULT_PUBLISH_RATE: u32 = 20;
/// Server ping interval, in milliseconds.
pub const DEFAULT_HEARTBEAT_MS: u64 = 25_000;
/// Connections one node accepts at most, when the open-file limit allows
/// them (the default is the smaller of this and what the limit leaves, see
/// `listener::connection_limit`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 50_000;
/// How long a client has to send a request's headers (and, on a kept-alive
/// connection, the next request's), in milliseconds.
pub const HTTP_HEADER_TIMEOUT_MS: u64 = 10_000;
/// How long an HTTP connection (before any WebSocket upgrade) may move no
/// byte in either direction, in milliseconds.
pub const HTTP_IDLE_TIMEOUT_MS: u64 = 5_000;
/// Guest tokens one client address may take per minute (and at once).
pub const DEFAULT_GUEST_RATE_PER_MIN: u32 = 30;
/// How long draining waits for clients to leave before closing them.
pub const DEFAULT_DRAIN_GRACE_MS: u64 = 5_000;
/// Publications recovered on resubscribe at most; more means "refetch state".
pub const DEFAULT_MAX_RECOVER: usize = 1000;
/// How often expired seat holds are swept, in milliseconds.
pub const DEFAULT_SWEEP_INTERVAL_MS: u64 = seats::DEFAULT_SWEEP_INTERVAL.as_millis() as u64;

/// Chat requests that may wait in the queue at most.
pub const DEFAULT_CHAT_QUEUE_MAX: usize = 10_000;
/// Chat messages per second per connection (sustained; bursts of three times this).
pub const DEFAULT_CHAT_RATE: u32 = 2;
/// After this long without an answer the user gets an apology, in ms.
pub const DEFAULT_CHAT_DEADLINE_MS: u64 = 20_000;
/// A chat request untouched this long is claimed by another dispatcher, in ms.
pub const DEFAULT_CHAT_CLAIM_MS: u64 = 15_000;
/// Model calls in flight per dispatcher.
pub const DEFAULT_CHAT_CONCURRENCY: usize = 64;
/// Chat requests a dispatcher takes from the queue at most.
pub const DEFAULT_CHAT_PREFETCH: usize = 256;
/// After this long a chat request is given up with a final apology, in ms.
pub const DEFAULT_CHAT_GIVE_UP_MS: u64 = 600_000;
/// A model call that sends nothing (no headers, no event) this long is
/// abandoned and retried, in ms.
pub const DEFAULT_CHAT_MODEL_STALL_MS: u64 = 30_000;

/// Whether `POST /auth/guest` issues tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Guests {
    /// Anyone may get a guest token (rate-limited per address).
    On,
    /// No guest tokens: 403.
    Off,
}

/// What a gateway process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Serve clients and answer chat (one process does everything).
    All,
    /// Serve clients only; chat is answered by dispatchers elsewhere.
    Gateway,
    /// Answer chat only (health and metrics are still served).
    Dispatcher,
}

impl Role {
    /// Serves WebSocket and REST clients.
    pub fn serves_clients(self) -> bool {
        self != Role::Dispatcher
    }

    /// Answers chat requests from the queue.
    pub fn dispatches(self) -> bool {
        self != Role::Gateway
    }
}

/// Marquee gateway: WebSocket sessions, topics with recovery, fan-out over Redis.
#[derive(Debug, Clone, Parser)]
#[command(name = "gateway", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "MARQUEE_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,

    /// Redis URL (redis://host:port). Absent: single node with the in-process bus.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// This node's id, shown to clients and used in logs. Default: random.
    #[arg(long, env = "NODE_ID")]
    pub node_id: Option<String>,

    /// HS256 secret for session tokens, at least 32 bytes (`openssl rand -hex 32`).
    /// Default: a public development secret, refused with REDIS_URL.
    #[arg(long, env = "JWT_SECRET", default_value = DEV_JWT_SECRET, hide_default_value = true)]
    pub jwt_secret: String,

    /// Allow the public development secret with REDIS_URL (a local multi-node
    /// trial only: anyone can forge tokens for it).
    #[arg(long, env = "MARQUEE_ALLOW_DEV_SECRET")]
    pub allow_dev_secret: bool,

    /// Lifetime of guest tokens from POST /auth/guest, in seconds.
    #[arg(long, env = "GUEST_TOKEN_TTL_SECS", default_value_t = 24 * 3600)]
    pub guest_token_ttl_secs: u64,

    /// `off`: POST /auth/guest answers 403 (only tokens signed elsewhere get in).
    #[arg(long, env = "GUESTS", value_enum, default_value = "on")]
    pub guests: Guests,

    /// Guest tokens one client address (an IPv6 /64) may take per minute, in
    /// bursts of as many; more answers 429 with Retry-After.
    #[arg(long, env = "GUEST_RATE_PER_MIN", default_value_t = DEFAULT_GUEST_RATE_PER_MIN)]
    pub guest_rate_per_min: u32,

    /// Browser origins allowed to open WebSockets (comma-separated, `*` for any).
    /// A page served by this gateway itself is always allowed.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Directory of the web client served at `/`.
    #[arg(long, env = "WEB_DIR", default_value = "web")]
    pub web_dir: PathBuf,

    /// Largest accepted WebSocket message, in bytes.
    #[arg(long, env = "MAX_FRAME_BYTES", default_value_t = DEFAULT_MAX_FRAME_BYTES)]
    pub max_frame_bytes: usize,

    /// Per-connection outbound queue length, in messages; overflow disconnects (4008).
    #[arg(long, env = "OUTBOUND_QUEUE", default_value_t = DEFAULT_OUTBOUND_QUEUE)]
    pub outbound_queue: usize,

    /// Per-connection outbound queue size, in bytes; overflow disconnects (4008).
    #[arg(long, env = "OUTBOUND_BYTES", default_value_t = DEFAULT_OUTBOUND_BYTES)]
    pub outbound_bytes: usize,

    /// Subscriptions per connection.
    #[arg(long, env = "MAX_SUBSCRIPTIONS", default_value_t = DEFAULT_MAX_SUBSCRIPTIONS)]
    pub max_subscriptions: usize,

    /// Publishes per second per connection (burst: twice this).
    #[arg(long, env = "PUBLISH_RATE", default_value_t = DEFAULT_PUBLISH_RATE)]
    pub publish_rate: u32,

    /// Server ping interval in ms; a client silent for twice this is closed (4004).
    #[arg(long, env = "HEARTBEAT_MS", default_value_t = DEFAULT_HEARTBEAT_MS)]
    pub heartbeat_ms: u64,

    /// Most open sockets on this node (HTTP and WebSocket alike); over it a
    /// WebSocket is closed with 4013 and HTTP answers 503. Default: 50,000 or
    /// the open-file soft limit (`ulimit -n`) minus 256 kept for Redis, the
    /// model service, files and listeners, whichever is smaller (half the limit
    /// when it is below 512). A larger value than the file limit allows is
    /// lowered to it, with a warning.
    #[arg(long, env = "MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// A request's headers (and, on a kept-alive connection, the next request)
    /// must arrive within this many ms, or the connection is closed.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_MS", default_value_t = HTTP_HEADER_TIMEOUT_MS)]
    pub http_header_timeout_ms: u64,

    /// An HTTP connection that moves no byte for this many ms is closed (an idle
    /// kept-alive connection, a stalled request body, a response nobody reads).
    /// Not applied after a WebSocket upgrade (heartbeats cover those).
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_MS", default_value_t = HTTP_IDLE_TIMEOUT_MS)]
    pub http_idle_timeout_ms: u64,

    /// On SIGTERM: how long clients get to reconnect elsewhere before being closed, in ms.
    #[arg(long, env = "DRAIN_GRACE_MS", default_value_t = DEFAULT_DRAIN_GRACE_MS)]
    pub drain_grace_ms: u64,

    /// Publications kept per topic for recovery and paging.
    #[arg(long, env = "HISTORY_SIZE", default_value_t = bus::DEFAULT_HISTORY_SIZE)]
    pub history_size: usize,

    /// Payload bytes of history kept per topic (the oldest go first, the newest is always kept);
    /// a recovery from a trimmed offset answers "refetch state".
    #[arg(long, env = "HISTORY_BYTES", default_value_t = bus::DEFAULT_HISTORY_BYTES)]
    pub history_bytes: usize,

    /// Most publications recovered on resubscribe; a larger gap answers "refetch state".
    #[arg(long, env = "MAX_RECOVER", default_value_t = DEFAULT_MAX_RECOVER)]
    pub max_recover: usize,

    /// Log format: `text` or `json`.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// Schedule JSON file (format in docs/protocol.md) loaded at start instead
    /// of the built-in demo week. Give every node the same file.
    #[arg(long, env = "SCHEDULE_FILE")]
    pub schedule_file: Option<PathBuf>,

    /// Webhook (`http(s)://host[:port]/path`) that receives every booking
    /// event, from the ledger's outbox (at least once, `Idempotency-Key`).
    #[arg(long, env = "BOOKING_WEBHOOK_URL")]
    pub booking_webhook: Option<String>,

    /// SMTP server of the booking e-mail: `smtp://host[:port]` (plain),
    /// `smtp://host[:port]?tls=required` (STARTTLS) or `smtps://host[:port]`,
    /// `user:password@` for AUTH. Set with `MAIL_FROM`; absent: no e-mail.
    /// Mail goes to the `email` claim of the buyer's token.
    #[arg(long, env = "SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The sender of the booking e-mail (`Name <addr>` or an address).
    #[arg(long, env = "MAIL_FROM")]
    pub mail_from: Option<String>,

    /// A PEM file of a private CA to trust for the SMTP server (TLS URLs only).
    #[arg(long, env = "SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// The system of record for bookings: `postgres://user:pass@host/db`
    /// (a cluster: every node the same database) or `sqlite://path`.
    /// Absent: the SQLite file `marquee.db` in `DATA_DIR`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Who approves payments at the confirm: `demo` (approves everything,
    /// charges nothing, says `demo`) or `toss` (Toss Payments; needs
    /// `TOSS_SECRET_KEY`).
    #[arg(long, env = "PAYMENT_PROVIDER", default_value = "demo")]
    pub payment_provider: String,

    /// Toss Payments' secret key (`test_sk_…` or `live_sk_…`), for `PAYMENT_PROVIDER=toss`.
    #[arg(long, env = "TOSS_SECRET_KEY", hide_env_values = true)]
    pub toss_secret_key: Option<String>,

    /// Toss Payments' API base URL.
    #[arg(long, env = "TOSS_API_BASE", default_value = payment::TOSS_API_BASE)]
    pub toss_api_base: String,

    /// How long one payment provider request may take, in ms; a request
    /// that takes longer is looked up at the provider before deciding.
    #[arg(long, env = "PAYMENT_TIMEOUT_MS", default_value_t = DEFAULT_PAYMENT_TIMEOUT_MS)]
    pub payment_timeout_ms: u64,

    /// Where the single-node default keeps its SQLite file (created when
    /// missing). Used only without `DATABASE_URL`.
    #[arg(long, env = "DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// A second listen address for `/metrics` (with `/healthz` and `/readyz`);
    /// when set, the public address answers 404 for `/metrics`. Absent:
    /// `/metrics` is on the public address.
    #[arg(long, env = "ADMIN_ADDR")]
    pub admin_addr: Option<SocketAddr>,

    /// Secret for `POST /api/admin/schedule` (`Authorization: Bearer <secret>`),
    /// at least 32 bytes. Absent: the admin endpoint answers 403 to everyone.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// How often expired seat holds are released, in ms.
    #[arg(long, env = "SWEEP_INTERVAL_MS", default_value_t = DEFAULT_SWEEP_INTERVAL_MS)]
    pub sweep_interval_ms: u64,

    /// What this process does: `all`, `gateway` (clients only) or `dispatcher`
    /// (chat answers only). `gateway` and `dispatcher` need REDIS_URL.
    #[arg(long, env = "MARQUEE_ROLE", value_enum, default_value = "all")]
    pub role: Role,

    /// The model service (`http://host:port`, gRPC). Absent: dispatchers run
    /// the binary's in-process one on a loopback port (the `marquee` binary
    /// has one; the plain `gateway` binary then refuses to start).
    #[arg(long, env = "MODEL_SVC_URL")]
    pub model_svc_url: Option<String>,

    /// Chat requests that may wait at most (cluster-wide); more answers `overloaded`.
    #[arg(long, env = "CHAT_QUEUE_MAX", default_value_t = DEFAULT_CHAT_QUEUE_MAX)]
    pub chat_queue_max: usize,

    /// Chat messages per second per connection (bursts of three times this).
    #[arg(long, env = "CHAT_RATE", default_value_t = DEFAULT_CHAT_RATE)]
    pub chat_rate: u32,

    /// After this long (ms) without an answer the user gets an apology; the answer still comes.
    #[arg(long, env = "CHAT_DEADLINE_MS", default_value_t = DEFAULT_CHAT_DEADLINE_MS)]
    pub chat_deadline_ms: u64,

    /// A chat request its dispatcher has not touched for this long (ms) is claimed by another.
    #[arg(long, env = "CHAT_CLAIM_MS", default_value_t = DEFAULT_CHAT_CLAIM_MS)]
    pub chat_claim_ms: u64,

    /// Model calls in flight per dispatcher.
    #[arg(long, env = "CHAT_CONCURRENCY", default_value_t = DEFAULT_CHAT_CONCURRENCY)]
    pub chat_concurrency: usize,

    /// Chat requests one dispatcher has in flight at most (read, or claimed from a dead dispatcher).
    #[arg(long, env = "CHAT_PREFETCH", default_value_t = DEFAULT_CHAT_PREFETCH)]
    pub chat_prefetch: usize,

    /// After this long (ms) an unanswerable chat request ends with a final apology.
    #[arg(long, env = "CHAT_GIVE_UP_MS", default_value_t = DEFAULT_CHAT_GIVE_UP_MS)]
    pub chat_give_up_ms: u64,

    /// A model call that sends nothing for this long (ms) is abandoned and retried
    /// (a hung model service must not hold a request forever).
    #[arg(long, env = "CHAT_MODEL_STALL_MS", default_value_t = DEFAULT_CHAT_MODEL_STALL_MS)]
    pub chat_model_stall_ms: u64,

    /// The seat store's clock. Always the system clock in the binary; tests
    /// put a manual clock here to expire holds without sleeping.
    #[arg(skip)]
    pub clock: seats::Clock,

    /// The payment provider built from the payment settings at start
    /// ([`Config::payment`]); the demo provider until then.
    #[arg(skip)]
    pub payments: payment::PaymentProvider,

    /// The model service a dispatcher starts in process when MODEL_SVC_URL
    /// is absent, injected by the binary (the `marquee` binary links
    /// model-svc in); `None` in the plain `gateway` binary and in
    /// [`Config::for_tests`].
    #[arg(skip)]
    pub in_process_model: Option<crate::chat::model::InProcessModel>,
}

/// The shortest secret (`JWT_SECRET`, `ADMIN_TOKEN`) the gateway accepts:
/// 256 bits, the HS256 key size.
pub const MIN_SECRET_BYTES: usize = 32;

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A limit is zero or out of range.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// Cluster mode with the development secret would accept forged tokens.
    #[error("JWT_SECRET must be set when REDIS_URL is set (the development secret is public)")]
    DevSecretInCluster,
    /// A secret anyone could guess: empty or shorter than [`MIN_SECRET_BYTES`].
    #[error("{0} must be at least 32 bytes (it is {1}); generate one with `openssl rand -hex 32`")]
    WeakSecret(&'static str, usize),
    /// Unknown log format.
    #[error("LOG_FORMAT must be `text` or `json`")]
    LogFormat,
    /// Split roles share state through Redis.
    #[error("MARQUEE_ROLE gateway or dispatcher needs REDIS_URL")]
    RoleWithoutRedis,
    /// The webhook must be an HTTP(S) URL with a host.
    #[error("BOOKING_WEBHOOK_URL must be http(s)://host[:port][/path]")]
    WebhookUrl,
    /// `SMTP_URL` and `MAIL_FROM` go together.
    #[error("SMTP_URL and MAIL_FROM must be set together (the booking e-mail needs both)")]
    MailHalfSet,
    /// The booking e-mail settings are unusable (the reason names the setting).
    #[error("booking e-mail: {0}")]
    Mail(String),
    /// The database URL names no engine this build has.
    #[error("DATABASE_URL must be postgres://… or sqlite://…")]
    DatabaseUrl,
    /// The payment provider settings are unusable.
    #[error("payment settings: {0}")]
    Payment(String),
}

impl Config {
    /// The payment provider these settings name.
    pub fn payment(&self) -> Result<payment::PaymentProvider, ConfigError> {
        match self.payment_provider.as_str() {
            payment::DEMO => Ok(payment::PaymentProvider::Demo),
            payment::TOSS => {
                let key = self.toss_secret_key.as_deref().unwrap_or_default();
                let timeout = Duration::from_millis(self.payment_timeout_ms.max(1));
                payment::TossClient::new(&self.toss_api_base, key, timeout)
                    .map(payment::PaymentProvider::Toss)
                    .map_err(|e| ConfigError::Payment(e.to_string()))
            }
            _ => Err(ConfigError::Payment("PAYMENT_PROVIDER must be demo or toss".into())),
        }
    }

    /// Checks the settings before anything binds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("MAX_FRAME_BYTES", self.max_frame_bytes),
            ("OUTBOUND_QUEUE", self.outbound_queue),
            ("OUTBOUND_BYTES", self.outbound_bytes),
            ("MAX_SUBSCRIPTIONS", self.max_subscriptions),
            ("MAX_CONNECTIONS", self.max_connections.unwrap_or(1)),
            ("HTTP_HEADER_TIMEOUT_MS", self.http_header_timeout_ms as usize),
            ("HTTP_IDLE_TIMEOUT_MS", self.http_idle_timeout_ms as usize),
            ("GUEST_RATE_PER_MIN", self.guest_rate_per_min as usize),
            ("HISTORY_SIZE", self.history_size),
            ("HISTORY_BYTES", self.history_bytes),
            ("HEARTBEAT_MS", self.heartbeat_ms as usize),
            ("PUBLISH_RATE", self.publish_rate as usize),
            ("SWEEP_INTERVAL_MS", self.sweep_interval_ms as usize),
            ("CHAT_QUEUE_MAX", self.chat_queue_max),
            ("CHAT_RATE", self.chat_rate as usize),
            ("CHAT_DEADLINE_MS", self.chat_deadline_ms as usize),
            ("CHAT_CLAIM_MS", self.chat_claim_ms as usize),
            ("CHAT_CONCURRENCY", self.chat_concurrency),
            ("CHAT_PREFETCH", self.chat_prefetch),
            ("CHAT_GIVE_UP_MS", self.chat_give_up_ms as usize),
            ("CHAT_MODEL_STALL_MS", self.chat_model_stall_ms as usize),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.jwt_secret == DEV_JWT_SECRET {
            if self.redis_url.is_some() && !self.allow_dev_secret {
                return Err(ConfigError::DevSecretInCluster);
            }
        } else if self.jwt_secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::WeakSecret("JWT_SECRET", self.jwt_secret.len()));
        }
        if let Some(token) = &self.admin_token
            && token.len() < MIN_SECRET_BYTES
        {
            return Err(ConfigError::WeakSecret("ADMIN_TOKEN", token.len()));
        }
        if let Some(url) = &self.booking_webhook
            && !["http://", "https://"].iter().any(|p| url.strip_prefix(p).is_some_and(|h| !h.is_empty()))
        {
            return Err(ConfigError::WebhookUrl);
        }
        if let Some(mail) = self.mail()? {
            mail.check().map_err(|e| ConfigError::Mail(e.to_string()))?;
        }
        if let Some(url) = &self.database_url
            && !["postgres://", "postgresql://", "sqlite:"].iter().any(|p| url.starts_with(p))
        {
            return Err(ConfigError::DatabaseUrl);
        }
        self.payment()?;
        if self.role != Role::All && self.redis_url.is_none() {
            return Err(ConfigError::RoleWithoutRedis);
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::LogFormat);
        }
        Ok(())
    }

    /// The configuration with every default and no Redis (used by tests,
    /// which then set what they need).
    ///
    /// Hermetic: the environment variables the binary reads (`REDIS_URL`,
    /// `JWT_SECRET`, ...) are switched off before parsing, so a developer's
    /// shell cannot change what a test runs against.
    pub fn for_tests() -> Config {
        use clap::{CommandFactory, FromArgMatches};
        let command = Config::command().mut_args(|a| a.env(None));
        let matches = command.get_matches_from(["gateway"]);
        // The defaults are constants of this file; if they did not parse, no test could run.
        Config::from_arg_matches(&matches).unwrap_or_else(|e| panic!("the default configuration does not parse: {e}"))
    }

    /// The booking e-mail settings (`SMTP_URL`, `MAIL_FROM`, `SMTP_CA_FILE`),
    /// not checked beyond both being set: [`Config::validate`] checks them.
    pub fn mail(&self) -> Result<Option<seats::mail::MailConfig>, ConfigError> {
        match (&self.smtp_url, &self.mail_from) {
            (None, None) if self.smtp_ca_file.is_none() => Ok(None),
            (Some(url), Some(from)) => Ok(Some(seats::mail::MailConfig {
                smtp_url: url.clone(),
                from: from.clone(),
                ca_file: self.smtp_ca_file.clone(),
            })),
            _ => Err(ConfigError::MailHalfSet),
        }
    }

    /// Server heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// Seat-hold sweep interval.
    pub fn sweep_interval(&self) -> Duration {
        Duration::from_millis(self.sweep_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_tests_ignores_the_environment() {
        // A child process gets the variables, so this test's process (and
        // the other tests in it) keeps a clean environment: `set_var` is not
        // safe while other threads read the environment.
        const CHILD: &str = "MARQUEE_CONFIG_TEST_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let c = Config::for_tests();
            assert_eq!(c.redis_url, None, "REDIS_URL leaked into for_tests");
            assert_eq!(c.addr.to_string(), DEFAULT_ADDR, "MARQUEE_ADDR leaked into for_tests");
            assert_eq!(c.max_subscriptions, DEFAULT_MAX_SUBSCRIPTIONS, "MAX_SUBSCRIPTIONS leaked into for_tests");
            assert_eq!(c.jwt_secret, DEV_JWT_SECRET, "JWT_SECRET leaked into for_tests");
            assert_eq!(c.role, Role::All, "MARQUEE_ROLE leaked into for_tests");
            // The binary's parser does read them (so the variables really were set).
            let from_env = Config::parse_from(["gateway"]);
            assert_eq!(from_env.redis_url.as_deref(), Some("redis://127.0.0.1:1"));
            assert_eq!(from_env.max_subscriptions, 3);
            return;
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        let out = std::process::Command::new(exe)
            .args(["--exact", "config::tests::for_tests_ignores_the_environment", "--nocapture"])
            .env(CHILD, "1")
            .env("REDIS_URL", "redis://127.0.0.1:1")
            .env("MARQUEE_ADDR", "127.0.0.1:1")
            .env("MAX_SUBSCRIPTIONS", "3")
            .env("JWT_SECRET", "from-the-environment")
            .env("MARQUEE_ROLE", "dispatcher")
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child run failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn empty_or_short_secrets_are_refused_and_the_dev_secret_only_on_one_node() {
        let strong = "0123456789abcdef0123456789abcdef";
        for weak in ["", "x", "0123456789abcdef0123456789abcde"] {
            let mut c = Config::for_tests();
            c.jwt_secret = weak.into();
            assert!(matches!(c.validate(), Err(ConfigError::WeakSecret("JWT_SECRET", n)) if n == weak.len()));
            c.redis_url = Some("redis://127.0.0.1:6379".into());
            assert!(matches!(c.validate(), Err(ConfigError::WeakSecret("JWT_SECRET", _))), "in cluster mode too");
            let mut c = Config::for_tests();
            c.admin_token = Some(weak.into());
            assert!(matches!(c.validate(), Err(ConfigError::WeakSecret("ADMIN_TOKEN", n)) if n == weak.len()));
        }
        let mut c = Config::for_tests();
        c.jwt_secret = strong.into();
        c.admin_token = Some(strong.into());
        c.redis_url = Some("redis://127.0.0.1:6379".into());
        assert!(c.validate().is_ok());
        // The public development secret: fine on one node, refused with Redis
        // unless explicitly allowed.
        let mut c = Config::for_tests();
        assert!(c.validate().is_ok());
        c.redis_url = Some("redis://127.0.0.1:6379".into());
        assert!(matches!(c.validate(), Err(ConfigError::DevSecretInCluster)));
        c.allow_dev_secret = true;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_help_documents_the_dev_secret_switch() {
        use clap::CommandFactory;
        let help = Config::command().render_long_help().to_string();
        assert!(help.contains("--allow-dev-secret") && help.contains("MARQUEE_ALLOW_DEV_SECRET"), "{help}");
    }

    #[test]
    fn the_help_documents_the_http_settings() {
        use clap::CommandFactory;
        let help = Config::command().render_long_help().to_string();
        for setting in [
            "MAX_CONNECTIONS",
            "ulimit -n",
            "HTTP_HEADER_TIMEOUT_MS",
            "HTTP_IDLE_TIMEOUT_MS",
            "GUESTS",
            "GUEST_RATE_PER_MIN",
            "ADMIN_ADDR",
        ] {
            assert!(help.contains(setting), "{setting} missing from --help:\n{help}");
        }
        let mut c = Config::for_tests();
        assert_eq!((c.max_connections, c.guests), (None, Guests::On), "derived limit, guests on by default");
        c.http_header_timeout_ms = 0;
        assert!(matches!(c.validate(), Err(ConfigError::Zero("HTTP_HEADER_TIMEOUT_MS"))));
    }

    #[test]
    fn the_booking_webhook_needs_an_http_url() {
        let mut c = Config::for_tests();
        c.booking_webhook = Some("http://127.0.0.1:9/hook".into());
        assert!(c.validate().is_ok());
        c.booking_webhook = Some("https://example.com/hook".into());
        assert!(c.validate().is_ok());
        c.booking_webhook = Some("ftp://example.com/hook".into());
        assert!(matches!(c.validate(), Err(ConfigError::WebhookUrl)));
        c.booking_webhook = Some("https://".into());
        assert!(matches!(c.validate(), Err(ConfigError::WebhookUrl)));
        c.booking_webhook = None;
        c.database_url = Some("mysql://db/x".into());
        assert!(matches!(c.validate(), Err(ConfigError::DatabaseUrl)));
        c.database_url = Some("postgres://u@db/x".into());
        assert!(c.validate().is_ok());
        c.sweep_interval_ms = 0;
        assert!(matches!(c.validate(), Err(ConfigError::Zero("SWEEP_INTERVAL_MS"))));
    }

    #[test]
    fn the_booking_email_needs_an_smtp_url_and_a_sender() {
        let mut c = Config::for_tests();
        assert!(matches!(c.mail(), Ok(None)));
        c.smtp_url = Some("smtp://127.0.0.1:2525".into());
        assert!(matches!(c.validate(), Err(ConfigError::MailHalfSet)));
        c.mail_from = Some("Marquee <tickets@example.com>".into());
        assert!(c.validate().is_ok());
        for ok in ["smtps://mail.example.com", "smtp://u:p@mail.example.com:587?tls=required"] {
            c.smtp_url = Some(ok.into());
            assert!(c.validate().is_ok(), "{ok}");
        }
        for bad in ["http://mail.example.com", "smtp://", "smtp://mail.example.com?tls=sometimes"] {
            c.smtp_url = Some(bad.into());
            let e = c.validate().expect_err(bad);
            assert!(matches!(&e, ConfigError::Mail(m) if m.contains("SMTP_URL")), "{bad}: {e}");
        }
        c.smtp_url = Some("smtp://127.0.0.1:2525".into());
        c.mail_from = Some("nobody".into());
        assert!(matches!(c.validate(), Err(ConfigError::Mail(m)) if m.contains("MAIL_FROM")));
        c.mail_from = Some("tickets@example.com".into());
        c.smtp_ca_file = Some("/nonexistent/ca.pem".into());
        assert!(matches!(c.validate(), Err(ConfigError::Mail(m)) if m.contains("SMTP_CA_FILE")));
        c.smtp_url = None;
        c.mail_from = None;
        assert!(matches!(c.validate(), Err(ConfigError::MailHalfSet)), "a CA file alone is a mistake");
    }
}
