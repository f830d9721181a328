//! The booking tools as chat-completions function definitions: what the LLM
//! path of model-svc advertises. The crate's tests check every schema
//! against the argument struct of its tool (same keys, the same required
//! ones), so the two cannot drift apart.

use serde_json::{Value, json};

use crate::{SeatPosition, TicketType, Tool};

/// What the LLM is told a tool does.
fn description(tool: Tool) -> &'static str {
    match tool {
        Tool::FindShowtimes => {
            "Upcoming showtimes, optionally of one movie, on one local date, at one theater. Each result has id, movie, theater, screen, starts_at, prices, title, title_ko and free seats."
        }
        Tool::HoldBestAvailable => {
            "Hold the best available adjacent seats of a showtime for 10 minutes: standard seats unless the user asked for premium or wheelchair (then wheelchair spaces for the wheelchair users and standard seats beside them for companions), near the wished position. tickets names who sits (adult, teen 13-18, senior 65+, disabled, child under 13) and must add up to party_size. The result has hold_id, seats, lines (class, ticket, price per seat) and amount (the store's total in won)."
        }
        Tool::ExtendHold => "Extend a seat hold before it expires.",
        Tool::ReleaseHold => "Give held seats back (the user said no or cancelled).",
        Tool::ConfirmBooking => {
            "Turn a seat hold into a booking. Only after the user explicitly said yes to the read-back."
        }
        Tool::CancelBooking => "Cancel a confirmed booking.",
        Tool::ListBookings => "The user's bookings.",
    }
}

/// `{"adult": {"type": "integer", "minimum": 0}, ...}` for every ticket type.
fn ticket_counts() -> Value {
    Value::Object(
        TicketType::ALL
            .into_iter()
            .map(|t| (t.as_str().to_owned(), json!({"type": "integer", "minimum": 0})))
            .collect(),
    )
}

/// A tool's argument properties (JSON Schema) and its required keys.
pub(crate) fn parameters(tool: Tool) -> (Value, &'static [&'static str]) {
    let string = json!({"type": "string"});
    let hold_ref = json!({"showtime_id": string, "hold_id": string});
    match tool {
        Tool::FindShowtimes => (
            json!({"movie_id": string, "date": {"type": "string", "description": "YYYY-MM-DD, the cinema's local date"}, "theater_id": string}),
            &[],
        ),
        Tool::HoldBestAvailable => (
            json!({"showtime_id": string, "party_size": {"type": "integer", "minimum": 1, "maximum": 10}, "class": {"type": "string", "enum": ["standard", "premium", "wheelchair"]},
                "position": {"type": "string", "enum": SeatPosition::ALL.map(SeatPosition::as_str)},
                "wheelchair": {"type": "integer", "minimum": 1, "maximum": 10, "description": "how many of the party need a wheelchair space (class wheelchair)"},
                "tickets": {"type": "object", "description": "tickets by type, adding up to party_size", "properties": ticket_counts(), "additionalProperties": false}}),
            &["showtime_id", "party_size"],
        ),
        Tool::ExtendHold | Tool::ReleaseHold | Tool::ConfirmBooking => (hold_ref, &["showtime_id", "hold_id"]),
        Tool::CancelBooking => (json!({"booking_id": string}), &["booking_id"]),
        Tool::ListBookings => (json!({}), &[]),
    }
}

/// Every tool as a chat-completions `tools` entry
/// (`{"type": "function", "function": {name, description, parameters}}`).
pub fn definitions() -> Value {
    Value::Array(
        Tool::ALL
            .into_iter()
            .map(|tool| {
                let (properties, required) = parameters(tool);
                json!({"type": "function", "function": {
                    "name": tool.name(), "description": description(tool),
                    "parameters": {"type": "object", "properties": properties, "required": required}
                }})
            })
            .collect(),
    )
}
