//! Checkout as a saga: hold → payment → confirm, with compensation.
//!
//! The saga's state is the ledger's `payments` row of the order (the order id
//! is the hold id), written before each step it guards:
//!
//! 1. `pending`: recorded with the amount the store computed ([`SeatStore::quote`]);
//! 2. the provider confirms the payment (`Idempotency-Key: confirm:<order>`):
//!    approved → `approved`; declined → `declined`, the hold is released
//!    (`payment_declined`); no answer → the order is looked up at the
//!    provider, and stays `pending` when that fails too (`payment_pending`);
//! 3. [`SeatStore::confirm`] sells the hold (it is idempotent: one booking
//!    per hold) → `confirmed`; when the hold expired, was released or its
//!    seats were sold, → `refund_pending`, the provider cancels the payment
//!    (`Idempotency-Key: cancel:<order>`) → `refunded` (`payment_refunded`).
//!
//! Every transition is a compare-and-set on the row, and a refund is only
//! decided after a confirm failed for good with no booking of the hold in
//! the ledger, so a saga ends confirmed or refunded, never both. A process
//! that dies between the steps leaves the row unfinished; [`reconcile_payments`]
//! (run by [`run_reconciler`] on every node) finishes every saga older than
//! a grace period, and a retried checkout of the same hold resumes it the
//! same way: one charge, one booking.
//!
//! The saga lives here, beside the store, and not in the gateway: it needs
//! nothing of HTTP or WebSocket, and its tests run against the store's real
//! engines. It uses only the store's public operations (and reads the
//! schedule's prices for the quote), so it leaves the confirm itself alone.

use std::sync::LazyLock;
use std::time::Duration;

use ledger::{NewPayment, PaymentRecord, PaymentState as P, Step};
use payment::{ConfirmRequest, OrderState, PaymentError, PaymentProvider};
use telemetry::CounterFamily;
use tokio_util::sync::CancellationToken;

use crate::{Booking, Millis, ReleaseTarget, SeatError, SeatId, SeatStore, Tickets};

/// How long an unfinished saga is left to the checkout running it before
/// the reconciler takes it over.
pub const RECONCILE_AFTER: Duration = Duration::from_secs(30);
/// How often [`run_reconciler`] looks for unfinished sagas by default.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(5);
/// Most sagas one reconcile pass finishes.
const RECONCILE_BATCH: i64 = 32;

static COMPENSATIONS: LazyLock<CounterFamily> = LazyLock::new(|| {
    let c = CounterFamily::default();
    telemetry::global().register(
        "marquee_payment_compensations_total",
        "Payment sagas compensated, by kind (refund: charged but not booked, refunded; release: declined, hold released; cancel: a paid booking cancelled, refunded)",
        c.clone(),
    );
    c
});

/// Registers the saga's metrics (they appear at 0 before first use).
pub fn init_metrics() {
    for kind in ["refund", "release", "cancel"] {
        let _ = COMPENSATIONS.get_or_create(&[("kind", kind)]);
    }
}

fn compensated(kind: &'static str) {
    COMPENSATIONS.get_or_create(&[("kind", kind)]).inc();
}

/// What a client says about its payment at the confirm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PaymentInput {
    /// Nothing (or `{"provider":"demo"}`): the demo provider approves.
    #[default]
    Demo,
    /// A Toss payment the client authorised in the payment window.
    Toss {
        /// The key Toss handed the client.
        payment_key: String,
        /// Must be the hold id.
        order_id: String,
        /// Must be the amount the store computes for the hold.
        amount: i64,
    },
}

/// The seats and price of a hold, as the store would sell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The hold.
    pub hold_id: String,
    /// The showtime.
    pub showtime: String,
    /// Its seats, sorted.
    pub seats: Vec<SeatId>,
    /// The price, in won.
    pub amount: u32,
    /// When the hold expires (unix ms).
    pub expires_at: Millis,
}

/// Why a checkout did not end in a booking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    /// The store refused before anything was charged (hold not found,
    /// expired, not the caller's…).
    #[error(transparent)]
    Seat(#[from] SeatError),
    /// The provider declined; nothing charged, the hold was released.
    #[error("payment declined: {message}")]
    Declined {
        /// The provider's code.
        code: String,
        /// Its message.
        message: String,
    },
    /// Charged, but the hold could not be sold: the payment is refunded
    /// (or being refunded).
    #[error("payment refunded: {reason}")]
    Refunded {
        /// Why the booking failed (an error code).
        reason: String,
    },
    /// The client's payment does not match the hold (order id or amount).
    #[error("payment does not match the hold: {0}")]
    Mismatch(String),
    /// The provider's answer is not known yet; the saga is finished later
    /// (retry the same confirm, or the reconciler will).
    #[error("payment outcome not known yet: {0}")]
    Pending(String),
}

