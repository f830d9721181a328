//! The booking dialogue as a state machine over slots.
//!
//! One call to [`step`] is one round of a turn: either a new user message
//! (read with [`crate::slots::extract`]) or the results of the tool calls the
//! previous round asked for (the same message again, which is not re-read).
//! It returns the reply (text, read-aloud speech, quick replies), the tool
//! calls for the caller to run, and the next [`State`], which the caller keeps
//! as opaque JSON and passes back. Nothing else is remembered between calls.
//!
//! Invariants: seats are confirmed only by a `confirm_booking` proposed after
//! an explicit yes while a hold is read back ([`Stage::Held`]); a cancel or
//! no while holding releases the hold; "repeat" never changes anything.

use jiff::Zoned;
use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};

use booking_tools::consent::Reply;
use booking_tools::{
    BookingRef, BookingStatus, FindShowtimes, HoldBestAvailable, HoldRef, SeatClass, SeatPosition, Showtimes,
    TicketType, Tool, ToolOutput,
};
pub use booking_tools::{ToolCall, ToolResult};

use crate::lexicon::Lexicon;
use crate::slots::{self, Act, Party, Position, Slots, TimeSpec, Utterance};
use crate::text;

mod phrases;
mod results;
mod state;
mod turn;

use self::phrases::*;
pub use self::results::parse_showtimes;
use self::results::*;
pub use self::state::{BookingInfo, HoldInfo, Offer, Said, Stage, State, Suggestion};
use self::turn::Round;

/// Most showtimes offered at once.
pub const MAX_OFFERS: usize = 4;
/// Automatic retries of a hold that lost a race (`seats_unavailable`).
const HOLD_RETRIES: u8 = 1;

/// One round's input.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The user's message (the same in every round of a turn).
    pub text: &'a str,
    /// Answer in Korean.
    pub korean: bool,
    /// The cinema's local time.
    pub now: &'a Zoned,
    /// Names of movies and theaters.
    pub lexicon: &'a Lexicon,
    /// The state from the previous round or turn.
    pub state: State,
    /// Results of the previous round's calls (empty for a new message).
    pub tool_results: &'a [ToolResult],
    /// The message is a discovery question (recommendations), as the caller classified it.
    pub discovery: bool,
    /// For a discovery continuation: the movies the caller recommends, best first.
    pub recommended: Option<Vec<String>>,
    /// The showtime on the user's screen, if any.
    pub screen_showtime: Option<&'a str>,
}

/// One round's output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Reply text.
    pub text: String,
    /// The reply for read-aloud (no ids, no markup).
    pub speech: String,
    /// Quick replies.
    pub suggestions: Vec<Suggestion>,
    /// Tools to run, in order.
    pub calls: Vec<ToolCall>,
    /// The next state.
    pub state: State,
}

/// Whether the dialogue should take this message: a booking flow is open, or
/// the message asks to book, names a booking act, or (for a discovery
/// question) names a date or time.
pub fn wants(state: &State, u: &Utterance, discovery: bool) -> bool {
    // While seats are held and read back, every reply answers the read-back.
    if state.stage == Stage::Held && state.hold.is_some() {
        return true;
    }
    if state.active() {
        return u.act.is_some() || !u.slots.is_empty() || u.ordinal.is_some() || u.booking;
    }
    if u.list_bookings || u.booking {
        return true;
    }
    if discovery {
        return u.slots.date.is_some() || u.slots.time.is_some();
    }
    matches!(u.act, Some(Act::Repeat | Act::Extend)) && state.last.is_some()
        || (u.act == Some(Act::Cancel) && state.booking.is_some())
        || (u.slots.movie.is_some() && (u.slots.date.is_some() || u.slots.time.is_some() || u.slots.party.is_some()))
}

/// The showtimes of a discovery search that fit its slots: the movies showing
/// then, in order of their first showtime (movie id, title, Korean title).
pub fn showing(state: &State, results: &[ToolResult], now: &Zoned) -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<(String, String, Option<String>)> = Vec::new();
    for r in results.iter().filter(|r| r.tool == Tool::FindShowtimes) {
        let Ok(ToolOutput::Showtimes(list)) = &r.outcome else { continue };
        for o in fitting(&parse_showtimes(list), &state.slots, now) {
            if !out.iter().any(|m| m.0 == o.movie) {
                out.push((o.movie.clone(), o.title.clone(), o.title_ko.clone()));
            }
        }
    }
    out
}

/// Runs one round.
pub fn step(input: Input<'_>) -> Output {
    let mut r = Round::new(&input);
    if input.tool_results.is_empty() {
        r.state.retries = 0;
        r.state.discover = false;
        r.state.cancel_lookup = false;
        r.message(&input);
    } else {
        r.results(&input);
    }
    r.finish(!input.tool_results.is_empty())
}

#[cfg(test)]
mod tests;
