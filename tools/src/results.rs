//! What the tools return: one result struct per tool, the error result, and
//! [`ToolResult`], a tool's answer parsed once from `result_json`.
//!
//! Readers are lenient where the gateway may leave a field out (older
//! gateways, hand-written test results): missing fields take their default.
//! The fields a result cannot do without (a hold's `hold_id`, a showtime's
//! `id`, `movie` and `starts_at`) are required.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{SeatClass, TicketType, Tickets, Tool};

/// Ticket price per seat class, in won.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prices {
    /// Standard seat.
    #[serde(default)]
    pub standard: u32,
    /// Premium seat.
    #[serde(default)]
    pub premium: u32,
    /// Wheelchair space.
    #[serde(default)]
    pub wheelchair: u32,
}

/// One showtime of a `find_showtimes` result: the WebSocket `showtimes`
/// frame's entry (docs/protocol.md) plus the theater's names and free seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Showtime {
    /// Showtime id.
    pub id: String,
    /// The movie's catalog id.
    pub movie: String,
    /// The theater's id.
    #[serde(default)]
    pub theater: String,
    /// The screen within the theater.
    #[serde(default)]
    pub screen: String,
    /// Start, RFC 9557 (`2026-11-22T20:00:00+09:00[Asia/Seoul]`).
    pub starts_at: String,
    /// Prices per seat class.
    #[serde(default)]
    pub prices: Prices,
    /// The movie's title.
    #[serde(default)]
    pub title: String,
    /// The movie's Korean title, absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_ko: Option<String>,
    /// Seats on the screen.
    #[serde(default)]
    pub capacity: u32,
    /// The theater's name (null when the schedule has no such theater).
    #[serde(default)]
    pub theater_name: Option<String>,
    /// The theater's Korean name (null when unknown).
    #[serde(default)]
    pub theater_name_ko: Option<String>,
    /// Free seats now (absent: not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free: Option<u32>,
}

/// The result of `find_showtimes`: upcoming showtimes by start, at most 50.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Showtimes {
    /// The showtimes.
    #[serde(default)]
    pub showtimes: Vec<Showtime>,
}

/// The result of `hold_best_available` and `extend_hold`: the seat store's
/// hold plus its total price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Id to extend, release or confirm it with.
    pub hold_id: String,
    /// The showtime.
    #[serde(default)]
    pub showtime: String,
    /// The seats held, sorted (`F7`).
    #[serde(default)]
    pub seats: Vec<String>,
    /// When it expires unless extended (Unix ms).
    #[serde(default)]
    pub expires_at: i64,
    /// How many more extends are allowed.
    #[serde(default)]
    pub extends_left: u32,
    /// The showtime's version after the hold.
    #[serde(default)]
    pub version: u64,
    /// Total price in won, computed by the seat store.
    #[serde(default)]
    pub amount: u32,
    /// Each seat with its class, ticket type and price (the store's lines;
    /// absent in hand-written results).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<Line>,
    /// The tickets by type the hold was priced with.
    #[serde(default, skip_serializing_if = "Tickets::is_empty")]
    pub tickets: Tickets,
}

/// One seat of a hold as the store priced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// `F7`.
    pub seat: String,
    /// The seat's class.
    pub class: SeatClass,
    /// Who sits there.
    pub ticket: TicketType,
    /// Its price in won.
    #[serde(default)]
    pub price: u32,
}

/// The result of `release_hold`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// The seats freed.
    #[serde(default)]
    pub seats: Vec<String>,
    /// The showtime's version after the release.
    #[serde(default)]
    pub version: u64,
}

/// Whether a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    /// Seats sold to the user.
    Confirmed,
    /// Cancelled; seats freed.
    Cancelled,
}

/// The result of `confirm_booking` and `cancel_booking`, and each entry of
/// `list_bookings`: the seat store's booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Id, `bk<hex>-<showtime>`.
    #[serde(default)]
    pub booking_id: String,
    /// The short code a person reads out at the box office (8 characters
    /// without look-alikes; absent only in hand-written results).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
    /// The showtime.
    #[serde(default)]
    pub showtime: String,
    /// The buyer.
    #[serde(default)]
    pub user: String,
    /// The seats, sorted.
    #[serde(default)]
    pub seats: Vec<String>,
    /// When it was confirmed (Unix ms).
    #[serde(default)]
    pub created_at: i64,
    /// Confirmed or cancelled (absent only in hand-written results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<BookingStatus>,
    /// Total price in won.
    #[serde(default)]
    pub amount: u32,
    /// The showtime's version after the confirm (or cancel).
    #[serde(default)]
    pub version: u64,
}