impl CheckoutError {
    /// The stable error code (`docs/protocol.md`).
    pub fn code(&self) -> &'static str {
        match self {
            CheckoutError::Seat(e) => e.code(),
            CheckoutError::Declined { .. } => "payment_declined",
            CheckoutError::Refunded { .. } => "payment_refunded",
            CheckoutError::Mismatch(_) => "payment_mismatch",
            CheckoutError::Pending(_) => "payment_pending",
        }
    }
}

impl From<ledger::LedgerError> for CheckoutError {
    fn from(e: ledger::LedgerError) -> Self {
        CheckoutError::Seat(e.into())
    }
}

impl SeatStore {
    /// The caller's hold `hold_id` with the price the confirm would charge
    /// for `tickets` (`None`: the hold's), priced as the confirm prices it
    /// (read only).
    pub async fn quote(
        &self,
        showtime: &str,
        user: &str,
        hold_id: &str,
        tickets: Option<&Tickets>,
    ) -> Result<Quote, SeatError> {
        let map = self.snapshot(showtime, Some(user)).await?;
        let mine: Vec<_> = map.seats.iter().filter(|s| s.mine && s.hold_id.as_deref() == Some(hold_id)).collect();
        let Some(expires_at) = mine.iter().filter_map(|s| s.until).min() else {
            return Err(SeatError::HoldNotFound);
        };
        if expires_at <= self.clock().now_ms() {
            return Err(SeatError::HoldExpired);
        }
        let seats: Vec<SeatId> = mine.iter().map(|s| s.seat.clone()).collect();
        let tickets = match tickets {
            Some(t) => t.normalised(),
            None => self.hold_tickets(showtime, hold_id, seats.len()).await?,
        };
        let amount = crate::tickets::amount(&self.schedule.lines(showtime, &seats, &tickets)?);
        Ok(Quote { hold_id: hold_id.to_owned(), showtime: showtime.to_owned(), seats, amount, expires_at })
    }
}

/// Runs the whole saga for `user`'s hold `hold_id`: the booking, or why
/// not. A retry (same hold) resumes the saga where it stands and returns
/// the same booking; it never charges twice.
pub async fn checkout(
    store: &SeatStore,
    provider: &PaymentProvider,
    showtime: &str,
    user: &str,
    hold_id: &str,
    tickets: Option<Tickets>,
    input: &PaymentInput,
) -> Result<Booking, CheckoutError> {
    if store.ledger().payment(hold_id).await?.is_none()
        && let Err(e) = store.quote(showtime, user, hold_id, tickets.as_ref()).await
    {
        // Nothing to pay for. A hold sold before: its booking. With the
        // demo provider (nothing is charged), the store's own answer, as a
        // confirm without payment gives it (not_owner, hold_expired…).
        if matches!(provider, PaymentProvider::Demo) || store.ledger().booking_by_hold(hold_id).await?.is_some() {
            return Ok(store.confirm_with(showtime, user, hold_id, tickets).await?);
        }
        return Err(e.into());
    }
    let record = pay(store, provider, showtime, user, hold_id, tickets, input).await?;
    finish(store, provider, record).await
}

