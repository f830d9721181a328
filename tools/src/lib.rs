//! The booking tool contract as types: the tool names, one argument struct
//! per tool, the result of each tool and the error result, and the JSON
//! schemas the LLM is offered. The dialogue (`dialog`) and model-svc build
//! [`ToolCall`]s and read [`ToolResult`]s; the gateway parses the call once,
//! runs it against the seat store and serialises the typed result. web/
//! mirrors the names (web/js/tools.js) and docs/protocol.md describes the
//! shapes for it.
//!
//! The JSON is the wire format of `ToolCall.arguments_json` and
//! `ToolResult.result_json` in proto/marquee/v1/model.proto. It must stay
//! byte-compatible: fields are only ever added, names never change. This
//! crate depends on serde only, so the pure `dialog` crate can use it.

pub mod consent;
mod results;
mod schema;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use crate::results::{
    Booking, BookingStatus, Bookings, Hold, Line, Prices, Released, ResultError, Showtime, Showtimes, ToolError,
    ToolOutput, ToolResult,
};
pub use crate::schema::definitions;

/// A booking tool, by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    /// `find_showtimes`: upcoming showtimes ([`FindShowtimes`] → [`Showtimes`]).
    FindShowtimes,
    /// `hold_best_available`: hold adjacent seats ([`HoldBestAvailable`] → [`Hold`]).
    HoldBestAvailable,
    /// `extend_hold`: extend a hold ([`HoldRef`] → [`Hold`]).
    ExtendHold,
    /// `release_hold`: give held seats back ([`HoldRef`] → [`Released`]).
    ReleaseHold,
    /// `confirm_booking`: turn a hold into a booking ([`HoldRef`] → [`Booking`]).
    ConfirmBooking,
    /// `cancel_booking`: cancel a booking ([`BookingRef`] → [`Booking`]).
    CancelBooking,
    /// `list_bookings`: the user's bookings (no arguments → [`Bookings`]).
    ListBookings,
}

impl Tool {
    /// Every tool, in the order the LLM is offered them.
    pub const ALL: [Tool; 7] = [
        Tool::FindShowtimes,
        Tool::HoldBestAvailable,
        Tool::ExtendHold,
        Tool::ReleaseHold,
        Tool::ConfirmBooking,
        Tool::CancelBooking,
        Tool::ListBookings,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::FindShowtimes => "find_showtimes",
            Tool::HoldBestAvailable => "hold_best_available",
            Tool::ExtendHold => "extend_hold",
            Tool::ReleaseHold => "release_hold",
            Tool::ConfirmBooking => "confirm_booking",
            Tool::CancelBooking => "cancel_booking",
            Tool::ListBookings => "list_bookings",
        }
    }

    /// The tool of a wire name.
    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A seat class, as `hold_best_available` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatClass {
    /// An ordinary seat.
    Standard,
    /// A premium seat.
    Premium,
    /// A wheelchair space.
    Wheelchair,
}

impl SeatClass {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SeatClass::Standard => "standard",
            SeatClass::Premium => "premium",
            SeatClass::Wheelchair => "wheelchair",
        }
    }
}

/// A ticket type (권종), as the seat store names it: who sits in the seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketType {
    /// 성인.
    Adult,
    /// 청소년: 13-18 years.
    Teen,
    /// 경로: 65 and over.
    Senior,
    /// 우대: a registered disabled person, and one companion each.
    Disabled,
    /// 어린이: under 13.
    Child,
}

impl TicketType {
    /// Every type, in the seat store's order.
    pub const ALL: [TicketType; 5] =
        [TicketType::Adult, TicketType::Teen, TicketType::Senior, TicketType::Disabled, TicketType::Child];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketType::Adult => "adult",
            TicketType::Teen => "teen",
            TicketType::Senior => "senior",
            TicketType::Disabled => "disabled",
            TicketType::Child => "child",
        }
    }
}

/// How many tickets of each type: `{"adult":2,"child":1}` (the seat store's
/// `Tickets`; types with 0 are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tickets(pub std::collections::BTreeMap<TicketType, u32>);

