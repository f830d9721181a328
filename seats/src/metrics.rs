//! The seat store's metrics (operations by outcome, lanes, sweeper, booking
//! notifications), registered once into [`telemetry::global`]. Each call site
//! is one line: a function here that records and, where it wraps a result,
//! hands it back unchanged. Labels come from fixed sets (operation names,
//! [`SeatError::code`], failure reasons), never from a request.

use std::sync::LazyLock;

use telemetry::{Counter, CounterFamily, CounterFamily2, Gauge, Histogram};

use crate::error::SeatError;

struct SeatMetrics {
    operations: CounterFamily2,
    lane_batch: Histogram,
    lane_queued: Gauge,
    lane_refused: Counter,
    expired: Counter,
    delivered: CounterFamily,
    failures: CounterFamily2,
    dead: CounterFamily,
}

static METRICS: LazyLock<SeatMetrics> = LazyLock::new(|| {
    let m = SeatMetrics {
        operations: CounterFamily2::default(),
        // Batches hold 1..=MAX_BATCH (64) operations.
        lane_batch: Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
        lane_queued: Gauge::default(),
        lane_refused: Counter::default(),
        expired: Counter::default(),
        delivered: CounterFamily::default(),
        failures: CounterFamily2::default(),
        dead: CounterFamily::default(),
    };
    let mut r = telemetry::global();
    r.register(
        "marquee_seat_operations_total",
        "Seat store operations run by the engine, by operation and outcome (ok or the error code)",
        m.operations.clone(),
    );
    r.register(
        "marquee_seat_lane_batch_ops",
        "Operations per group-commit batch of a showtime lane (Redis engine)",
        m.lane_batch.clone(),
    );
    r.register(
        "marquee_seat_lane_queued_ops",
        "Seat operations waiting in this process's showtime lanes",
        m.lane_queued.clone(),
    );
    r.register(
        "marquee_seat_lane_refusals_total",
        "Seat operations refused at once because their showtime's lane was full",
        m.lane_refused.clone(),
    );
    r.register("marquee_seats_expired_total", "Held seats released by the expiry sweeper", m.expired.clone());
    r.register(
        "marquee_notifications_delivered_total",
        "Booking events delivered from the outbox, by channel (live, webhook, email)",
        m.delivered.clone(),
    );
    r.register(
        "marquee_notification_failures_total",
        "Failed outbox deliveries by channel and outcome (retry: due again after a backoff; dead_letter: given up)",
        m.failures.clone(),
    );
    r.register(
        "marquee_notification_dead_letters_total",
        "Outbox events given up on (a permanent failure or too many attempts), by channel",
        m.dead.clone(),
    );
    drop(r);
    m
});

/// Registers the seat store's metrics (they appear at 0 before first use).
pub fn init() {
    LazyLock::force(&METRICS);
}

/// Records the outcome of operation `op` and returns `result` unchanged.
pub(crate) fn op<T>(op: &'static str, result: Result<T, SeatError>) -> Result<T, SeatError> {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    METRICS.operations.get_or_create(&[("op", op), ("outcome", outcome)]).inc();
    result
}

/// Records a sweep's freed seats and returns `result` unchanged.
pub(crate) fn swept(result: Result<usize, SeatError>) -> Result<usize, SeatError> {
    if let Ok(n) = &result {
        METRICS.expired.inc_by(*n as u64);
    }
    result
}

/// One operation queued on a lane.
pub(crate) fn lane_queued() {
    METRICS.lane_queued.inc();
}

/// One operation refused by a full lane.
pub(crate) fn lane_refused() {
    METRICS.lane_refused.inc();
}

/// `n` operations left a lane's queue as one batch (`batch`) or because the
/// lane was dropped (not a batch).
pub(crate) fn lane_dequeued(n: usize, batch: bool) {
    METRICS.lane_queued.dec_by(n as i64);
    if batch {
        METRICS.lane_batch.observe(n as f64);
    }
}

/// The label of an outbox channel (a fixed set; anything else is `other`).
fn channel_label(channel: &str) -> &'static str {
    match channel {
        crate::LIVE_CHANNEL => crate::LIVE_CHANNEL,
        crate::notifier::WEBHOOK_CHANNEL => crate::notifier::WEBHOOK_CHANNEL,
        crate::mail::EMAIL_CHANNEL => crate::mail::EMAIL_CHANNEL,
        _ => "other",
    }
}

/// An outbox event delivered on `channel`.
pub(crate) fn notification_delivered(channel: &str) {
    METRICS.delivered.get_or_create(&[("channel", channel_label(channel))]).inc();
}

/// A failed outbox delivery; `outcome` is `retry` or `dead_letter`.
pub(crate) fn notification_failed(channel: &str, outcome: &'static str) {
    let channel = channel_label(channel);
    METRICS.failures.get_or_create(&[("channel", channel), ("outcome", outcome)]).inc();
    if outcome == "dead_letter" {
        METRICS.dead.get_or_create(&[("channel", channel)]).inc();
    }
}
