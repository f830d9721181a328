//! The booking tools as chat-completions function definitions: what the LLM
//! path of model-svc advertises. The crate's tests check every schema
//! against the argument struct of its tool (same keys, the same required
//! ones), so the two cannot drift apart.

use serde_json::{Value, json};

use crate::Tool;

/// What the LLM is told a tool does.
fn description(tool: Tool) -> &'static str {
    match tool {
        Tool::FindShowtimes => {
            "Upcoming showtimes, optionally of one movie, on one local date, at one theater. Each result has id, movie, theater, screen, starts_at, prices, title, title_ko and free seats."
        }
        Tool::HoldBestAvailable => {
            "Hold the best available adjacent seats of a showtime for 10 minutes. The result has hold_id, seats and amount (total in won)."
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
            json!({"showtime_id": string, "party_size": {"type": "integer", "minimum": 1, "maximum": 10}, "class": {"type": "string", "enum": ["standard", "premium", "wheelchair"]}}),
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