/// The result of `list_bookings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bookings {
    /// The user's bookings.
    #[serde(default)]
    pub bookings: Vec<Booking>,
}

/// A failed or refused call: `{"error": code, "message": text}`, with the
/// codes of docs/protocol.md plus `unknown_tool` and `bad_arguments`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolError {
    /// Stable code (`seats_unavailable`, `no_fit`, `hold_expired`, ...).
    #[serde(default)]
    pub error: String,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
    /// The seats the error is about (`seats_unavailable`, `unknown_seat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<String>>,
}

impl ToolError {
    /// An error with a code and a message.
    pub fn new(code: &str, message: &str) -> ToolError {
        ToolError { error: code.to_owned(), message: message.to_owned(), seats: None }
    }

    /// The error as `result_json` text, keys sorted (see [`ToolResult::to_json`]).
    pub fn to_json(&self) -> String {
        serde_json::to_value(self).unwrap_or_default().to_string()
    }
}

/// A successful tool's result, by shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolOutput {
    /// `find_showtimes`.
    Showtimes(Showtimes),
    /// `hold_best_available`, `extend_hold`.
    Hold(Hold),
    /// `release_hold`.
    Released(Released),
    /// `confirm_booking`, `cancel_booking`.
    Booking(Booking),
    /// `list_bookings`.
    Bookings(Bookings),
}

/// One tool's answer: which tool, and its result or error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The tool that ran.
    pub tool: Tool,
    /// What it returned.
    pub outcome: Result<ToolOutput, ToolError>,
}

/// Why a result document was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultError {
    /// No tool has this name.
    UnknownTool(String),
    /// The document is not JSON of the tool's result shape.
    Malformed {
        /// The tool.
        tool: Tool,
        /// What is wrong (serde's message).
        detail: String,
    },
}

impl fmt::Display for ResultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultError::UnknownTool(name) => write!(f, "no tool named {name:?}"),
            ResultError::Malformed { tool, detail } => write!(f, "{tool} result: {detail}"),
        }
    }
}

impl std::error::Error for ResultError {}

impl ToolResult {
    /// A success.
    pub fn ok(tool: Tool, output: ToolOutput) -> ToolResult {
        ToolResult { tool, outcome: Ok(output) }
    }

    /// A failure.
    pub fn error(tool: Tool, error: ToolError) -> ToolResult {
        ToolResult { tool, outcome: Err(error) }
    }

    /// Parses `result_json` of tool `name` (`is_error`: it holds a
    /// [`ToolError`]). Empty text is `{}`.
    pub fn parse(name: &str, json: &str, is_error: bool) -> Result<ToolResult, ResultError> {
        let tool = Tool::from_name(name).ok_or_else(|| ResultError::UnknownTool(name.to_owned()))?;
        let text = if json.trim().is_empty() { "{}" } else { json };
        fn read<T: DeserializeOwned>(tool: Tool, text: &str) -> Result<T, ResultError> {
            serde_json::from_str(text).map_err(|e| ResultError::Malformed { tool, detail: e.to_string() })
        }
        if is_error {
            return Ok(ToolResult::error(tool, read(tool, text)?));
        }
        let output = match tool {
            Tool::FindShowtimes => ToolOutput::Showtimes(read(tool, text)?),
            Tool::HoldBestAvailable | Tool::ExtendHold => ToolOutput::Hold(read(tool, text)?),
            Tool::ReleaseHold => ToolOutput::Released(read(tool, text)?),
            Tool::ConfirmBooking | Tool::CancelBooking => ToolOutput::Booking(read(tool, text)?),
            Tool::ListBookings => ToolOutput::Bookings(read(tool, text)?),
        };
        Ok(ToolResult::ok(tool, output))
    }

    /// The tool failed or was refused.
    pub fn is_error(&self) -> bool {
        self.outcome.is_err()
    }

    /// The result as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        let v = match &self.outcome {
            Ok(ToolOutput::Showtimes(r)) => serde_json::to_value(r),
            Ok(ToolOutput::Hold(r)) => serde_json::to_value(r),
            Ok(ToolOutput::Released(r)) => serde_json::to_value(r),
            Ok(ToolOutput::Booking(r)) => serde_json::to_value(r),
            Ok(ToolOutput::Bookings(r)) => serde_json::to_value(r),
            Err(e) => serde_json::to_value(e),
        };
        // Structs of strings, integers and options always serialise.
        v.unwrap_or_default()
    }

    /// The result as `result_json` text. It goes through a JSON value, so
    /// keys come out sorted: the same bytes the gateway wrote before the
    /// contract was typed (recorded conversations and journals stay equal).
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}
