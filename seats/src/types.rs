//! The values the store hands out and takes in: seat maps, holds, bookings,
//! published deltas, requests, limits and the clock. Plain data with serde
//! shapes documented in `docs/protocol.md`; no behaviour beyond small helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{SeatClass, SeatId};
use crate::tickets::{Line, Tickets};

/// Default lifetime of a hold.
pub const DEFAULT_HOLD_TTL: Duration = Duration::from_secs(10 * 60);
/// Shortest hold TTL a client may ask for.
pub const MIN_HOLD_TTL: Duration = Duration::from_secs(10);
/// Longest hold TTL a client may ask for (extend to go further).
pub const MAX_HOLD_TTL: Duration = Duration::from_secs(30 * 60);
/// How long a hold may live in all, counted from its creation, by extending.
pub const MAX_HOLD_TOTAL: Duration = Duration::from_secs(2 * 3600);
/// How many times one hold may be extended.
pub const MAX_EXTENDS: u32 = 12;
/// Most seats in one hold.
pub const MAX_SEATS_PER_HOLD: usize = 10;
/// How long the result of a hold is remembered under its idempotency key:
/// longer than any hold can live.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(3 * 3600);
/// How long an ended hold is remembered, so that confirming it late says
/// "expired" rather than "not found".
pub const ENDED_HOLD_MEMORY: Duration = Duration::from_secs(3600);
/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 64;
/// How long the seat state of a showtime (seats, holds, bookings, version) is
/// kept after the showtime ends: long enough to answer "my bookings" and
/// cancellations about it for a few days, then Redis drops it by itself.
pub const SHOWTIME_STATE_KEEP: Duration = Duration::from_secs(3 * 24 * 3600);

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The store's notion of "now". Tests use [`Clock::manual`] to expire holds
/// without sleeping; both engines take the time from here (the Redis scripts
/// receive it as an argument), so nodes should run NTP-synchronised clocks.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that moves only when told to.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start_ms`.
    pub fn manual(start_ms: Millis) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    /// Now, in milliseconds since the epoch.
    pub fn now_ms(&self) -> Millis {
        match self {
            Clock::System => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(t) = self {
            t.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        }
    }
}

/// The public state of a seat, as in deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeatState {
    /// Anyone may hold it.
    Free,
    /// Held by someone until the hold expires, is released or confirmed.
    Held,
    /// Sold.
    Sold,
}

/// One seat in a [`SeatMap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeatStatus {
    /// `A7`.
    pub seat: SeatId,
    /// Its class.
    pub class: SeatClass,
    /// Its position in the row counting aisle gaps, 0 = leftmost; seats of
    /// different rows with the same column stand one behind the other.
    #[serde(default)]
    pub column: u16,
    /// Free, held or sold.
    pub state: SeatState,
    /// Whether the viewer holds or bought it. Other users' ids are never shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mine: bool,
    /// When the viewer's own hold expires (unix ms); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Millis>,
    /// The viewer's hold id for a seat they hold; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<String>,
}

/// The full seat map of a showtime at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeatMap {
    /// The showtime id.
    pub showtime: String,
    /// Version: the number of changes applied so far (0 = untouched).
    pub version: u64,
    /// Every seat of the layout, row by row.
    pub seats: Vec<SeatStatus>,
    /// Positions per row (seats and gaps) of the widest row: `column` is below it.
    #[serde(default)]
    pub columns: u16,
    /// The aisles: columns where no row has a seat, left to right.
    #[serde(default)]
    pub aisles: Vec<u16>,
}

/// A successful hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Hold {
    /// Id to extend, release or confirm it with.
    pub hold_id: String,
    /// The showtime.
    pub showtime: String,
    /// The seats held, sorted.
    pub seats: Vec<SeatId>,
    /// When it expires unless extended (unix ms).
    pub expires_at: Millis,
    /// How many more extends are allowed.
    pub extends_left: u32,
    /// The showtime version after the hold.
    pub version: u64,
    /// Each seat (sorted) with its class, ticket type and unit price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<Line>,
    /// How many tickets of each type (`{"adult":2,"child":1}`).
    #[serde(default, skip_serializing_if = "Tickets::is_empty")]
    pub tickets: Tickets,
    /// Total price in won: the sum of the lines' prices, computed by the store.
    #[serde(default)]
    pub amount: u32,
}