/// The saga's first half: begins it (or finds it) and has the provider
/// approve the payment. Returns the saga once approved (or further);
/// [`finish`] does the rest. A process that stops after this leaves an
/// approved saga for the reconciler.
pub async fn pay(
    store: &SeatStore,
    provider: &PaymentProvider,
    showtime: &str,
    user: &str,
    hold_id: &str,
    tickets: Option<Tickets>,
    input: &PaymentInput,
) -> Result<PaymentRecord, CheckoutError> {
    let ledger = store.ledger();
    let record = match ledger.payment(hold_id).await? {
        Some(p) => p,
        None => {
            let quote = store.quote(showtime, user, hold_id, tickets.as_ref()).await?;
            let amount = i64::from(quote.amount);
            let payment_key = match (provider, input) {
                (PaymentProvider::Demo, _) => String::new(),
                (PaymentProvider::Toss(_), PaymentInput::Toss { payment_key, order_id, amount: paid }) => {
                    if order_id != hold_id {
                        return Err(CheckoutError::Mismatch("order_id must be the hold id".into()));
                    }
                    if *paid != amount {
                        return Err(CheckoutError::Mismatch(format!("amount must be {amount}")));
                    }
                    payment_key.clone()
                }
                (PaymentProvider::Toss(_), PaymentInput::Demo) => {
                    return Err(CheckoutError::Mismatch("this server takes Toss payments: send payment_key".into()));
                }
            };
            let new = NewPayment {
                order_id: hold_id.to_owned(),
                showtime: showtime.to_owned(),
                user: user.to_owned(),
                amount,
                payment_key,
                provider: provider.name().to_owned(),
                tickets: match &tickets {
                    Some(t) => serde_json::to_string(t).map_err(|e| SeatError::Storage(e.to_string()))?,
                    None => String::new(),
                },
                now: store.clock().now_ms(),
            };
            ledger.begin_payment(&new).await?
        }
    };
    if record.user != user || record.showtime != showtime {
        return Err(SeatError::NotOwner.into());
    }
    if record.state != P::Pending {
        return Ok(record);
    }
    let req = ConfirmRequest {
        payment_key: record.payment_key.clone(),
        order_id: record.order_id.clone(),
        amount: record.amount,
        idempotency_key: format!("confirm:{}", record.order_id),
    };
    let outcome = match provider.confirm(&req).await {
        Err(PaymentError::Unknown(why)) => match provider.lookup(&record.order_id).await {
            Ok(OrderState::Approved(a)) => Ok(a),
            Ok(state) => {
                // Not charged (yet): the request may still be on its way.
                note(store, &record, &format!("confirm unanswered ({why}); provider says {state:?}")).await;
                return Err(CheckoutError::Pending(why));
            }
            Err(e) => {
                note(store, &record, &e.to_string()).await;
                return Err(CheckoutError::Pending(e.to_string()));
            }
        },
        other => other,
    };
    match outcome {
        Ok(a) if a.amount == record.amount => {
            let step = Step { payment_key: Some(&a.payment_key), ..Step::default() };
            transition(store, &record, &[P::Pending], P::Approved, step).await?;
            reread(store, &record.order_id).await
        }
        Ok(a) => {
            // Charged another amount: give it back.
            let step = Step { payment_key: Some(&a.payment_key), reason: Some("amount_mismatch"), ..Step::default() };
            transition(store, &record, &[P::Pending], P::RefundPending, step).await?;
            reread(store, &record.order_id).await
        }
        Err(PaymentError::AmountMismatch { expected, actual }) => {
            let step = Step { reason: Some("amount_mismatch"), ..Step::default() };
            transition(store, &record, &[P::Pending], P::RefundPending, step).await?;
            tracing::warn!(order = %record.order_id, expected, actual, "provider charged another amount; refunding");
            reread(store, &record.order_id).await
        }
        Err(PaymentError::Declined { code, message }) => {
            decline(store, &record, &format!("{code}: {message}")).await?;
            Err(CheckoutError::Declined { code, message })
        }
        Err(PaymentError::Rejected { code, message, .. }) => {
            decline(store, &record, &format!("{code}: {message}")).await?;
            Err(CheckoutError::Declined { code, message })
        }
        Err(e @ (PaymentError::Unknown(_) | PaymentError::Config(_))) => {
            note(store, &record, &e.to_string()).await;
            Err(CheckoutError::Pending(e.to_string()))
        }
    }
}

