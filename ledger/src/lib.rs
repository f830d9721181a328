//! The system of record: every booking a customer paid for, the seats it
//! sold, the payment saga of each checkout (`payments`), the
//! transactional outbox of events that announce it, and the archive of room
//! chat past the bus's bounded history (`history`), in
//! PostgreSQL (`DATABASE_URL=postgres://…`, a cluster) or an embedded SQLite
//! file (`sqlite://…`, the single-node default). Redis stays the hot path for
//! holds and fan-out; its sold seats are a cache of this crate's
//! `sold_seats` table (rebuilt by `seats` from [`Ledger::sold_seats`]).
//!
//! One set of SQL serves both engines through sqlx's `Any` driver (the
//! statements are written in the dialect both accept); the few places where
//! they differ (the outbox claim) branch on [`Engine`]. Migrations are
//! embedded at build time and applied on [`Ledger::open`].
//!
//! This crate knows nothing of Redis, seat layouts or prices: a booking's
//! ticket lines are opaque JSON text (`details`) owned by `seats`.
//!
//! **Invariant:** a seat of a showtime is in at most one confirmed booking:
//! the primary key of `sold_seats` refuses the second sale, whatever the
//! cache said.

mod bookings;
mod history;
mod outbox;
mod payments;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

pub use crate::bookings::{BookingRecord, BookingStatus, NewBooking, Recorded, SoldSeat};
pub use crate::history::{MAX_ARCHIVE_BATCH, MAX_PAGE, RoomMessage};
pub use crate::outbox::{NewEvent, OutboxEvent, OutboxStats};
pub use crate::payments::{NewPayment, PaymentRecord, PaymentState, Step};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Connections per node to the database.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a free connection before failing as
/// unavailable (a database that went away must not hang a confirm).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// The single-node default's file inside `DATA_DIR`.
pub const SQLITE_FILE: &str = "marquee.db";
/// How often opening an SQLite file retries its migrations when another
/// process migrates the same new file at the same moment.
const MIGRATE_RETRIES: u64 = 5;

/// Which database engine a [`Ledger`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL: shared by every node of a cluster.
    Postgres,
    /// An embedded SQLite file: one node (or processes of one host).
    Sqlite,
}

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The URL is neither `postgres://` nor `sqlite://`, or is malformed.
    #[error("database url must be postgres://… or sqlite://…: {0}")]
    BadUrl(String),
    /// The database could not be reached or failed; retrying may help.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Migrations could not be applied (the schema is newer than this build,
    /// or a migration failed).
    #[error("database migration failed: {0}")]
    Migration(String),
    /// These seats are sold already (by a committed booking).
    #[error("seats already sold: {0:?}")]
    SeatsSold(Vec<String>),
    /// No such booking.
    #[error("booking not found")]
    NotFound,
    /// The booking belongs to someone else.
    #[error("booking belongs to another user")]
    NotOwner,
    /// The booking is cancelled already.
    #[error("booking already cancelled")]
    AlreadyCancelled,
    /// The same hold was recorded before with other seats or user.
    #[error("hold recorded before with other contents")]
    Conflict,
    /// The random booking code clashed with another booking's: draw another.
    #[error("booking code taken")]
    CodeTaken,
    /// A stored row could not be read (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for LedgerError {
    fn from(e: sqlx::Error) -> LedgerError {
        LedgerError::Unavailable(e.to_string())
    }
}

/// The system of record. Cheap to clone; clones share the pool.
#[derive(Clone, Debug)]
pub struct Ledger {
    pool: AnyPool,
    engine: Engine,
}

impl Ledger {
    /// Connects to `url` (`postgres://…` or `sqlite://path`, created when
    /// missing) and applies the migrations.
    pub async fn open(url: &str) -> Result<Ledger, LedgerError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            return Err(LedgerError::BadUrl(redact(url)));
        };
        let url = match engine {
            Engine::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let opts = AnyConnectOptions::from_str(&url)
            .map_err(|_| LedgerError::BadUrl(redact(&url)))?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let mut pool = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        pool = match engine {
            Engine::Postgres => pool.max_connections(DEFAULT_MAX_CONNECTIONS),
            // SQLite has one writer at a time: WAL lets readers go on beside
            // it, and a busy timeout makes writers of other processes (nodes
            // of one host in the tests) wait rather than fail.
            Engine::Sqlite => pool.max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            }),
        };
        let pool = pool.connect_with(opts).await?;
        let migrator = match engine {
            Engine::Postgres => sqlx::migrate!("migrations/postgres"),
            Engine::Sqlite => sqlx::migrate!("migrations/sqlite"),
        };
        // PostgreSQL serialises migrators with an advisory lock; SQLite has
        // none, so two processes opening one new file race to create the
        // schema. The loser fails on a table the winner made; run again, it
        // then finds the migrations applied (checksums checked).
        let mut attempt = 0;
        loop {
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(e) if engine == Engine::Sqlite && attempt < MIGRATE_RETRIES => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "migration raced another process; again");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(LedgerError::Migration(e.to_string())),
            }
        }
        tracing::info!(engine = ?engine, "ledger open");
        Ok(Ledger { pool, engine })
    }

    /// Opens (creating it when missing) the single-node default: the SQLite
    /// file [`SQLITE_FILE`] in `dir`, created too.
    pub async fn open_in_dir(dir: &Path) -> Result<Ledger, LedgerError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LedgerError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        Ledger::open(&format!("sqlite://{}", dir.join(SQLITE_FILE).display())).await
    }

    /// The engine this ledger runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether the database answers (for readiness).
    pub async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool (waits for connections in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A URL without its password, for error messages and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.chars().take(120).collect(),
    }
}

/// Whether `e` is a unique-key violation (the second sale of a seat, a hold
/// recorded twice).
fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact("postgres://u:secret@db:5432/x"), "postgres://…@db:5432/x");
        assert_eq!(redact("sqlite://data/m.db"), "sqlite://data/m.db");
    }
}