impl Tickets {
    /// From (type, count) pairs; zeros are dropped, repeats add up.
    pub fn from_counts(counts: impl IntoIterator<Item = (TicketType, u32)>) -> Tickets {
        let mut m = std::collections::BTreeMap::new();
        for (t, n) in counts.into_iter().filter(|(_, n)| *n > 0) {
            let e: &mut u32 = m.entry(t).or_default();
            *e = e.saturating_add(n);
        }
        Tickets(m)
    }

    /// The count of `t`.
    pub fn get(&self, t: TicketType) -> u32 {
        self.0.get(&t).copied().unwrap_or(0)
    }

    /// Every ticket.
    pub fn total(&self) -> u32 {
        self.0.values().fold(0u32, |a, n| a.saturating_add(*n))
    }

    /// The types with a count above 0, in type order.
    pub fn iter(&self) -> impl Iterator<Item = (TicketType, u32)> + '_ {
        self.0.iter().filter(|(_, n)| **n > 0).map(|(t, n)| (*t, *n))
    }

    /// No ticket at all.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }
}

/// Where in the room `hold_best_available` should look first: a preference,
/// never a reason to fail while adjacent seats of the class are free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatPosition {
    /// Near the screen (앞쪽).
    Front,
    /// The middle rows (가운데).
    Middle,
    /// Far from the screen (뒤쪽).
    Back,
    /// The last row (맨 뒷줄).
    LastRow,
    /// Next to an aisle (통로 쪽).
    Aisle,
}

impl SeatPosition {
    /// Every position, as the schema lists them.
    pub const ALL: [SeatPosition; 5] =
        [SeatPosition::Front, SeatPosition::Middle, SeatPosition::Back, SeatPosition::LastRow, SeatPosition::Aisle];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SeatPosition::Front => "front",
            SeatPosition::Middle => "middle",
            SeatPosition::Back => "back",
            SeatPosition::LastRow => "last_row",
            SeatPosition::Aisle => "aisle",
        }
    }
}

/// `find_showtimes` arguments; every filter is optional and absent (never
/// null) when unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindShowtimes {
    /// Only this movie's showtimes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movie_id: Option<String>,
    /// Only showtimes starting on this local date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Only showtimes at this theater.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theater_id: Option<String>,
}

/// `hold_best_available` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldBestAvailable {
    /// The showtime.
    pub showtime_id: String,
    /// How many seats, side by side (1-10; the seat store enforces it).
    pub party_size: u32,
    /// Only seats of this class. `wheelchair`: wheelchair spaces for the
    /// `wheelchair` users in the party (1 if unset) and standard seats beside
    /// them for their companions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<SeatClass>,
    /// Where in the room to look first (a preference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<SeatPosition>,
    /// How many of the party need a wheelchair space (the rest sit beside them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheelchair: Option<u32>,
    /// The tickets by type; they must add up to `party_size` (absent: all
    /// adult). The seat store prices them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickets: Option<Tickets>,
}

impl HoldBestAvailable {
    /// `party_size` seats of `class` at `showtime_id`, nothing else wished.
    pub fn new(showtime_id: &str, party_size: u32, class: Option<SeatClass>) -> HoldBestAvailable {
        HoldBestAvailable {
            showtime_id: showtime_id.to_owned(),
            party_size,
            class,
            position: None,
            wheelchair: None,
            tickets: None,
        }
    }
}

/// The arguments of `extend_hold`, `release_hold` and `confirm_booking`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRef {
    /// The hold's showtime.
    pub showtime_id: String,
    /// The hold.
    pub hold_id: String,
}

/// `cancel_booking` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingRef {
    /// The booking.
    pub booking_id: String,
}

