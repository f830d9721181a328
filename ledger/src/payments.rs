//! The payment saga's state (table `payments`, migration 0002): one row per
//! order (the hold id), moved only forward by compare-and-set transitions,
//! so two nodes finishing the same saga (a retried checkout and the
//! reconciler) never both win a step: one confirms or one refunds, never
//! both.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Ledger, LedgerError, Millis};

/// Where a payment saga stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentState {
    /// Recorded before the provider was asked: the outcome is not known yet.
    Pending,
    /// The provider approved (charged); the booking is not confirmed yet.
    Approved,
    /// Charged and booked: final.
    Confirmed,
    /// Charged, but the booking could not be made: to be refunded.
    RefundPending,
    /// Refunded through the provider: final.
    Refunded,
    /// The provider refused; nothing charged, the hold released: final.
    Declined,
}

impl PaymentState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Pending => "pending",
            PaymentState::Approved => "approved",
            PaymentState::Confirmed => "confirmed",
            PaymentState::RefundPending => "refund_pending",
            PaymentState::Refunded => "refunded",
            PaymentState::Declined => "declined",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<PaymentState, LedgerError> {
        Ok(match s {
            "pending" => PaymentState::Pending,
            "approved" => PaymentState::Approved,
            "confirmed" => PaymentState::Confirmed,
            "refund_pending" => PaymentState::RefundPending,
            "refunded" => PaymentState::Refunded,
            "declined" => PaymentState::Declined,
            other => return Err(LedgerError::Corrupt(format!("payment state {other:?}"))),
        })
    }

    /// Whether the saga is finished (nothing left for the reconciler).
    pub fn is_final(self) -> bool {
        matches!(self, PaymentState::Confirmed | PaymentState::Refunded | PaymentState::Declined)
    }
}

/// A saga to begin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// The order id: the hold id.
    pub order_id: String,
    /// The showtime.
    pub showtime: String,
    /// The buyer.
    pub user: String,
    /// The amount the store computed, in won.
    pub amount: i64,
    /// The provider's payment key as the client gave it (may be empty
    /// until the provider approves).
    pub payment_key: String,
    /// `demo` or `toss`.
    pub provider: String,
    /// The tickets the checkout named, as JSON (owned by `seats`; empty:
    /// the hold's), so whichever node finishes the saga sells the same.
    pub tickets: String,
    /// Now.
    pub now: Millis,
}

/// A stored saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    /// The order id (hold id).
    pub order_id: String,
    /// The showtime.
    pub showtime: String,
    /// The buyer.
    pub user: String,
    /// The amount, in won.
    pub amount: i64,
    /// The provider's payment key.
    pub payment_key: String,
    /// `demo` or `toss`.
    pub provider: String,
    /// The tickets the checkout named (JSON; empty: the hold's).
    pub tickets: String,
    /// Where it stands.
    pub state: PaymentState,
    /// The booking, once confirmed.
    pub booking_id: Option<String>,
    /// When it began.
    pub created_at: Millis,
    /// Its last change.
    pub updated_at: Millis,
    /// Steps tried and failed (by the reconciler or a retry).
    pub attempts: i64,
    /// Why the last step failed, or why it was declined or refunded.
    pub last_error: Option<String>,
}

const COLUMNS: &str = "order_id, showtime, user_id, amount, payment_key, provider, tickets, state, booking_id, created_at, updated_at, attempts, last_error";

fn record(row: &AnyRow) -> Result<PaymentRecord, LedgerError> {
    Ok(PaymentRecord {
        order_id: row.try_get("order_id")?,
        showtime: row.try_get("showtime")?,
        user: row.try_get("user_id")?,
        amount: row.try_get("amount")?,
        payment_key: row.try_get("payment_key")?,
        provider: row.try_get("provider")?,
        tickets: row.try_get("tickets")?,
        state: PaymentState::parse(&row.try_get::<String, _>("state")?)?,
        booking_id: row.try_get("booking_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
    })
}

/// A transition's changes besides the state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step<'a> {
    /// The payment key the provider approved.
    pub payment_key: Option<&'a str>,
    /// The booking confirmed.
    pub booking_id: Option<&'a str>,
    /// Why (a decline, a refund).
    pub reason: Option<&'a str>,
}

impl Ledger {
    /// Begins the saga of `p` in state `pending`, or returns the saga of
    /// this order begun before (a retried checkout: same order id).
    pub async fn begin_payment(&self, p: &NewPayment) -> Result<PaymentRecord, LedgerError> {
        sqlx::query(
            "INSERT INTO payments (order_id, showtime, user_id, amount, payment_key, provider, tickets, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8) ON CONFLICT DO NOTHING",
        )
        .bind(&p.order_id)
        .bind(&p.showtime)
        .bind(&p.user)
        .bind(p.amount)
        .bind(&p.payment_key)
        .bind(&p.provider)
        .bind(&p.tickets)
        .bind(p.now)
        .execute(&self.pool)
        .await?;
        self.payment(&p.order_id).await?.ok_or(LedgerError::NotFound)
    }

    /// The saga of `order_id`.
    pub async fn payment(&self, order_id: &str) -> Result<Option<PaymentRecord>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE order_id = $1");
        let row = sqlx::query(&sql).bind(order_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(record).transpose()
    }

    /// Moves `order_id` from one of `from` to `to` (with `step`'s changes)
    /// at `now`; `false` when it was in none of `from` (another node took
    /// the step first, or it is finished).
    pub async fn transition_payment(
        &self,
        order_id: &str,
        from: &[PaymentState],
        to: PaymentState,
        step: Step<'_>,
        now: Millis,
    ) -> Result<bool, LedgerError> {
        if from.is_empty() {
            return Ok(false);
        }
        // The states are a fixed set of literals, not input.
        let states = from.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE payments SET state = $1, updated_at = $2, \
             payment_key = COALESCE($3, payment_key), booking_id = COALESCE($4, booking_id), \
             last_error = COALESCE($5, last_error) \
             WHERE order_id = $6 AND state IN ({states})"
        );
        let r = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(now)
            .bind(step.payment_key)
            .bind(step.booking_id)
            .bind(step.reason)
            .bind(order_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Records a failed attempt at the next step of `order_id` (the saga
    /// stays where it is; `updated_at` moves, so the reconciler waits again).
    pub async fn note_payment_attempt(&self, order_id: &str, error: &str, now: Millis) -> Result<(), LedgerError> {
        let error: String = error.chars().take(500).collect();
        sqlx::query(
            "UPDATE payments SET attempts = attempts + 1, last_error = $1, updated_at = $2 WHERE order_id = $3",
        )
        .bind(error)
        .bind(now)
        .bind(order_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Up to `limit` unfinished sagas (pending, approved, refund_pending)
    /// last changed at or before `older_than`, oldest first: the reconciler's
    /// work after a crash. A refund not tried yet (a booking cancelled, or a
    /// confirm that failed) is due at once: refunding races no one (the
    /// provider's cancel is idempotent, the step a compare-and-set).
    pub async fn unfinished_payments(&self, older_than: Millis, limit: i64) -> Result<Vec<PaymentRecord>, LedgerError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE state IN ('pending', 'approved', 'refund_pending') \
             AND (updated_at <= $1 OR (state = 'refund_pending' AND attempts = 0)) \
             ORDER BY updated_at, order_id LIMIT $2"
        );
        let rows = sqlx::query(&sql).bind(older_than).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }
}