/// Whether a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    /// Seats sold to the user.
    Confirmed,
    /// Cancelled by the user; seats freed.
    Cancelled,
}

/// A booking: seats sold to one user by one confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Booking {
    /// Id, `bk<hex>-<showtime>`.
    pub booking_id: String,
    /// The short code a person reads over the phone or shows at the door
    /// (8 characters without look-alikes, e.g. `K7MQ3XPA`).
    #[serde(default)]
    pub code: String,
    /// The showtime.
    pub showtime: String,
    /// The buyer.
    pub user: String,
    /// The seats, sorted.
    pub seats: Vec<SeatId>,
    /// When it was confirmed (unix ms).
    pub created_at: Millis,
    /// Confirmed or cancelled.
    pub status: BookingStatus,
    /// Total price in won, from the showtime's prices per class, as charged
    /// (recorded in the ledger at the confirm).
    pub amount: u32,
    /// The showtime version after the confirm (or cancel) when the answer
    /// made it; 0 in listings and events.
    pub version: u64,
    /// Each seat (sorted) with its class, ticket type and unit price, as sold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<Line>,
    /// How many tickets of each type (`{"adult":2,"child":1}`).
    #[serde(default, skip_serializing_if = "Tickets::is_empty")]
    pub tickets: Tickets,
    /// A cancelled booking that was paid: where the refund of `amount`
    /// stands (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
}

/// Where the refund of a cancelled, paid booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Refund {
    /// Owed since the cancel committed; the payment reconciler has the
    /// provider refund it (retried until it succeeds).
    Pending,
    /// The provider refunded the whole amount.
    Refunded,
}

/// Seats released by [`crate::SeatStore::release`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Released {
    /// The seats that were freed (only the caller's own holds are touched).
    pub seats: Vec<SeatId>,
    /// The showtime version after the release.
    pub version: u64,
}

/// What to release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseTarget {
    /// Every seat of one hold.
    Hold(String),
    /// These seats, wherever the caller holds them.
    Seats(Vec<String>),
}

/// A hold request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    /// The showtime.
    pub showtime: String,
    /// The authenticated user.
    pub user: String,
    /// Seat ids (order and duplicates do not matter).
    pub seats: Vec<String>,
    /// Lifetime; `None` = [`DEFAULT_HOLD_TTL`].
    pub ttl: Option<Duration>,
    /// Client-chosen key: a retry with the same key returns the first result.
    pub idempotency_key: String,
    /// How many tickets of each type; `None`: all adult. Must add up to the
    /// number of (distinct) seats.
    pub tickets: Option<Tickets>,
}

/// One seat change in a [`Delta`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `A7`.
    pub seat: SeatId,
    /// The new state (the holder is never named).
    pub state: SeatState,
}

/// What is published on `showtime:<id>` for every change, in version order:
/// `{"type":"seats","showtime":"..","version":N,"changes":[{"seat":"A7","state":"held"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// Always `seats`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The showtime.
    pub showtime: String,
    /// The version this delta produces (previous + 1).
    pub version: u64,
    /// The changes, applied in order.
    pub changes: Vec<Change>,
}

impl Delta {
    /// The JSON text of a delta (the same bytes the Redis scripts build).
    pub fn to_json(showtime: &str, version: u64, changes: &[(SeatId, SeatState)]) -> String {
        let parts: Vec<String> = changes
            .iter()
            .map(|(s, st)| {
                let st = match st {
                    SeatState::Free => "free",
                    SeatState::Held => "held",
                    SeatState::Sold => "sold",
                };
                format!(r#"{{"seat":"{s}","state":"{st}"}}"#)
            })
            .collect();
        format!(r#"{{"type":"seats","showtime":"{showtime}","version":{version},"changes":[{}]}}"#, parts.join(","))
    }
}

/// What goes to the notifications stream and to `user:<id>` when a booking is
/// confirmed or cancelled: `{"type":"booking","event":"confirmed","booking":{..}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingEvent {
    /// Always `booking`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `confirmed` or `cancelled`.
    pub event: BookingStatus,
    /// The booking.
    pub booking: Booking,
}

impl BookingEvent {
    /// A `booking` event for `booking`.
    pub fn new(booking: Booking) -> BookingEvent {
        BookingEvent { kind: "booking".into(), event: booking.status, booking }
    }
}
