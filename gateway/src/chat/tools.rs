//! Runs the booking tools the model proposes, for the user of the
//! conversation, against the seat store. The names and JSON shapes are the
//! ones documented on `ToolCall` in proto/marquee/v1/model.proto. The model
//! never acts by itself: every call is checked here, and the seat store
//! checks ownership with the conversation's user, never one the model names.

use booking_tools::{
    Booking, Bookings, CallError, FindShowtimes, Hold, HoldBestAvailable, HoldRef, Prices, Released, Showtime,
    Showtimes, ToolCall, ToolError, ToolOutput, ToolResult,
};
use seats::{HoldRequest, ReleaseTarget, SeatClass, SeatError, SeatStore};

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
    fn of(result: &ToolResult) -> Outcome {
        Outcome { json: result.to_json(), is_error: result.is_error() }
    }

    fn refused(e: &CallError) -> Outcome {
        Outcome { json: ToolError::new(e.code(), &e.to_string()).to_json(), is_error: true }
    }
}

/// A seat store error as a tool error (with the seats it is about).
fn tool_error(e: &SeatError) -> ToolError {
    ToolError {
        error: e.code().to_owned(),
        message: e.to_string(),
        seats: crate::wire::error_seats(e).map(|s| s.into_iter().map(str::to_owned).collect()),
    }
}

/// Runs tool `name` with `args` (a JSON object) for `user`. `call_key`
/// names this call uniquely and stably (message id + call id): it becomes
/// the hold's idempotency key, so running the same call twice holds once.
/// The call is parsed once here into the typed contract (`booking_tools`).
pub async fn run(store: &SeatStore, user: &str, call_key: &str, name: &str, args: &str) -> Outcome {
    match ToolCall::parse(name, args) {
        Ok(call) => Outcome::of(&execute(store, user, call_key, call).await),
        Err(e) => Outcome::refused(&e),
    }
}

/// Runs a parsed call.
pub async fn execute(store: &SeatStore, user: &str, call_key: &str, call: ToolCall) -> ToolResult {
    let tool = call.tool();
    let result = match call {
        ToolCall::FindShowtimes(a) => find_showtimes(store, a).await.map(ToolOutput::Showtimes),
        ToolCall::HoldBestAvailable(a) => hold_best_available(store, user, call_key, a).await.map(ToolOutput::Hold),
        ToolCall::ExtendHold(HoldRef { showtime_id, hold_id }) => {
            store.extend(&showtime_id, user, &hold_id).await.map(|h| ToolOutput::Hold(priced_hold(store, h)))
        }
        ToolCall::ReleaseHold(HoldRef { showtime_id, hold_id }) => store
            .release(&showtime_id, user, ReleaseTarget::Hold(hold_id))
            .await
            .map(|r| ToolOutput::Released(released(r))),
        ToolCall::ConfirmBooking(HoldRef { showtime_id, hold_id }) => {
            store.confirm(&showtime_id, user, &hold_id).await.map(|b| ToolOutput::Booking(booking(b)))
        }
        ToolCall::CancelBooking(a) => {
            store.cancel_booking(user, &a.booking_id).await.map(|b| ToolOutput::Booking(booking(b)))
        }
        ToolCall::ListBookings => store
            .my_bookings(user)
            .await
            .map(|b| ToolOutput::Bookings(Bookings { bookings: b.into_iter().map(booking).collect() })),
    };
    match result {
        Ok(output) => ToolResult::ok(tool, output),
        Err(e) => ToolResult::error(tool, tool_error(&e)),
    }
}

async fn find_showtimes(store: &SeatStore, a: FindShowtimes) -> Result<Showtimes, SeatError> {
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
        let free = map?.seats.iter().filter(|s| s.state == seats::SeatState::Free).count();
        out.push(showtime(&schedule, view, free));
    }
    Ok(Showtimes { showtimes: out })
}

