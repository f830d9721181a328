//! Marquee's gateway: WebSocket sessions, topics with per-topic offsets,
//! history and recovery, and fan-out across any number of nodes over Redis
//! (or in process, for a single node).
//!
//! [`run`] is the whole server; `main.rs` only reads the configuration,
//! starts logging, binds and calls it. Tests call the same `run` on
//! `127.0.0.1:0`. The model service is reached over gRPC; a binary may link
//! one in ([`Config::in_process_model`], the `marquee` binary does), this
//! crate never does. See ARCHITECTURE.md for the map.

pub mod api;
pub mod archive;
pub mod auth;
pub mod chat;
pub mod config;
pub mod eticket;
pub mod guest_limit;
pub mod http;
pub mod hub;
pub mod listener;
pub mod metrics;
pub mod node;
pub mod permissions;
pub mod process;
pub mod seating;
pub mod session;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusConfig, MemoryBus, RedisBus};
use seats::SeatStore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;

/// How much longer than the drain grace period shutdown waits for sessions.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(3);
/// Connections the admin listener serves at once (a scraper or two).
const ADMIN_CONNECTIONS: usize = 64;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The bus could not start (Redis unreachable at start-up).
    #[error("bus: {0}")]
    Bus(#[from] bus::BusError),
    /// The schedule file or the demo schedule could not be loaded.
    #[error("schedule: {0}")]
    Schedule(#[from] seats::ScheduleError),
    /// The cluster's schedule could not be read or seeded.
    #[error("seat store: {0}")]
    Seats(#[from] seats::SeatError),
    /// The system of record could not be opened (unreachable, bad URL, a
    /// migration failed).
    #[error("database: {0}")]
    Ledger(#[from] ledger::LedgerError),
    /// Serving failed.
    #[error("serve: {0}")]
    Io(#[from] std::io::Error),
    /// The model service cannot be reached or started.
    #[error(transparent)]
    Model(#[from] chat::model::ModelError),
}

/// Serves the gateway on `listener` (and `/metrics` on `ADMIN_ADDR`, when
/// set) until `shutdown` is cancelled, then drains: tells clients to
/// reconnect elsewhere and keeps answering 503 to new ones for the grace
/// period, then stops accepting, closes the sessions, and waits for every
/// session and connection to finish.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    config.validate()?;
    let admin = match config.admin_addr {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    serve(listener, admin, config, shutdown).await
}

/// [`run`] with the admin listener already bound (tests bind `127.0.0.1:0`);
/// `config.admin_addr` becomes its address.
pub async fn run_with_admin(
    listener: TcpListener,
    admin: TcpListener,
    mut config: Config,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    config.admin_addr = Some(admin.local_addr()?);
    config.validate()?;
    serve(listener, Some(admin), config, shutdown).await
}

async fn serve(
    listener: TcpListener,
    admin: Option<TcpListener>,
    mut config: Config,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    // Tests may inject a provider; otherwise the settings name it.
    if matches!(config.payments, payment::PaymentProvider::Demo) {
        config.payments = config.payment()?;
    }
    let node_id: Arc<str> =
        config.node_id.clone().unwrap_or_else(|| format!("n{:06x}", rand::random::<u32>() & 0xff_ffff)).into();
    let metrics = Arc::new(metrics::Metrics::default());
    seats::metrics::init();
    seats::checkout::init_metrics();
    let hub = Arc::new(hub::Hub::new(metrics.clone()));
    let bus_config = bus_config_of(&config);
    let presence_ttl = bus_config.presence_ttl;
    // The bus outlives the sessions: it stops only after they have left.
    let bus_stop = CancellationToken::new();
    let schedule = match &config.schedule_file {
        Some(path) => seats::Schedule::load(path)?,
        None => seats::demo::schedule_from_today()?,
    };
    let mut outbox = seats::notifier::OutboxConfig::new(config.booking_webhook.clone());
    outbox.mail = config.mail()?;
    let ledger = match &config.database_url {
        Some(url) => ledger::Ledger::open(url).await?,
        None => {
            if config.redis_url.is_some() {
                tracing::warn!(
                    data_dir = %config.data_dir.display(),
                    "bookings go to a node-local SQLite file: nodes on other hosts will not see them; set DATABASE_URL"
                );
            }
            ledger::Ledger::open_in_dir(&config.data_dir).await?
        }
    };
    // The seat store publishes through the node's own bus engine, so seat
    // deltas reach sessions by the same hub fan-out as every publication.
    let (bus, store) = match &config.redis_url {
        Some(url) => {
            let redis = RedisBus::connect(url, bus_config.clone(), hub.clone(), bus_stop.clone()).await?;
            let store = SeatStore::redis(redis.clone(), bus_config, schedule, config.clock.clone(), ledger)
                .with_channels(&outbox.channels());
            (Bus::Redis(redis), store)
        }
        None => {
            let memory = MemoryBus::new(bus_config, hub.clone());
            let store = SeatStore::memory(memory.clone(), schedule, config.clock.clone(), ledger)
                .with_channels(&outbox.channels());
            (Bus::Memory(memory), store)
        }
    };
    // With Redis, the cluster's schedule (seeded by the first node, replaced
    // by admin loads) wins over this node's own.
    store.share_schedule().await?;
    tracing::info!(node = %node_id, showtimes = store.schedule().showtimes().len(), "schedule loaded");
    let tracker = TaskTracker::new();
    let sweep_every = config.sweep_interval();
    let chat_queue = chat::ChatQueue::new(&bus, bus_config_of(&config), config.chat_queue_max);
    let mut node = node::Node::new(
        node_id.clone(),
        config,
        bus,
        hub,
        metrics,
        store.clone(),
        chat_queue,
        shutdown.clone(),
        tracker.clone(),
    );
    if outbox.mail.is_some() {
        // Every verified token tells the store where its user's booking
        // e-mail goes (its `email` claim; see seats::mail).
        let contacts = store.contacts().clone();
        node.auth = node.auth.clone().with_contact_hook(Arc::new(move |user, email| contacts.record(user, email)));
    }
    let node = Arc::new(node);
    if node.config.role.dispatches() {
        start_dispatcher(&node, &tracker).await?;
    }
    // The archive writer outlives the sessions too: it stops after they have
    // closed, so it archives what they published (see archive::FINAL_FLUSH).
    let archive_stop = CancellationToken::new();
    // An early return below stops it too.
    let _archive_guard = archive_stop.clone().drop_guard();
    let archive =
        tokio::spawn(node.archive.clone().run(node.bus.clone(), store.ledger().clone(), archive_stop.clone()));
    tracker.spawn(node.clone().resync_loop());
    tracker.spawn(node.clone().presence_refresh_loop(presence_ttl / 3));
    tracker.spawn(store.clone().run_sweeper(sweep_every, shutdown.clone()));
    tracker.spawn(seats::checkout::run_reconciler(
        store.clone(),
        node.config.payments.clone(),
        seats::checkout::RECONCILE_EVERY,
        shutdown.clone(),
    ));
    {
        let (store, stop) = (store.clone(), shutdown.clone());
        tracker.spawn(async move {
            if let Err(e) = seats::notifier::run_outbox(store, outbox, stop).await {
                tracing::error!(error = %e, "booking outbox worker stopped");
            }
        });
    }

    let addr = listener.local_addr()?;
    let role = node.config.role;
    let mode = if node.config.redis_url.is_some() { "redis" } else { "in-process" };
    tracing::info!(node = %node_id, %addr, bus = mode, ?role, "gateway listening");
    let limit = listener::connection_limit(node.config.max_connections, listener::nofile_soft_limit());
    if let Some(asked) = limit.lowered_from {
        tracing::warn!(
            max_connections = asked,
            allowed = limit.max,
            "MAX_CONNECTIONS is more than the open-file limit (ulimit -n) leaves for connections; using {}",
            limit.max
        );
    }
    tracing::info!(node = %node_id, max_connections = limit.max, "connection limit");
    let settings = listener::Settings {
        max_connections: limit.max,
        header_timeout: Duration::from_millis(node.config.http_header_timeout_ms),
        idle_timeout: Duration::from_millis(node.config.http_idle_timeout_ms),
        drain_grace: Duration::from_millis(node.config.drain_grace_ms),
    };
    // Dropped connections still open after the deadline below.
    let stop = CancellationToken::new();
    if let Some(admin) = admin {
        tracing::info!(node = %node_id, addr = %admin.local_addr()?, "admin listener (metrics)");
        let routers =
            listener::Routers { app: http::admin_router(node.clone()), full: http::full_router(node.clone()) };
        let admin_settings = listener::Settings { max_connections: ADMIN_CONNECTIONS, ..settings };
        tracker.spawn(listener::serve(admin, routers, admin_settings, shutdown.clone(), tracker.clone(), stop.clone()));
    }
    let routers = listener::Routers { app: http::router(node.clone()), full: http::full_router(node.clone()) };
    listener::serve(listener, routers, settings, shutdown.clone(), tracker.clone(), stop.clone()).await;

    // Sessions close with 1012 at the end of the grace, which has passed.
    tracing::info!(node = %node_id, "stopped accepting; closing connections");
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_SLACK, tracker.wait()).await.is_err() {
        tracing::warn!("sessions still open after the grace period; stopping anyway");
    }
    stop.cancel();
    archive_stop.cancel();
    if tokio::time::timeout(archive::FINAL_FLUSH + SHUTDOWN_SLACK, archive).await.is_err() {
        tracing::warn!("archive writer did not stop in time");
    }
    bus_stop.cancel();
    tracing::info!(node = %node_id, "stopped");
    Ok(())
}

/// The bus settings of this configuration (the bus, the seat store and the chat queue share them).
fn bus_config_of(config: &Config) -> BusConfig {
    BusConfig { history_size: config.history_size, history_bytes: config.history_bytes, ..BusConfig::default() }
}

/// Starts this node's chat dispatcher (and, without MODEL_SVC_URL, the
/// binary's in-process model service; without either, refuses to run).
async fn start_dispatcher(node: &Arc<node::Node>, tracker: &TaskTracker) -> Result<(), RunError> {
    let c = &node.config;
    let url = match (&c.model_svc_url, &c.in_process_model) {
        (Some(url), _) => url.clone(),
        (None, Some(model)) => chat::model::start_in_process(model, node.shutdown.child_token()).await?,
        (None, None) => return Err(chat::model::ModelError::Missing.into()),
    };
    let model = chat::model::connect(&url)?;
    let config = chat::dispatcher::DispatchConfig {
        consumer: node.id.to_string(),
        concurrency: c.chat_concurrency,
        prefetch: c.chat_prefetch,
        deadline: Duration::from_millis(c.chat_deadline_ms),
        claim_idle: Duration::from_millis(c.chat_claim_ms),
        give_up: Duration::from_millis(c.chat_give_up_ms),
        model_stall: Duration::from_millis(c.chat_model_stall_ms),
    };
    let dispatcher = chat::dispatcher::Dispatcher::new(
        node.chat.clone(),
        node.seats.clone(),
        model,
        config,
        node.metrics.clone(),
        node.shutdown.clone(),
    );
    tracing::info!(node = %node.id, model = %url, "chat dispatcher running");
    tracker.spawn(dispatcher.run(tracker.clone()));
    Ok(())
}
