//! The seat store's error type, with the stable error codes the gateway puts
//! on the wire. It must not log: errors are logged once, where handled.

use crate::domain::SeatId;

/// Everything a seat operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatError {
    /// No showtime with this id is scheduled.
    #[error("unknown showtime {0:?}")]
    UnknownShowtime(String),
    /// These seat ids do not exist on the showtime's screen.
    #[error("unknown seats: {}", join(.0))]
    UnknownSeats(Vec<String>),
    /// The request itself is invalid (empty, too many seats, bad id or TTL).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// These seats are held or sold by someone; nothing was held.
    #[error("seats not available: {}", join_ids(.0))]
    Unavailable(Vec<SeatId>),
    /// The idempotency key was used before for a different set of seats.
    #[error("idempotency key reused for a different request")]
    IdempotencyConflict,
    /// No such hold (never existed, released, or forgotten).
    #[error("hold not found")]
    HoldNotFound,
    /// The hold or booking belongs to another user.
    #[error("belongs to another user")]
    NotOwner,
    /// The hold expired before the operation.
    #[error("hold expired")]
    HoldExpired,
    /// The hold may not be extended again (count or two-hour limit reached).
    #[error("hold cannot be extended further")]
    ExtendLimit,
    /// No such booking.
    #[error("booking not found")]
    BookingNotFound,
    /// The booking was already cancelled.
    #[error("booking already cancelled")]
    AlreadyCancelled,
    /// Best-available found no block of seats that fits.
    #[error("no {0} adjacent seats available")]
    NoFit(usize),
    /// The tickets do not add up to the number of seats.
    #[error("{tickets} tickets for {seats} seats: give one ticket per seat")]
    TicketCountMismatch {
        /// Tickets asked for.
        tickets: u64,
        /// Seats held.
        seats: usize,
    },
    /// The showtime does not offer this ticket type.
    #[error("this showtime does not offer {} ({}) tickets", .0.as_str(), .0.label_ko())]
    TicketNotOffered(crate::tickets::TicketType),
    /// A minor's ticket (teen, child) for a film rated adults only.
    #[error("{} ({}) tickets cannot be sold for a film rated {} ({})", .ticket.as_str(), .ticket.label_ko(), .rating.as_str(), .rating.label_ko())]
    AgeRestricted {
        /// The refused ticket type.
        ticket: crate::tickets::TicketType,
        /// The film's rating.
        rating: crate::tickets::AgeRating,
    },
    /// The showtime's sold seats are not in the cache yet (Redis lost its
    /// data or the process just started): the store rebuilds them from the
    /// ledger and retries; it reaches a caller only as `unavailable`.
    #[error("seat map is being rebuilt; try again")]
    Unsynced,
    /// Redis or the database could not be reached or failed; the operation may or may not
    /// have happened (retry with the same idempotency key).
    #[error("storage unavailable: {0}")]
    Storage(String),
}

fn join(v: &[String]) -> String {
    v.join(", ")
}

fn join_ids(v: &[SeatId]) -> String {
    v.iter().map(SeatId::as_str).collect::<Vec<_>>().join(", ")
}

impl SeatError {
    /// The stable, machine-readable code (see `docs/protocol.md`).
    pub fn code(&self) -> &'static str {
        match self {
            SeatError::UnknownShowtime(_) => "unknown_showtime",
            SeatError::UnknownSeats(_) => "unknown_seat",
            SeatError::Invalid(_) => "invalid_request",
            SeatError::Unavailable(_) => "seats_unavailable",
            SeatError::IdempotencyConflict => "idempotency_conflict",
            SeatError::HoldNotFound => "hold_not_found",
            SeatError::NotOwner => "not_owner",
            SeatError::HoldExpired => "hold_expired",
            SeatError::ExtendLimit => "extend_limit",
            SeatError::BookingNotFound => "booking_not_found",
            SeatError::AlreadyCancelled => "already_cancelled",
            SeatError::NoFit(_) => "no_fit",
            SeatError::TicketCountMismatch { .. } => "ticket_count_mismatch",
            SeatError::TicketNotOffered(_) => "ticket_not_offered",
            SeatError::AgeRestricted { .. } => "age_restricted",
            SeatError::Storage(_) | SeatError::Unsynced => "unavailable",
        }
    }

    /// Whether the caller may retry the same request later with success
    /// (only storage failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SeatError::Storage(_) | SeatError::Unsynced)
    }

    /// Maps an error code returned by a Lua script to the error.
    pub(crate) fn from_script(code: &str, seats: Vec<SeatId>) -> SeatError {
        match code {
            "seats_unavailable" => SeatError::Unavailable(seats),
            "hold_not_found" => SeatError::HoldNotFound,
            "not_owner" => SeatError::NotOwner,
            "hold_expired" => SeatError::HoldExpired,
            "extend_limit" => SeatError::ExtendLimit,
            "booking_not_found" => SeatError::BookingNotFound,
            "already_cancelled" => SeatError::AlreadyCancelled,
            "unsynced" => SeatError::Unsynced,
            other => SeatError::Storage(format!("unexpected script error {other:?}")),
        }
    }
}

impl From<bus::BusError> for SeatError {
    fn from(e: bus::BusError) -> Self {
        SeatError::Storage(e.to_string())
    }
}

impl From<ledger::LedgerError> for SeatError {
    fn from(e: ledger::LedgerError) -> Self {
        use ledger::LedgerError as L;
        match e {
            L::SeatsSold(seats) => SeatError::Unavailable(seats.iter().filter_map(|s| SeatId::parse(s)).collect()),
            L::NotFound => SeatError::BookingNotFound,
            L::NotOwner => SeatError::NotOwner,
            L::AlreadyCancelled => SeatError::AlreadyCancelled,
            L::Conflict => SeatError::IdempotencyConflict,
            other => SeatError::Storage(other.to_string()),
        }
    }
}
