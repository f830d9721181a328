//! Bookings and the seats they sold: recorded and cancelled in one
//! transaction each, together with the outbox events that announce them.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::outbox::{NewEvent, insert_events};
use crate::payments::PaymentState;
use crate::{Ledger, LedgerError, Millis, is_unique_violation};

/// Whether a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingStatus {
    /// Seats sold.
    Confirmed,
    /// Cancelled; its seats are free again.
    Cancelled,
}

impl BookingStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<BookingStatus, LedgerError> {
        match s {
            "confirmed" => Ok(BookingStatus::Confirmed),
            "cancelled" => Ok(BookingStatus::Cancelled),
            other => Err(LedgerError::Corrupt(format!("booking status {other:?}"))),
        }
    }
}

/// A booking to record: the sale of one hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBooking {
    /// Its id (`bk…-<showtime>`).
    pub booking_id: String,
    /// The short code a person reads over the phone (unique).
    pub code: String,
    /// The hold it sells: one booking per hold, so a retried confirm finds
    /// the booking instead of making a second one.
    pub hold_id: String,
    /// The showtime.
    pub showtime: String,
    /// The buyer.
    pub user: String,
    /// The seats, sorted.
    pub seats: Vec<String>,
    /// Ticket lines and prices as JSON text (owned by `seats`).
    pub details: String,
    /// The total charged, in won.
    pub amount: i64,
    /// When it was confirmed.
    pub created_at: Millis,
}

/// A stored booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRecord {
    /// Its id.
    pub booking_id: String,
    /// Its short code.
    pub code: String,
    /// The hold it sold.
    pub hold_id: String,
    /// The showtime.
    pub showtime: String,
    /// The buyer.
    pub user: String,
    /// The seats, sorted.
    pub seats: Vec<String>,
    /// Ticket lines and prices (JSON text).
    pub details: String,
    /// The total, in won.
    pub amount: i64,
    /// Confirmed or cancelled.
    pub status: BookingStatus,
    /// When it was confirmed.
    pub created_at: Millis,
    /// When it was cancelled.
    pub cancelled_at: Option<Millis>,
    /// Whether the seat cache (Redis or the in-process store) shows this
    /// status yet; `false` leaves it to [`Ledger::unapplied`].
    pub applied: bool,
    /// Where the payment saga that paid it stands (`None`: confirmed
    /// without one). A cancelled paid booking is `refund_pending` until the
    /// provider refunded it, then `refunded`.
    pub payment: Option<PaymentState>,
}

/// A sold seat of a showtime and who bought it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldSeat {
    /// The seat id.
    pub seat: String,
    /// The booking that sold it.
    pub booking_id: String,
    /// Its buyer.
    pub user: String,
}

// `payment_state`: the state of the payment saga that paid the booking (its
// order id is the hold id), `NULL` for a booking confirmed without one.
const COLUMNS: &str = "booking_id, code, hold_id, showtime, user_id, seats, details, amount, status, created_at, cancelled_at, applied_status, \
     (SELECT p.state FROM payments p WHERE p.order_id = bookings.hold_id) AS payment_state";

fn record(row: &AnyRow) -> Result<BookingRecord, LedgerError> {
    let seats: String = row.try_get("seats")?;
    let seats: Vec<String> =
        serde_json::from_str(&seats).map_err(|e| LedgerError::Corrupt(format!("booking seats: {e}")))?;
    let status = BookingStatus::parse(&row.try_get::<String, _>("status")?)?;
    let applied: String = row.try_get("applied_status")?;
    Ok(BookingRecord {
        booking_id: row.try_get("booking_id")?,
        code: row.try_get("code")?,
        hold_id: row.try_get("hold_id")?,
        showtime: row.try_get("showtime")?,
        user: row.try_get("user_id")?,
        seats,
        details: row.try_get("details")?,
        amount: row.try_get("amount")?,
        status,
        created_at: row.try_get("created_at")?,
        cancelled_at: row.try_get("cancelled_at")?,
        applied: applied == status.as_str(),
        payment: row.try_get::<Option<String>, _>("payment_state")?.as_deref().map(PaymentState::parse).transpose()?,
    })
}

/// What [`Ledger::record_booking`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The booking was committed now.
    New(BookingRecord),
    /// The hold had been recorded before (a retried confirm): that booking.
    Existing(BookingRecord),
}

impl Recorded {
    /// The booking, new or not.
    pub fn into_record(self) -> BookingRecord {
        match self {
            Recorded::New(r) | Recorded::Existing(r) => r,
        }
    }
}

