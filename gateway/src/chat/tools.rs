//! Runs the booking tools the model proposes, for the user of the
//! conversation, against the seat store. The names and JSON shapes are the
//! ones documented on `ToolCall` in proto/marquee/v1/model.proto. The model
//! never acts by itself: every call is checked here, and the seat store
//! checks ownership with the conversation's user, never one the model names.

use std::hash::{Hash, Hasher};

use seats::{HoldRequest, ReleaseTarget, SeatClass, SeatError, SeatStore};
use serde::Deserialize;
use serde_json::json;

use crate::seating;

/// Showtimes one `find_showtimes` returns at most.
pub const MAX_SHOWTIMES: usize = 50;
/// How often a best-available hold is retried when someone takes the
/// proposed seats first.
const HOLD_ATTEMPTS: usize = 3;

/// A tool's result: JSON text, and whether it is an error
/// (`{"error": code, "message": text}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The result JSON.
    pub json: String,
    /// The call failed or was refused.
    pub is_error: bool,
}

impl Outcome {
    fn ok(v: serde_json::Value) -> Outcome {
        Outcome { json: v.to_string(), is_error: false }
    }

    fn error(code: &str, message: &str) -> Outcome {
        Outcome { json: json!({"error": code, "message": message}).to_string(), is_error: true }
    }

    fn seat_error(e: &SeatError) -> Outcome {
        let mut v = json!({"error": e.code(), "message": e.to_string()});
        if let Some(seats) = crate::wire::error_seats(e) {
            v["seats"] = json!(seats);
        }
        Outcome { json: v.to_string(), is_error: true }
    }
}

#[derive(Deserialize)]
struct FindArgs {
    movie_id: Option<String>,
    date: Option<String>,
    theater_id: Option<String>,
}

#[derive(Deserialize)]
struct HoldArgs {
    showtime_id: String,
    party_size: usize,
    class: Option<SeatClass>,
}

#[derive(Deserialize)]
struct HoldRef {
    showtime_id: String,
    hold_id: String,
}

#[derive(Deserialize)]
struct BookingRef {
    booking_id: String,
}

/// Runs tool `name` with `args` (a JSON object) for `user`. `call_key`
/// names this call uniquely and stably (message id + call id): it becomes
/// the hold's idempotency key, so running the same call twice holds once.
pub async fn run(store: &SeatStore, user: &str, call_key: &str, name: &str, args: &str) -> Outcome {
    fn parse<'a, T: Deserialize<'a>>(args: &'a str) -> Result<T, Outcome> {
        serde_json::from_str(if args.trim().is_empty() { "{}" } else { args })
            .map_err(|e| Outcome::error("bad_arguments", &e.to_string()))
    }
    let result = match name {
        "find_showtimes" => match parse::<FindArgs>(args) {
            Ok(a) => Ok(find_showtimes(store, a).await),
            Err(o) => Err(o),
        },
        "hold_best_available" => match parse::<HoldArgs>(args) {
            Ok(a) => Ok(hold_best_available(store, user, call_key, a).await),
            Err(o) => Err(o),
        },
        "extend_hold" => match parse::<HoldRef>(args) {
            Ok(a) => Ok(store.extend(&a.showtime_id, user, &a.hold_id).await.map(|h| hold_json(store, &h))),
            Err(o) => Err(o),
        },
        "release_hold" => match parse::<HoldRef>(args) {
            Ok(a) => Ok(store
                .release(&a.showtime_id, user, ReleaseTarget::Hold(a.hold_id))
                .await
                .map(|r| json!({"seats": r.seats, "version": r.version}))),
            Err(o) => Err(o),
        },
        "confirm_booking" => match parse::<HoldRef>(args) {
            Ok(a) => Ok(store.confirm(&a.showtime_id, user, &a.hold_id).await.map(|b| json!(b))),
            Err(o) => Err(o),
        },
        "cancel_booking" => match parse::<BookingRef>(args) {
            Ok(a) => Ok(store.cancel_booking(user, &a.booking_id).await.map(|b| json!(b))),
            Err(o) => Err(o),
        },
        "list_bookings" => Ok(store.my_bookings(user).await.map(|b| json!({"bookings": b}))),
        other => Err(Outcome::error("unknown_tool", &format!("no tool named {other:?}"))),
    };
    match result {
        Ok(Ok(v)) => Outcome::ok(v),
        Ok(Err(e)) => Outcome::seat_error(&e),
        Err(o) => o,
    }
}

async fn find_showtimes(store: &SeatStore, a: FindArgs) -> Result<serde_json::Value, SeatError> {
    let schedule = store.schedule();
    let now = store.clock().now_ms();
    let list: Vec<_> = seating::list_showtimes(&schedule, a.date.as_deref(), a.movie_id.as_deref())
        .into_iter()
        .filter(|v| a.theater_id.as_deref().is_none_or(|t| v.showtime.theater == t))
        .filter(|v| v.showtime.starts_at.timestamp().as_millisecond() > now)
        .take(MAX_SHOWTIMES)
        .collect();
    let maps = futures_util::future::join_all(list.iter().map(|v| store.snapshot(&v.showtime.id, None))).await;
    let mut out = Vec::with_capacity(list.len());
    for (view, map) in list.iter().zip(maps) {
        let mut v = json!(view);
        let theater = schedule.theaters().iter().find(|t| t.id == view.showtime.theater);
        v["theater_name"] = json!(theater.map(|t| t.name.as_str()));
        v["theater_name_ko"] = json!(theater.and_then(|t| t.name_ko.as_deref()));
        v["free"] = json!(map?.seats.iter().filter(|s| s.state == seats::SeatState::Free).count());
        out.push(v);
    }
    Ok(json!({ "showtimes": out }))
}

async fn hold_best_available(
    store: &SeatStore,
    user: &str,
    call_key: &str,
    a: HoldArgs,
) -> Result<serde_json::Value, SeatError> {
    let mut last = SeatError::NoFit(a.party_size);
    for attempt in 0..HOLD_ATTEMPTS {
        let seats = store.best_available(&a.showtime_id, a.party_size, a.class).await?;
        let req = HoldRequest {
            showtime: a.showtime_id.clone(),
            user: user.to_owned(),
            seats: seats.iter().map(|s| s.as_str().to_owned()).collect(),
            ttl: None,
            idempotency_key: idempotency_key(call_key, attempt),
        };
        match store.hold(req).await {
            Ok(hold) => return Ok(hold_json(store, &hold)),
            // Someone took a proposed seat between the proposal and the hold.
            Err(e @ SeatError::Unavailable(_)) => last = e,
            // This call already held other seats (a retried message after the
            // map changed): that earlier hold stands and expires by itself.
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// A hold as the tools return it: the hold plus `amount`, its total price.
fn hold_json(store: &SeatStore, hold: &seats::Hold) -> serde_json::Value {
    let schedule = store.schedule();
    let amount: u32 = match (schedule.showtime(&hold.showtime), schedule.layout_of(&hold.showtime)) {
        (Some(st), Some(layout)) => {
            hold.seats.iter().filter_map(|s| layout.seat(s.as_str())).map(|s| st.prices.of(s.class)).sum()
        }
        _ => 0,
    };
    let mut v = json!(hold);
    v["amount"] = json!(amount);
    v
}

/// A hold idempotency key (1–64 of the allowed characters) for a call.
fn idempotency_key(call_key: &str, attempt: usize) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    call_key.hash(&mut h);
    format!("chat.{:016x}.{attempt}", h.finish())
}
