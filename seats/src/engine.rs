//! What the two engines share: validated commands and the raw answers they
//! return to [`crate::SeatStore`], which fills in what needs the schedule
//! (free seats, classes, prices). Engines never see unvalidated input.

use std::collections::HashMap;

use crate::domain::SeatId;
use crate::types::{Millis, SeatState};

/// The taken seats of a showtime, as the engine sees them for one viewer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Taken {
    pub version: u64,
    /// Whether the showtime's sold seats were rebuilt from the ledger (false
    /// after Redis lost its data, or before the first use in process).
    pub synced: bool,
    pub seats: HashMap<SeatId, TakenSeat>,
}

/// A held or sold seat, from one viewer's point of view.
#[derive(Debug, Clone)]
pub(crate) struct TakenSeat {
    pub state: SeatState,
    pub mine: bool,
    /// The viewer's own hold: its expiry and id.
    pub hold: Option<(Millis, String)>,
}

/// A validated hold command.
#[derive(Debug, Clone)]
pub(crate) struct HoldCmd<'a> {
    pub showtime: &'a str,
    pub user: &'a str,
    /// Sorted, deduplicated, all on the layout.
    pub seats: &'a [SeatId],
    pub ttl_ms: i64,
    pub key: &'a str,
    /// A fresh id, used only if the hold is new.
    pub hold_id: String,
    pub now: Millis,
}

/// A booking of the ledger as the cache needs it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct CachedBooking {
    #[serde(rename = "b")]
    pub booking_id: String,
    #[serde(rename = "u")]
    pub user: String,
    #[serde(rename = "s")]
    pub seats: Vec<SeatId>,
    #[serde(rename = "st", serialize_with = "status_name")]
    pub confirmed: bool,
}

fn status_name<S: serde::Serializer>(confirmed: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *confirmed { "confirmed" } else { "cancelled" })
}

/// A validated release target.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Hold(String),
    Seats(Vec<SeatId>),
}

/// A fresh hold id: `h` and 16 hex digits.
pub(crate) fn new_hold_id() -> String {
    format!("h{:016x}", rand::random::<u64>())
}

/// A fresh booking id that names its showtime: `bk<12 hex>-<showtime>`.
pub(crate) fn new_booking_id(showtime: &str) -> String {
    format!("bk{:012x}-{showtime}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// A fresh booking code (see [`crate::BookingCode`]).
pub(crate) fn new_booking_code() -> String {
    crate::BookingCode::generate().to_string()
}

/// The showtime a booking id names.
pub(crate) fn showtime_of_booking(booking_id: &str) -> Option<&str> {
    let rest = booking_id.strip_prefix("bk")?;
    let (hex, showtime) = rest.split_once('-')?;
    (hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && !showtime.is_empty()).then_some(showtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_ids_name_their_showtime() {
        let id = new_booking_id("gangnam-1-20261122-2000");
        assert_eq!(showtime_of_booking(&id), Some("gangnam-1-20261122-2000"));
        assert_eq!(showtime_of_booking("bkxyz-a"), None);
        assert_eq!(showtime_of_booking("nope"), None);
    }
}