impl Ledger {
    /// Commits `b` with its seats and `events` in one transaction, or
    /// nothing: [`LedgerError::SeatsSold`] names the seats a committed
    /// booking holds already. Recording a hold again (a retried confirm)
    /// returns the booking recorded first when it is the same sale, and
    /// [`LedgerError::Conflict`] when it is not. A clash of the random code
    /// with another booking's is [`LedgerError::CodeTaken`]: draw another.
    pub async fn record_booking(&self, b: &NewBooking, events: &[NewEvent]) -> Result<Recorded, LedgerError> {
        if let Some(prior) = self.booking_by_hold(&b.hold_id).await? {
            return same_sale(prior, b);
        }
        let seats = serde_json::to_string(&b.seats).map_err(|e| LedgerError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO bookings (booking_id, code, hold_id, showtime, user_id, seats, details, amount, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'confirmed', $9) ON CONFLICT DO NOTHING",
        )
        .bind(&b.booking_id)
        .bind(&b.code)
        .bind(&b.hold_id)
        .bind(&b.showtime)
        .bind(&b.user)
        .bind(&seats)
        .bind(&b.details)
        .bind(b.amount)
        .bind(b.created_at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            // Another confirm of the same hold won the race, or the code clashed.
            return match self.booking_by_hold(&b.hold_id).await? {
                Some(prior) => same_sale(prior, b),
                None => Err(LedgerError::CodeTaken),
            };
        }
        for seat in &b.seats {
            let r = sqlx::query("INSERT INTO sold_seats (showtime, seat, booking_id) VALUES ($1, $2, $3)")
                .bind(&b.showtime)
                .bind(seat)
                .bind(&b.booking_id)
                .execute(&mut *tx)
                .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    tx.rollback().await?;
                    let sold = self.sold_seats(&b.showtime).await?;
                    let taken = b.seats.iter().filter(|s| sold.iter().any(|x| &x.seat == *s)).cloned().collect();
                    return Err(LedgerError::SeatsSold(taken));
                }
                Err(e) => return Err(e.into()),
            }
        }
        insert_events(&mut tx, events, b.created_at).await?;
        tx.commit().await?;
        let stored = self.booking(&b.booking_id).await?.ok_or(LedgerError::NotFound)?;
        Ok(Recorded::New(stored))
    }

    /// Cancels `user`'s booking `booking_id` at `now`, frees its seats and
    /// queues `events`, in one transaction.
    pub async fn cancel_booking(
        &self,
        booking_id: &str,
        user: &str,
        now: Millis,
        events: &[NewEvent],
    ) -> Result<BookingRecord, LedgerError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE bookings SET status = 'cancelled', cancelled_at = $1 \
             WHERE booking_id = $2 AND user_id = $3 AND status = 'confirmed'",
        )
        .bind(now)
        .bind(booking_id)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(match self.booking(booking_id).await? {
                None => LedgerError::NotFound,
                Some(b) if b.user != user => LedgerError::NotOwner,
                Some(_) => LedgerError::AlreadyCancelled,
            });
        }
        sqlx::query("DELETE FROM sold_seats WHERE booking_id = $1").bind(booking_id).execute(&mut *tx).await?;
        // A paid booking owes a refund from this commit on: the saga moves
        // to `refund_pending` in the same transaction, so no crash can leave
        // a cancelled booking charged (the reconciler refunds it).
        sqlx::query(
            "UPDATE payments SET state = 'refund_pending', last_error = 'cancelled', updated_at = $1, attempts = 0 \
             WHERE order_id = (SELECT hold_id FROM bookings WHERE booking_id = $2) AND state = 'confirmed'",
        )
        .bind(now)
        .bind(booking_id)
        .execute(&mut *tx)
        .await?;
        insert_events(&mut tx, events, now).await?;
        tx.commit().await?;
        self.booking(booking_id).await?.ok_or(LedgerError::NotFound)
    }

    /// The booking `booking_id`.
    pub async fn booking(&self, booking_id: &str) -> Result<Option<BookingRecord>, LedgerError> {
        self.one("booking_id", booking_id).await
    }

    /// The booking that sold hold `hold_id`.
    pub async fn booking_by_hold(&self, hold_id: &str) -> Result<Option<BookingRecord>, LedgerError> {
        self.one("hold_id", hold_id).await
    }

    /// The booking with short code `code` (as stored: upper case, no separators).
    pub async fn booking_by_code(&self, code: &str) -> Result<Option<BookingRecord>, LedgerError> {
        self.one("code", code).await
    }

    async fn one(&self, column: &'static str, value: &str) -> Result<Option<BookingRecord>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM bookings WHERE {column} = $1");
        let row = sqlx::query(&sql).bind(value).fetch_optional(&self.pool).await?;
        row.as_ref().map(record).transpose()
    }

    /// `user`'s bookings, confirmed and cancelled, oldest first.
    pub async fn bookings_of(&self, user: &str) -> Result<Vec<BookingRecord>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM bookings WHERE user_id = $1 ORDER BY created_at, booking_id");
        let rows = sqlx::query(&sql).bind(user).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    /// Every sold seat of `showtime`, with its booking and buyer: what the
    /// seat cache is rebuilt from.
    pub async fn sold_seats(&self, showtime: &str) -> Result<Vec<SoldSeat>, LedgerError> {
        let rows = sqlx::query(
            "SELECT s.seat, s.booking_id, b.user_id FROM sold_seats s JOIN bookings b ON b.booking_id = s.booking_id \
             WHERE s.showtime = $1 ORDER BY s.seat",
        )
        .bind(showtime)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SoldSeat {
                    seat: r.try_get("seat")?,
                    booking_id: r.try_get("booking_id")?,
                    user: r.try_get("user_id")?,
                })
            })
            .collect()
    }

    /// Up to `limit` bookings whose current status the seat cache has not
    /// been told of (a node died between the commit and the cache update),
    /// oldest first.
    pub async fn unapplied(&self, limit: i64) -> Result<Vec<BookingRecord>, LedgerError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM bookings WHERE status <> applied_status ORDER BY created_at, booking_id LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    /// Records that the seat cache shows `status` for `booking_id`.
    pub async fn mark_applied(&self, booking_id: &str, status: BookingStatus) -> Result<(), LedgerError> {
        sqlx::query("UPDATE bookings SET applied_status = $1 WHERE booking_id = $2")
            .bind(status.as_str())
            .bind(booking_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn same_sale(prior: BookingRecord, b: &NewBooking) -> Result<Recorded, LedgerError> {
    if prior.user == b.user && prior.showtime == b.showtime && prior.seats == b.seats {
        Ok(Recorded::Existing(prior))
    } else {
        Err(LedgerError::Conflict)
    }
}