/// A booking action with its arguments: what the model proposes and the
/// gateway runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCall {
    /// `find_showtimes`.
    FindShowtimes(FindShowtimes),
    /// `hold_best_available`.
    HoldBestAvailable(HoldBestAvailable),
    /// `extend_hold`.
    ExtendHold(HoldRef),
    /// `release_hold`.
    ReleaseHold(HoldRef),
    /// `confirm_booking`.
    ConfirmBooking(HoldRef),
    /// `cancel_booking`.
    CancelBooking(BookingRef),
    /// `list_bookings` (arguments `{}`).
    ListBookings,
}

/// Why a call's name or arguments were not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No tool has this name.
    UnknownTool(String),
    /// The arguments are not a JSON object of the tool's shape.
    BadArguments {
        /// The tool.
        tool: Tool,
        /// What is wrong (serde's message).
        detail: String,
    },
}

impl CallError {
    /// The error code a tool result reports it with.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::UnknownTool(_) => "unknown_tool",
            CallError::BadArguments { .. } => "bad_arguments",
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::UnknownTool(name) => write!(f, "no tool named {name:?}"),
            CallError::BadArguments { detail, .. } => f.write_str(detail),
        }
    }
}

impl std::error::Error for CallError {}

impl ToolCall {
    /// Parses a call from its wire name and JSON arguments (empty text is
    /// `{}`). Unknown keys are ignored, so a newer model's extra arguments
    /// do not break an older gateway.
    pub fn parse(name: &str, arguments: &str) -> Result<ToolCall, CallError> {
        let tool = Tool::from_name(name).ok_or_else(|| CallError::UnknownTool(name.to_owned()))?;
        let text = if arguments.trim().is_empty() { "{}" } else { arguments };
        fn args<T: DeserializeOwned>(tool: Tool, text: &str) -> Result<T, CallError> {
            serde_json::from_str(text).map_err(|e| CallError::BadArguments { tool, detail: e.to_string() })
        }
        Ok(match tool {
            Tool::FindShowtimes => ToolCall::FindShowtimes(args(tool, text)?),
            Tool::HoldBestAvailable => ToolCall::HoldBestAvailable(args(tool, text)?),
            Tool::ExtendHold => ToolCall::ExtendHold(args(tool, text)?),
            Tool::ReleaseHold => ToolCall::ReleaseHold(args(tool, text)?),
            Tool::ConfirmBooking => ToolCall::ConfirmBooking(args(tool, text)?),
            Tool::CancelBooking => ToolCall::CancelBooking(args(tool, text)?),
            // It takes nothing; whatever was sent is not looked at.
            Tool::ListBookings => ToolCall::ListBookings,
        })
    }

    /// The tool.
    pub fn tool(&self) -> Tool {
        match self {
            ToolCall::FindShowtimes(_) => Tool::FindShowtimes,
            ToolCall::HoldBestAvailable(_) => Tool::HoldBestAvailable,
            ToolCall::ExtendHold(_) => Tool::ExtendHold,
            ToolCall::ReleaseHold(_) => Tool::ReleaseHold,
            ToolCall::ConfirmBooking(_) => Tool::ConfirmBooking,
            ToolCall::CancelBooking(_) => Tool::CancelBooking,
            ToolCall::ListBookings => Tool::ListBookings,
        }
    }

    /// The wire name.
    pub fn name(&self) -> &'static str {
        self.tool().name()
    }

    /// The arguments as a JSON object.
    pub fn arguments(&self) -> serde_json::Value {
        let v = match self {
            ToolCall::FindShowtimes(a) => serde_json::to_value(a),
            ToolCall::HoldBestAvailable(a) => serde_json::to_value(a),
            ToolCall::ExtendHold(a) | ToolCall::ReleaseHold(a) | ToolCall::ConfirmBooking(a) => serde_json::to_value(a),
            ToolCall::CancelBooking(a) => serde_json::to_value(a),
            ToolCall::ListBookings => Ok(serde_json::Value::Object(serde_json::Map::new())),
        };
        // Plain structs of strings and integers always serialise.
        v.unwrap_or_default()
    }

    /// The arguments as JSON text (`ToolCall.arguments_json`), keys sorted.
    pub fn arguments_json(&self) -> String {
        self.arguments().to_string()
    }
}

#[cfg(test)]
mod tests;