/// The saga's second half, from wherever `record` stands: sells the hold
/// of an approved payment or refunds it; reports a finished saga's outcome
/// (the booking again for a confirmed one).
pub async fn finish(
    store: &SeatStore,
    provider: &PaymentProvider,
    record: PaymentRecord,
) -> Result<Booking, CheckoutError> {
    match record.state {
        P::Pending => Err(CheckoutError::Pending("not approved yet".into())),
        P::Declined => {
            let reason = record.last_error.unwrap_or_default();
            let (code, message) = reason.split_once(": ").unwrap_or(("DECLINED", &reason));
            Err(CheckoutError::Declined { code: code.to_owned(), message: message.to_owned() })
        }
        P::Refunded | P::RefundPending => refund(store, provider, record).await,
        P::Confirmed => Ok(confirm(store, &record).await?),
        P::Approved => match confirm(store, &record).await {
            Ok(b) => {
                if i64::from(b.amount) != record.amount {
                    // The quote and the confirm priced the hold differently.
                    tracing::error!(order = %record.order_id, charged = record.amount, booked = b.amount, "booking amount differs from the charge");
                }
                let step = Step { booking_id: Some(&b.booking_id), ..Step::default() };
                transition(store, &record, &[P::Approved], P::Confirmed, step).await?;
                Ok(b)
            }
            Err(
                e @ (SeatError::HoldExpired
                | SeatError::HoldNotFound
                | SeatError::Unavailable(_)
                | SeatError::NotOwner
                | SeatError::UnknownShowtime(_)),
            ) => {
                // The hold cannot be sold any more. Refund, unless a booking
                // of it was committed after all (then it is confirmed).
                if let Some(b) = store.ledger().booking_by_hold(&record.order_id).await? {
                    let step = Step { booking_id: Some(&b.booking_id), ..Step::default() };
                    transition(store, &record, &[P::Approved], P::Confirmed, step).await?;
                    return Ok(confirm(store, &record).await?);
                }
                let step = Step { reason: Some(e.code()), ..Step::default() };
                if !transition(store, &record, &[P::Approved], P::RefundPending, step).await? {
                    // Another node moved it on: report where it is now.
                    let now = reread(store, &record.order_id).await?;
                    return Box::pin(finish(store, provider, now)).await;
                }
                let now = reread(store, &record.order_id).await?;
                refund(store, provider, now).await
            }
            Err(e) => {
                // Storage trouble: the outcome of the confirm is unknown; the
                // reconciler (or a retry) tries again.
                note(store, &record, &e.to_string()).await;
                Err(CheckoutError::Pending(e.to_string()))
            }
        },
    }
}

/// Refunds a `refund_pending` saga through the provider (idempotently) and
/// records it; reports `payment_refunded` either way (a failed cancel is
/// retried by the reconciler). A saga that had confirmed (it names its
/// booking) is refunded because the customer cancelled that booking: the
/// ledger moved it to `refund_pending` in the cancel's own transaction.
async fn refund(
    store: &SeatStore,
    provider: &PaymentProvider,
    record: PaymentRecord,
) -> Result<Booking, CheckoutError> {
    let reason = record.last_error.clone().unwrap_or_else(|| "booking failed".into());
    let cancelled = record.booking_id.is_some();
    if record.state == P::RefundPending {
        let cancel_reason = if cancelled {
            "Marquee: booking cancelled".to_owned()
        } else {
            format!("Marquee: booking failed ({reason})")
        };
        match provider.cancel(&record.payment_key, &cancel_reason, &format!("cancel:{}", record.order_id)).await {
            Ok(()) => {
                if transition(store, &record, &[P::RefundPending], P::Refunded, Step::default()).await? {
                    compensated(if cancelled { "cancel" } else { "refund" });
                    tracing::info!(order = %record.order_id, amount = record.amount, %reason, "payment refunded");
                }
                if !cancelled {
                    release(store, &record).await;
                }
            }
            Err(e) => {
                tracing::warn!(order = %record.order_id, error = %e, "refund failed; the reconciler retries");
                note(store, &record, &format!("{reason}; refund failed: {e}")).await;
            }
        }
    }
    Err(CheckoutError::Refunded { reason: reason.split(';').next().unwrap_or_default().to_owned() })
}

/// Records a decline and releases the hold.
async fn decline(store: &SeatStore, record: &PaymentRecord, reason: &str) -> Result<(), CheckoutError> {
    let step = Step { reason: Some(reason), ..Step::default() };
    if transition(store, record, &[P::Pending], P::Declined, step).await? {
        compensated("release");
        release(store, record).await;
    }
    Ok(())
}

/// Releases what is left of the saga's hold (best effort: it may be gone).
async fn release(store: &SeatStore, record: &PaymentRecord) {
    let target = ReleaseTarget::Hold(record.order_id.clone());
    match store.release(&record.showtime, &record.user, target).await {
        Ok(_) | Err(SeatError::HoldNotFound | SeatError::HoldExpired) => {}
        Err(e) => tracing::warn!(order = %record.order_id, error = %e, "releasing the hold failed; it expires"),
    }
}