/// One listed showtime: the `showtimes` frame's entry, the theater's names
/// and the free seats.
fn showtime(schedule: &seats::Schedule, view: &seating::ShowtimeView<'_>, free: usize) -> Showtime {
    let st = view.showtime;
    let theater = schedule.theaters().iter().find(|t| t.id == st.theater);
    Showtime {
        id: st.id.clone(),
        movie: st.movie.clone(),
        theater: st.theater.clone(),
        screen: st.screen.clone(),
        starts_at: st.starts_at.to_string(),
        prices: Prices { standard: st.prices.standard, premium: st.prices.premium, wheelchair: st.prices.wheelchair },
        title: view.title.to_owned(),
        title_ko: view.title_ko.map(str::to_owned),
        capacity: u32::try_from(view.capacity).unwrap_or(u32::MAX),
        theater_name: theater.map(|t| t.name.clone()),
        theater_name_ko: theater.and_then(|t| t.name_ko.clone()),
        free: Some(u32::try_from(free).unwrap_or(u32::MAX)),
    }
}

async fn hold_best_available(
    store: &SeatStore,
    user: &str,
    call_key: &str,
    a: HoldBestAvailable,
) -> Result<Hold, SeatError> {
    let party = a.party_size as usize;
    let wish = wish(&a);
    let tickets =
        a.tickets.as_ref().map(|t| seats::Tickets::from_counts(t.iter().map(|(kind, n)| (ticket_type(kind), n))));
    let mut last = SeatError::NoFit(party);
    for attempt in 0..HOLD_ATTEMPTS {
        let seats = store.best_for(&a.showtime_id, &wish).await?;
        let req = HoldRequest {
            showtime: a.showtime_id.clone(),
            user: user.to_owned(),
            seats: seats.iter().map(|s| s.as_str().to_owned()).collect(),
            ttl: None,
            idempotency_key: idempotency_key(call_key, attempt),
            tickets: tickets.clone(),
        };
        match store.hold(req).await {
            Ok(hold) => return Ok(priced_hold(store, hold)),
            // Someone took a proposed seat between the proposal and the hold.
            Err(e @ SeatError::Unavailable(_)) => last = e,
            // This call already held other seats (a retried message after the
            // map changed): that earlier hold stands and expires by itself.
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// What best-available looks for: `class: wheelchair` is wheelchair spaces
/// for the `wheelchair` users (1 when unset) and standard seats beside them
/// for the rest of the party; no class is any class; the position is a
/// preference.
fn wish(a: &HoldBestAvailable) -> seats::best::Wish {
    let n = a.party_size as usize;
    let class = a.class.map(seat_class);
    let wheelchair = match class {
        Some(SeatClass::Wheelchair) => a.wheelchair.map_or(1, |w| w as usize).clamp(1, n.max(1)),
        _ => a.wheelchair.map_or(0, |w| (w as usize).min(n)),
    };
    let class = if wheelchair > 0 && class == Some(SeatClass::Wheelchair) { Some(SeatClass::Standard) } else { class };
    let placement = a.position.map(|p| match p {
        booking_tools::SeatPosition::Front => seats::best::Placement::Front,
        booking_tools::SeatPosition::Middle => seats::best::Placement::Middle,
        booking_tools::SeatPosition::Back => seats::best::Placement::Back,
        booking_tools::SeatPosition::LastRow => seats::best::Placement::LastRow,
        booking_tools::SeatPosition::Aisle => seats::best::Placement::Aisle,
    });
    seats::best::Wish { n, class, wheelchair, placement }
}

fn seat_class(c: booking_tools::SeatClass) -> SeatClass {
    match c {
        booking_tools::SeatClass::Standard => SeatClass::Standard,
        booking_tools::SeatClass::Premium => SeatClass::Premium,
        booking_tools::SeatClass::Wheelchair => SeatClass::Wheelchair,
    }
}

fn ticket_type(t: booking_tools::TicketType) -> seats::TicketType {
    match t {
        booking_tools::TicketType::Adult => seats::TicketType::Adult,
        booking_tools::TicketType::Teen => seats::TicketType::Teen,
        booking_tools::TicketType::Senior => seats::TicketType::Senior,
        booking_tools::TicketType::Disabled => seats::TicketType::Disabled,
        booking_tools::TicketType::Child => seats::TicketType::Child,
    }
}

fn tool_ticket(t: seats::TicketType) -> booking_tools::TicketType {
    match t {
        seats::TicketType::Adult => booking_tools::TicketType::Adult,
        seats::TicketType::Teen => booking_tools::TicketType::Teen,
        seats::TicketType::Senior => booking_tools::TicketType::Senior,
        seats::TicketType::Disabled => booking_tools::TicketType::Disabled,
        seats::TicketType::Child => booking_tools::TicketType::Child,
    }
}

fn tool_class(c: SeatClass) -> booking_tools::SeatClass {
    match c {
        SeatClass::Standard => booking_tools::SeatClass::Standard,
        SeatClass::Premium => booking_tools::SeatClass::Premium,
        SeatClass::Wheelchair => booking_tools::SeatClass::Wheelchair,
    }
}

/// A hold as the tools return it: the store's hold with its priced lines,
/// tickets and total (`amount`). A hold the store did not price (made before
/// ticket types) is priced at the adult fares of its seats.
fn priced_hold(store: &SeatStore, hold: seats::Hold) -> Hold {
    let amount = if hold.amount > 0 || !hold.lines.is_empty() {
        hold.amount
    } else {
        let schedule = store.schedule();
        match (schedule.showtime(&hold.showtime), schedule.layout_of(&hold.showtime)) {
            (Some(st), Some(layout)) => {
                hold.seats.iter().filter_map(|s| layout.seat(s.as_str())).map(|s| st.prices.of(s.class)).sum()
            }
            _ => 0,
        }
    };
    Hold {
        hold_id: hold.hold_id,
        showtime: hold.showtime,
        seats: hold.seats.iter().map(|s| s.as_str().to_owned()).collect(),
        expires_at: hold.expires_at,
        extends_left: hold.extends_left,
        version: hold.version,
        amount,
        lines: hold
            .lines
            .iter()
            .map(|l| booking_tools::Line {
                seat: l.seat.as_str().to_owned(),
                class: tool_class(l.class),
                ticket: tool_ticket(l.ticket),
                price: l.price,
            })
            .collect(),
        tickets: booking_tools::Tickets::from_counts(hold.tickets.iter().map(|(t, n)| (tool_ticket(t), n))),
    }
}

fn released(r: seats::Released) -> Released {
    Released { seats: r.seats.iter().map(|s| s.as_str().to_owned()).collect(), version: r.version }
}

fn booking(b: seats::Booking) -> Booking {
    Booking {
        booking_id: b.booking_id,
        code: b.code,
        showtime: b.showtime,
        user: b.user,
        seats: b.seats.iter().map(|s| s.as_str().to_owned()).collect(),
        created_at: b.created_at,
        status: Some(match b.status {
            seats::BookingStatus::Confirmed => booking_tools::BookingStatus::Confirmed,
            seats::BookingStatus::Cancelled => booking_tools::BookingStatus::Cancelled,
        }),
        amount: b.amount,
        version: b.version,
    }
}

/// A hold idempotency key (1–64 of the allowed characters) for a call: the
/// first 8 bytes of the call key's SHA-256, in hex. The digest is fixed by its
/// standard, so a message retried after a gateway upgrade (a new Rust release
/// or build) still maps to the same key and holds once.
fn idempotency_key(call_key: &str, attempt: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(call_key.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("chat.{hex}.{attempt}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    /// The typed results serialise to the bytes the untyped gateway wrote
    /// (`json!` of the seat store's types, keys sorted).
    #[test]
    fn typed_results_are_the_seat_store_json() {
        let schedule = seats::demo::schedule("2026-11-28".parse().unwrap()).unwrap();
        let st = &schedule.showtimes()[0];
        for view in seating::list_showtimes(&schedule, None, None) {
            let mut old = json!(view);
            // Listing fields the tools' `Showtime` does not carry (yet).
            for k in ["fares", "age_rating", "runtime_min", "district", "distance_km"] {
                old.as_object_mut().map(|o| o.remove(k));
            }
            let theater = schedule.theaters().iter().find(|t| t.id == view.showtime.theater);
            old["theater_name"] = json!(theater.map(|t| t.name.as_str()));
            old["theater_name_ko"] = json!(theater.and_then(|t| t.name_ko.as_deref()));
            old["free"] = json!(7);
            let typed = Showtimes { showtimes: vec![showtime(&schedule, &view, 7)] };
            let typed = ToolResult::ok(booking_tools::Tool::FindShowtimes, ToolOutput::Showtimes(typed));
            assert_eq!(typed.to_json(), json!({"showtimes": [old]}).to_string());
        }
        let seat = |s: &str| seats::SeatId::parse(s).unwrap();
        let hold = seats::Hold {
            hold_id: "h1".into(),
            showtime: st.id.clone(),
            seats: vec![seat("F7"), seat("F8")],
            expires_at: 1_700_000_000_000,
            extends_left: 2,
            version: 9,
            lines: vec![],
            tickets: seats::Tickets::default(),
            amount: 0,
        };
        let mut old = json!(hold);
        old["amount"] = json!(0);
        let mut typed = Hold {
            hold_id: "h1".into(),
            showtime: st.id.clone(),
            seats: vec!["F7".into(), "F8".into()],
            expires_at: 1_700_000_000_000,
            extends_left: 2,
            version: 9,
            amount: 0,
            lines: vec![],
            tickets: booking_tools::Tickets::default(),
        };
        assert_eq!(
            ToolResult::ok(booking_tools::Tool::ExtendHold, ToolOutput::Hold(typed.clone())).to_json(),
            old.to_string()
        );
        typed.amount = 30000;
        assert_eq!(serde_json::to_value(&typed).unwrap()["amount"], json!(30000));
        let b = seats::Booking {
            booking_id: "bk1".into(),
            code: "K7MQ2XPA".into(),
            showtime: st.id.clone(),
            user: "alice".into(),
            seats: vec![seat("F7")],
            created_at: 5,
            status: seats::BookingStatus::Cancelled,
            amount: 15000,
            version: 10,
            lines: vec![],
            tickets: seats::Tickets::default(),
            refund: None,
        };
        let list = ToolResult::ok(
            booking_tools::Tool::ListBookings,
            ToolOutput::Bookings(Bookings { bookings: vec![booking(b.clone())] }),
        );
        assert_eq!(list.to_json(), json!({"bookings": [b]}).to_string());
        let r = seats::Released { seats: vec![seat("F7")], version: 11 };
        let typed = ToolResult::ok(booking_tools::Tool::ReleaseHold, ToolOutput::Released(released(r.clone())));
        assert_eq!(typed.to_json(), json!({"seats": r.seats, "version": r.version}).to_string());
        let e = SeatError::Unavailable(vec![seat("F7")]);
        let mut old = json!({"error": e.code(), "message": e.to_string()});
        old["seats"] = json!(["F7"]);
        assert_eq!(tool_error(&e).to_json(), old.to_string());
        let e = SeatError::NoFit(3);
        assert_eq!(tool_error(&e).to_json(), json!({"error": e.code(), "message": e.to_string()}).to_string());
    }

    #[test]
    fn a_wheelchair_wish_is_spaces_for_its_users_and_standard_seats_beside_them() {
        let mut a = HoldBestAvailable::new("s", 2, Some(booking_tools::SeatClass::Wheelchair));
        let w = wish(&a);
        assert_eq!((w.n, w.wheelchair, w.class, w.placement), (2, 1, Some(SeatClass::Standard), None));
        a.wheelchair = Some(2);
        assert_eq!(wish(&a).wheelchair, 2);
        a.wheelchair = Some(9);
        assert_eq!(wish(&a).wheelchair, 2, "never more spaces than seats");
        let mut b = HoldBestAvailable::new("s", 3, None);
        b.position = Some(booking_tools::SeatPosition::LastRow);
        let want =
            seats::best::Wish { n: 3, class: None, wheelchair: 0, placement: Some(seats::best::Placement::LastRow) };
        assert_eq!(wish(&b), want);
    }

    #[test]
    fn idempotency_key_is_pinned() {
        // SHA-256("m-1:call-c-1-0") starts f00d4040505efd9f; pinned so that a change of
        // hash (or of its formatting) is a visible, deliberate decision.
        assert_eq!(idempotency_key("m-1:call-c-1-0", 0), "chat.f00d4040505efd9f.0");
        assert_eq!(idempotency_key("m-1:call-c-1-0", 2), "chat.f00d4040505efd9f.2");
        let key = idempotency_key("x", 9);
        assert!(key.len() <= 64 && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
    }
}
