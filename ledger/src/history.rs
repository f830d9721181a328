//! The archive of room chat (table `room_messages`, migration 0003): room
//! publications kept past the bus's bounded history, so `history` can page
//! back to offset 1. Rows are keyed by the publication's identity on the bus,
//! (topic, epoch, offset): writing one twice (two nodes, a retry after a
//! restart) keeps the first, so writers need no coordination.
//!
//! This module stores and reads; it never decides what to archive (the
//! gateway's archive writer follows the bus) and knows nothing of frames.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Ledger, LedgerError, Millis};

/// Most rows one [`Ledger::archive_messages`] call writes (the statement
/// binds 3 parameters per row plus 3: well under SQLite's parameter limit).
pub const MAX_ARCHIVE_BATCH: usize = 200;
/// Most rows one page read returns.
pub const MAX_PAGE: i64 = 1000;

/// One archived room publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMessage {
    /// Its offset in the topic (epoch given by the query).
    pub offset: u64,
    /// The stored publication, verbatim (JSON text).
    pub payload: String,
    /// When the archive writer stored it.
    pub archived_at: Millis,
}

fn message(row: &AnyRow) -> Result<RoomMessage, LedgerError> {
    let offset: i64 = row.try_get("msg_offset")?;
    Ok(RoomMessage {
        offset: u64::try_from(offset).map_err(|_| LedgerError::Corrupt(format!("offset {offset}")))?,
        payload: row.try_get("payload")?,
        archived_at: row.try_get("archived_at")?,
    })
}

/// An offset as the database keeps it (signed); larger ones are clamped (the
/// gateway refuses offsets past `i64::MAX` before they get here).
fn signed(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

impl Ledger {
    /// Stores `messages` (offset, payload) of `topic` in `epoch`, at most
    /// [`MAX_ARCHIVE_BATCH`] per call (more is cut into several statements),
    /// in one transaction: all or none. A row already stored (same topic,
    /// epoch and offset) is kept as it is. Returns how many rows were new.
    pub async fn archive_messages(
        &self,
        topic: &str,
        epoch: &str,
        messages: &[(u64, &str)],
        now: Millis,
    ) -> Result<u64, LedgerError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for chunk in messages.chunks(MAX_ARCHIVE_BATCH) {
            let mut sql =
                String::from("INSERT INTO room_messages (topic, epoch, msg_offset, payload, archived_at) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("($1, $2, ${}, ${}, $3)", 4 + 2 * i, 5 + 2 * i));
            }
            sql.push_str(" ON CONFLICT (topic, epoch, msg_offset) DO NOTHING");
            let mut q = sqlx::query(&sql).bind(topic).bind(epoch).bind(now);
            for (offset, payload) in chunk {
                q = q.bind(signed(*offset)).bind(*payload);
            }
            added += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// The highest offset archived for `topic` in `epoch` (0 when none): where
    /// an archive writer resumes. Rows below it may have holes (publications
    /// the bus trimmed before any writer stored them); none above it exist.
    pub async fn last_archived(&self, topic: &str, epoch: &str) -> Result<u64, LedgerError> {
        let row = sqlx::query("SELECT MAX(msg_offset) AS top FROM room_messages WHERE topic = $1 AND epoch = $2")
            .bind(topic)
            .bind(epoch)
            .fetch_one(&self.pool)
            .await?;
        let top: Option<i64> = row.try_get("top")?;
        Ok(top.map_or(0, |t| u64::try_from(t).unwrap_or(0)))
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) archived messages of `topic` in
    /// `epoch` with offsets below `before`, newest first.
    pub async fn messages_before(
        &self,
        topic: &str,
        epoch: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<RoomMessage>, LedgerError> {
        let rows = sqlx::query(
            "SELECT msg_offset, payload, archived_at FROM room_messages \
             WHERE topic = $1 AND epoch = $2 AND msg_offset < $3 ORDER BY msg_offset DESC LIMIT $4",
        )
        .bind(topic)
        .bind(epoch)
        .bind(signed(before))
        .bind(page_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message).collect()
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) archived messages of `topic` in
    /// `epoch` with offsets above `after` and below `below`, oldest first.
    pub async fn messages_after(
        &self,
        topic: &str,
        epoch: &str,
        after: u64,
        below: u64,
        limit: usize,
    ) -> Result<Vec<RoomMessage>, LedgerError> {
        let rows = sqlx::query(
            "SELECT msg_offset, payload, archived_at FROM room_messages \
             WHERE topic = $1 AND epoch = $2 AND msg_offset > $3 AND msg_offset < $4 ORDER BY msg_offset LIMIT $5",
        )
        .bind(topic)
        .bind(epoch)
        .bind(signed(after))
        .bind(signed(below))
        .bind(page_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message).collect()
    }
}

fn page_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(MAX_PAGE).min(MAX_PAGE)
}