async fn transition(
    store: &SeatStore,
    record: &PaymentRecord,
    from: &[P],
    to: P,
    step: Step<'_>,
) -> Result<bool, CheckoutError> {
    Ok(store.ledger().transition_payment(&record.order_id, from, to, step, store.clock().now_ms()).await?)
}

async fn reread(store: &SeatStore, order_id: &str) -> Result<PaymentRecord, CheckoutError> {
    Ok(store.ledger().payment(order_id).await?.ok_or(SeatError::HoldNotFound)?)
}

async fn note(store: &SeatStore, record: &PaymentRecord, error: &str) {
    if let Err(e) = store.ledger().note_payment_attempt(&record.order_id, error, store.clock().now_ms()).await {
        tracing::warn!(order = %record.order_id, error = %e, "could not record a payment attempt");
    }
}

/// Finishes every saga left unfinished for longer than `grace` (a process
/// died between its steps, or an answer never came): a pending one is
/// looked up at the provider (approved → on to the confirm; not charged →
/// declined, hold released), an approved one is confirmed or refunded, a
/// refund is retried. Returns how many sagas reached a final state. Safe on
/// every node at once (each step is a compare-and-set).
pub async fn reconcile_payments(
    store: &SeatStore,
    provider: &PaymentProvider,
    grace: Duration,
) -> Result<usize, SeatError> {
    let before = store.clock().now_ms() - grace.as_millis() as i64;
    let unfinished = store.ledger().unfinished_payments(before, RECONCILE_BATCH).await?;
    let mut finished = 0;
    for record in unfinished {
        let order = record.order_id.clone();
        let record = match record.state {
            P::Pending => match provider.lookup(&order).await {
                Ok(OrderState::Approved(a)) if a.amount == record.amount => {
                    let step = Step { payment_key: Some(&a.payment_key), ..Step::default() };
                    transition(store, &record, &[P::Pending], P::Approved, step).await.map_err(seat_error)?;
                    reread(store, &order).await.map_err(seat_error)?
                }
                Ok(OrderState::Approved(a)) => {
                    let step =
                        Step { payment_key: Some(&a.payment_key), reason: Some("amount_mismatch"), ..Step::default() };
                    transition(store, &record, &[P::Pending], P::RefundPending, step).await.map_err(seat_error)?;
                    reread(store, &order).await.map_err(seat_error)?
                }
                Ok(state) => {
                    decline(store, &record, &format!("NOT_COMPLETED: payment not completed ({state:?})"))
                        .await
                        .map_err(seat_error)?;
                    finished += 1;
                    continue;
                }
                Err(e) => {
                    note(store, &record, &e.to_string()).await;
                    continue;
                }
            },
            _ => record,
        };
        match finish(store, provider, record).await {
            Ok(_) | Err(CheckoutError::Declined { .. }) => finished += 1,
            Err(CheckoutError::Refunded { .. }) => {
                if reread(store, &order).await.is_ok_and(|r| r.state.is_final()) {
                    finished += 1;
                }
            }
            Err(e) => tracing::debug!(%order, error = %e, "saga not finished yet; next pass"),
        }
    }
    Ok(finished)
}

fn seat_error(e: CheckoutError) -> SeatError {
    match e {
        CheckoutError::Seat(e) => e,
        other => SeatError::Storage(other.to_string()),
    }
}

/// Runs [`reconcile_payments`] every `every` until `shutdown`, with
/// [`RECONCILE_AFTER`] as the grace period; errors are logged and retried.
pub async fn run_reconciler(store: SeatStore, provider: PaymentProvider, every: Duration, shutdown: CancellationToken) {
    init_metrics();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            // A cancel that made a refund due wakes it at once.
            _ = store.refund_kicked() => {},
            _ = tick.tick() => {},
        }
        match reconcile_payments(&store, &provider, RECONCILE_AFTER).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(finished = n, "payment sagas reconciled"),
            Err(e) => tracing::warn!(error = %e, "payment reconciliation failed; retrying next tick"),
        }
    }
}

/// Sells the saga's hold with the tickets its checkout named (the hold's
/// when none): the same sale whichever node finishes it.
async fn confirm(store: &SeatStore, record: &PaymentRecord) -> Result<Booking, SeatError> {
    let tickets = if record.tickets.is_empty() {
        None
    } else {
        Some(serde_json::from_str::<Tickets>(&record.tickets).map_err(|e| SeatError::Storage(e.to_string()))?)
    };
    store.confirm_with(&record.showtime, &record.user, &record.order_id, tickets).await
}
