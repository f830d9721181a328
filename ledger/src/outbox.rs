//! The transactional outbox: events written in the transaction of the change
//! they announce (one row per event and channel, so one channel failing
//! never holds back another), claimed by workers on any node with a
//! time lease instead of a consumer name, so a node that dies strands
//! nothing whatever id its replacement has: its leases run out and any
//! worker claims the events again. At least once: a worker that dies after
//! delivering and before [`Ledger::delivered`] causes one redelivery, which
//! the event's idempotency key lets the receiver drop.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Engine, Ledger, LedgerError, Millis};

/// An event to queue with a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Where it goes (`live`, `webhook`, `email`, …; the caller's names).
    pub channel: String,
    /// Its idempotency key, unique: queuing the same key twice keeps one.
    pub key: String,
    /// What to deliver (JSON text).
    pub payload: String,
}

/// A claimed event, to deliver now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Its row id.
    pub id: i64,
    /// Its channel.
    pub channel: String,
    /// Its idempotency key.
    pub key: String,
    /// What to deliver.
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// When it was queued.
    pub created_at: Millis,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Counts for /metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Events not yet delivered nor dead-lettered.
    pub pending: i64,
    /// Events given up on.
    pub dead: i64,
}

const RETURNING: &str = "RETURNING id, channel, idem_key, payload, attempts, created_at, last_error";

fn event(row: &AnyRow) -> Result<OutboxEvent, LedgerError> {
    Ok(OutboxEvent {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        key: row.try_get("idem_key")?,
        payload: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        last_error: row.try_get("last_error")?,
    })
}

pub(crate) async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    events: &[NewEvent],
    now: Millis,
) -> Result<(), LedgerError> {
    for e in events {
        sqlx::query(
            "INSERT INTO outbox (channel, idem_key, payload, created_at, due_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (idem_key) DO NOTHING",
        )
        .bind(&e.channel)
        .bind(&e.key)
        .bind(&e.payload)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Ledger {
    /// Queues `events` on their own (not with a booking change).
    pub async fn enqueue(&self, events: &[NewEvent], now: Millis) -> Result<(), LedgerError> {
        let mut tx = self.pool.begin().await?;
        insert_events(&mut tx, events, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due events for `lease_ms`: no other worker gets
    /// them until the lease runs out. Oldest first. PostgreSQL skips rows
    /// another worker is claiming (`FOR UPDATE SKIP LOCKED`); SQLite has one
    /// writer at a time, so its claims never overlap.
    pub async fn claim_events(&self, now: Millis, lease_ms: i64, limit: i64) -> Result<Vec<OutboxEvent>, LedgerError> {
        let lock = match self.engine {
            Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET lease_until = $1, attempts = attempts + 1 WHERE id IN (\
             SELECT id FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL AND due_at <= $2 \
             AND lease_until <= $2 ORDER BY id LIMIT $3 {lock}) {RETURNING}"
        );
        let rows = sqlx::query(&sql).bind(now + lease_ms).bind(now).bind(limit).fetch_all(&self.pool).await?;
        let mut out = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    /// Marks event `id` delivered.
    pub async fn delivered(&self, id: i64, now: Millis) -> Result<(), LedgerError> {
        sqlx::query("UPDATE outbox SET delivered_at = $1, lease_until = 0 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Puts event `id` back to be tried again at `due_at` after `error`.
    pub async fn retry_at(&self, id: i64, due_at: Millis, error: &str) -> Result<(), LedgerError> {
        sqlx::query("UPDATE outbox SET due_at = $1, lease_until = 0, last_error = $2 WHERE id = $3")
            .bind(due_at)
            .bind(truncate(error))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives up on event `id` (a permanent failure or too many attempts).
    pub async fn dead_letter(&self, id: i64, now: Millis, error: &str) -> Result<(), LedgerError> {
        sqlx::query("UPDATE outbox SET dead_at = $1, lease_until = 0, last_error = $2 WHERE id = $3")
            .bind(now)
            .bind(truncate(error))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest `limit` dead letters, newest first (the admin listing).
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<OutboxEvent>, LedgerError> {
        let rows = sqlx::query(
            "SELECT id, channel, idem_key, payload, attempts, created_at, last_error FROM outbox \
             WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event).collect()
    }

    /// Pending and dead event counts.
    pub async fn outbox_stats(&self) -> Result<OutboxStats, LedgerError> {
        let count = |sql: &'static str| async move {
            let row = sqlx::query(sql).fetch_one(&self.pool).await?;
            Ok::<i64, LedgerError>(row.try_get::<i64, _>(0)?)
        };
        let pending = count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL").await?;
        let dead = count("SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL").await?;
        Ok(OutboxStats { pending, dead })
    }
}

/// Errors are stored for operators; a hostile endpoint's long answer is cut.
fn truncate(error: &str) -> String {
    error.chars().take(500).collect()
}
