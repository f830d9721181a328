//! The WebSocket protocol as types. Frames are JSON text with a `type` field;
//! this is the only module that knows their JSON shape. Client frames are
//! decoded once into [`ClientMsg`]; everything the server sends is built here.
//! docs/protocol.md documents every frame, error code and close code.

use std::collections::BTreeMap;

use axum::extract::ws::Utf8Bytes;
use seats::{Booking, Hold, Released, SeatClass, SeatError, SeatId, SeatMap, Tickets};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::seating::ShowtimeView;

/// Protocol version announced in the welcome frame.
pub const PROTOCOL_VERSION: u32 = 1;

/// A request id chosen by the client; echoed in the reply.
pub type ReqId = u64;

/// The largest offset a client may name. Redis keeps offsets as signed
/// 64-bit integers, so a larger one would turn negative there; it is
/// `bad_request` at the door instead.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

fn checked_offset<E: serde::de::Error>(n: u64) -> Result<u64, E> {
    if n > MAX_OFFSET {
        return Err(E::custom(format!("offset {n} is out of range (at most {MAX_OFFSET})")));
    }
    Ok(n)
}

fn offset<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    checked_offset(u64::deserialize(d)?)
}

fn optional_offset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)?.map(checked_offset).transpose()
}

/// Longest `idem` of a `publish`, in bytes.
pub const MAX_PUBLISH_IDEM_LEN: usize = 64;

/// A `publish` idempotency key: 1–64 of `A-Z a-z 0-9 _ . : -` (the charset
/// of the other client-chosen ids), else `bad_request`.
fn publish_idem<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(key) = Option::<String>::deserialize(d)? else { return Ok(None) };
    let valid = !key.is_empty()
        && key.len() <= MAX_PUBLISH_IDEM_LEN
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if !valid {
        return Err(serde::de::Error::custom(format!(
            "idem must be 1-{MAX_PUBLISH_IDEM_LEN} characters of A-Z a-z 0-9 _ . : -"
        )));
    }
    Ok(Some(key))
}

/// Where a resubscribing client left off.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RecoverFrom {
    /// The topic's epoch the client last saw.
    pub epoch: String,
    /// The last offset the client received (at most [`MAX_OFFSET`]).
    #[serde(deserialize_with = "offset")]
    pub offset: u64,
}

/// Every frame a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Subscribe to a topic, optionally recovering missed publications.
    Subscribe {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: String,
        /// Position to recover from.
        #[serde(default)]
        recover: Option<RecoverFrom>,
    },
    /// Unsubscribe from a topic.
    Unsubscribe {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: String,
    },
    /// Publish a JSON value to a topic.
    Publish {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: String,
        /// Any JSON value, delivered verbatim. Filled by [`decode`]: serde
        /// cannot borrow raw values inside internally tagged enums.
        #[serde(skip)]
        data: Option<Box<RawValue>>,
        /// Idempotency key: a retry with the same key (same user and topic,
        /// within 5 minutes) publishes nothing and gets the first answer.
        #[serde(default, deserialize_with = "publish_idem")]
        idem: Option<String>,
    },
    /// Page through a topic's history.
    History {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: String,
        /// Return publications older than this offset (newest first); absent = from the newest.
        #[serde(default, deserialize_with = "optional_offset")]
        before: Option<u64>,
        /// Return publications newer than this offset (oldest first).
        #[serde(default, deserialize_with = "optional_offset")]
        after: Option<u64>,
        /// At most this many (capped by the server).
        #[serde(default)]
        limit: Option<usize>,
    },
    /// Who is online in a room.
    Presence {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: String,
    },
    /// Mark a room read up to an offset.
    MarkRead {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: String,
        /// Last offset read.
        #[serde(deserialize_with = "offset")]
        offset: u64,
    },
    /// Unread counts of every room the user joined.
    Unread {
        /// Request id.
        id: ReqId,
    },
    /// Client-initiated heartbeat; answered with `pong`.
    Ping {
        /// Request id.
        #[serde(default)]
        id: Option<ReqId>,
    },
    /// Answer to the server's `ping`.
    Pong {},
    /// List scheduled showtimes, optionally of one day and/or movie.
    Showtimes {
        /// Request id.
        id: ReqId,
        /// Only showtimes starting on this day (`YYYY-MM-DD`, Asia/Seoul).
        #[serde(default)]
        date: Option<String>,
        /// Only showtimes of this movie id.
        #[serde(default)]
        movie: Option<String>,
        /// Only theaters in this district or neighbourhood (`강남`, `홍대 근처`).
        #[serde(default)]
        district: Option<String>,
        /// `lat,lon`: nearest theaters first, with `distance_km`.
        #[serde(default)]
        near: Option<String>,
    },
    /// The full seat map of a showtime (answered with `seat_map`).
    SeatMap {
        /// Request id.
        id: ReqId,
        /// Showtime id.
        showtime: String,
    },
    /// Hold several seats, all or nothing (answered with `held`).
    Hold {
        /// Request id.
        id: ReqId,
        /// Showtime id.
        showtime: String,
        /// Seat ids, e.g. `["A7","A8"]`.
        seats: Vec<String>,
        /// Lifetime in seconds (10-1800, default 600).
        #[serde(default)]
        ttl_secs: Option<u64>,
        /// Client-chosen key; a retry with it returns the first result.
        idempotency_key: String,
        /// Tickets by type, e.g. `{"adult":2,"child":1}`; absent: all adult.
        #[serde(default)]
        tickets: Option<Tickets>,
    },
    /// Extend one of the caller's holds (answered with `extended`).
    ExtendHold {
        /// Request id.
        id: ReqId,
        /// Showtime id.
        showtime: String,
        /// The hold.
        hold_id: String,
    },
    /// Release a hold, or some seats the caller holds (answered with `released`).
    Release {
        /// Request id.
        id: ReqId,
        /// Showtime id.
        showtime: String,
        /// Release this hold ...
        #[serde(default)]
        hold_id: Option<String>,
        /// ... or these seats (exactly one of the two).
        #[serde(default)]
        seats: Option<Vec<String>>,
    },
    /// Turn the caller's hold into a booking (answered with `confirmed`).
    Confirm {
        /// Request id.
        id: ReqId,
        /// Showtime id.
        showtime: String,
        /// The hold.
        hold_id: String,
        /// Tickets by type instead of the hold's; absent: the hold's.
        #[serde(default)]
        tickets: Option<Tickets>,
        /// How it is paid (absent: the demo provider).
        #[serde(default)]
        payment: Option<PaymentBody>,
    },
    /// Cancel one of the caller's bookings (answered with `booking_cancelled`).
    CancelBooking {
        /// Request id.
        id: ReqId,
        /// The booking.
        booking_id: String,
    },
    /// The caller's bookings (answered with `bookings`).
    MyBookings {
        /// Request id.
        id: ReqId,
    },
    /// Propose `count` adjacent seats (answered with `best_available`).
    BestAvailable {
        /// Request id.
        id: ReqId,
        /// Showtime id.
        showtime: String,
        /// How many seats (1-10).
        count: usize,
        /// Only seats of this class.
        #[serde(default)]
        class: Option<SeatClass>,
    },
    /// A message to the bot (answered with `chat_accepted`; the reply comes on `user:<id>`).
    Chat {
        /// Request id.
        id: ReqId,
        /// Client-chosen id, unique per user: a retry with the same id is not answered twice.
        message_id: String,
        /// The conversation it belongs to.
        conversation: String,
        /// What the user wrote.
        text: String,
        /// `ko` or `en`; absent: guessed from the text.
        #[serde(default)]
        locale: Option<Locale>,
        /// What the user has on screen.
        #[serde(default)]
        context: Option<ChatContext>,
    },
    /// Speech recognised so far for an utterance (shown, never acted on).
    VoicePartial {
        /// The utterance.
        utterance_id: String,
        /// Higher revisions replace lower ones.
        revision: u64,
        /// The conversation it belongs to.
        conversation: String,
        /// Transcript so far.
        text: String,
        /// `ko` or `en`.
        #[serde(default)]
        locale: Option<Locale>,
    },
    /// The final transcript of an utterance: sent to the bot exactly once.
    VoiceFinal {
        /// Request id.
        id: ReqId,
        /// The utterance.
        utterance_id: String,
        /// The conversation it belongs to.
        conversation: String,
        /// The transcript.
        text: String,
        /// `ko` or `en`.
        #[serde(default)]
        locale: Option<Locale>,
        /// What the user has on screen.
        #[serde(default)]
        context: Option<ChatContext>,
    },
    /// The user abandoned an utterance.
    VoiceCancel {
        /// The utterance.
        utterance_id: String,
    },
    /// Replace the session's token with a newer one for the same user (and
    /// the same `rooms`), so the session outlives the old token's expiry
    /// (answered with `refreshed`).
    Refresh {
        /// Request id.
        id: ReqId,
        /// The new token.
        token: String,
    },
    /// A `type` this protocol does not define. Recognised by serde from the
    /// tag itself, so an unknown type is told apart from a known one with bad
    /// fields without reading error messages. [`decode`] never returns it: it
    /// answers [`DecodeError::UnknownType`] instead.
    #[serde(other)]
    Unknown,
}

/// The language of a chat message.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    /// Korean.
    Ko,
    /// English.
    En,
}

/// What the user has on screen while chatting.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatContext {
    /// The showtime whose seat map is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub showtime: Option<String>,
    /// The movie whose page is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movie: Option<String>,
}

/// Why a client frame could not be decoded; each case has its own error code.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The frame has no `type`, or one the protocol does not define (`unknown_type`).
    #[error("{0}")]
    UnknownType(String),
    /// Not JSON, or a known type whose fields are missing or malformed (`bad_request`).
    #[error(transparent)]
    BadRequest(#[from] serde_json::Error),
}

impl DecodeError {
    /// Whether the frame is not JSON at all (as opposed to JSON with a wrong
    /// `type` or wrong fields); the session closes after several in a row.
    pub fn is_malformed(&self) -> bool {
        matches!(self, DecodeError::BadRequest(e) if e.is_syntax() || e.is_eof())
    }

    /// The error code the client gets.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::BadRequest(_) => ErrorCode::BadRequest,
        }
    }
}

/// The `type` of a frame alone (read again only when a frame failed).
#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Decodes a client frame. `publish` frames are read twice: once for the
/// tag and fields, once for `data` as raw JSON so it is kept byte for byte.
///
/// # Errors
/// [`DecodeError::UnknownType`] when `type` is missing (or null) or names no
/// frame ([`ClientMsg::Unknown`]); [`DecodeError::BadRequest`] for anything
/// else, including an unknown value of another enum field (a seat `class`).
pub fn decode(text: &str) -> Result<ClientMsg, DecodeError> {
    #[derive(Deserialize)]
    struct DataOnly {
        data: Box<RawValue>,
    }
    let mut msg: ClientMsg = match serde_json::from_str(text) {
        Ok(msg) => msg,
        // Unknown tags decode to `Unknown`, so a failure with a `type` is
        // about the fields; without one (absent or null) it is the tag.
        Err(e) => match serde_json::from_str::<TypeOnly>(text) {
            Ok(TypeOnly { kind: None }) => return Err(DecodeError::UnknownType("missing field `type`".into())),
            _ => return Err(DecodeError::BadRequest(e)),
        },
    };
    match &mut msg {
        ClientMsg::Publish { data, .. } => *data = Some(serde_json::from_str::<DataOnly>(text)?.data),
        ClientMsg::Unknown => {
            let kind = serde_json::from_str::<TypeOnly>(text).ok().and_then(|t| t.kind).unwrap_or_default();
            return Err(DecodeError::UnknownType(format!(
                "unknown frame type `{kind}` (docs/protocol.md lists the client frames)"
            )));
        }
        _ => {}
    }
    Ok(msg)
}

/// Stable error codes sent in `error` frames.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON or misses required fields.
    BadRequest,
    /// The `type` is not one the server knows.
    UnknownType,
    /// Binary frames are not part of the protocol.
    UnsupportedFrame,
    /// The topic name is malformed.
    BadTopic,
    /// The token does not allow this action on this topic.
    Forbidden,
    /// The connection already has the maximum number of subscriptions.
    TooManySubscriptions,
    /// The connection is already subscribed to the topic.
    AlreadySubscribed,
    /// The connection is not subscribed to the topic.
    NotSubscribed,
    /// The connection publishes faster than allowed.
    RateLimited,
    /// The bus (Redis) failed or did not answer in time: the request may
    /// have happened (docs/protocol.md, *Retries*); retry with the same key.
    Unavailable,
    /// The server is draining; reconnect elsewhere.
    ShuttingDown,
    /// No or invalid bearer token (REST), or a `refresh` with a bad token;
    /// a WebSocket connecting with a bad token is closed with 4001 instead.
    Unauthorized,
    /// Seats: no such showtime.
    UnknownShowtime,
    /// Seats: these seat ids are not on the screen (listed in `seats`).
    UnknownSeat,
    /// Seats: the request is well-formed but invalid (seat count, TTL, key, count).
    InvalidRequest,
    /// Seats: these seats are held or sold (listed in `seats`); nothing was held.
    SeatsUnavailable,
    /// Seats: the idempotency key was used for other seats.
    IdempotencyConflict,
    /// Seats: no such live hold.
    HoldNotFound,
    /// Seats: the hold or booking belongs to another user.
    NotOwner,
    /// Seats: the hold expired before the operation.
    HoldExpired,
    /// Seats: the hold may not be extended further.
    ExtendLimit,
    /// Seats: no such booking.
    BookingNotFound,
    /// Seats: the booking was already cancelled.
    AlreadyCancelled,
    /// Seats: best-available found no block of seats that fits.
    NoFit,
    /// Seats: the tickets do not add up to the number of seats.
    TicketCountMismatch,
    /// Seats: the showtime does not offer this ticket type.
    TicketNotOffered,
    /// Seats: a teen or child ticket for a film rated adults only (청소년관람불가).
    AgeRestricted,
    /// Chat: the queue is full; nothing was queued.
    Overloaded,
    /// Payment: the provider declined; nothing charged, the hold released.
    PaymentDeclined,
    /// Payment: charged, but the hold could not be sold; refunded.
    PaymentRefunded,
    /// Payment: the payment's order id or amount does not match the hold.
    PaymentMismatch,
    /// Payment: the provider's answer is not known yet; retry the same confirm.
    PaymentPending,
}

/// The optional `payment` of a confirm: `{"provider":"demo"}`, or a Toss
/// payment `{"payment_key":"…","order_id":"<hold id>","amount":N}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct PaymentBody {
    /// `demo` or `toss` (implied by `payment_key`).
    #[serde(default)]
    pub provider: Option<String>,
    /// The key the provider's payment window gave the client.
    #[serde(default)]
    pub payment_key: Option<String>,
    /// The order: the hold id.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The amount the client paid, in won (must be the hold's price).
    #[serde(default)]
    pub amount: Option<i64>,
}

impl PaymentBody {
    /// The saga's input.
    pub fn input(&self) -> Result<seats::checkout::PaymentInput, String> {
        use seats::checkout::PaymentInput;
        match (&self.payment_key, self.provider.as_deref()) {
            (None, None | Some("demo")) => Ok(PaymentInput::Demo),
            (Some(key), None | Some("toss")) => Ok(PaymentInput::Toss {
                payment_key: key.clone(),
                order_id: self.order_id.clone().ok_or("payment.order_id is required")?,
                amount: self.amount.ok_or("payment.amount is required")?,
            }),
            _ => Err("payment.provider must be demo or toss (with payment_key)".into()),
        }
    }
}

/// The wire code of a checkout error.
pub fn checkout_code(e: &seats::checkout::CheckoutError) -> ErrorCode {
    use seats::checkout::CheckoutError as C;
    match e {
        C::Seat(e) => ErrorCode::from(e),
        C::Declined { .. } => ErrorCode::PaymentDeclined,
        C::Refunded { .. } => ErrorCode::PaymentRefunded,
        C::Mismatch(_) => ErrorCode::PaymentMismatch,
        C::Pending(_) => ErrorCode::PaymentPending,
    }
}

impl From<&SeatError> for ErrorCode {
    /// The wire code of a seat error; always the same text as
    /// [`SeatError::code`] (a unit test holds them together).
    fn from(e: &SeatError) -> ErrorCode {
        match e {
            SeatError::UnknownShowtime(_) => ErrorCode::UnknownShowtime,
            SeatError::UnknownSeats(_) => ErrorCode::UnknownSeat,
            SeatError::Invalid(_) => ErrorCode::InvalidRequest,
            SeatError::Unavailable(_) => ErrorCode::SeatsUnavailable,
            SeatError::IdempotencyConflict => ErrorCode::IdempotencyConflict,
            SeatError::HoldNotFound => ErrorCode::HoldNotFound,
            SeatError::NotOwner => ErrorCode::NotOwner,
            SeatError::HoldExpired => ErrorCode::HoldExpired,
            SeatError::ExtendLimit => ErrorCode::ExtendLimit,
            SeatError::BookingNotFound => ErrorCode::BookingNotFound,
            SeatError::AlreadyCancelled => ErrorCode::AlreadyCancelled,
            SeatError::NoFit(_) => ErrorCode::NoFit,
            SeatError::TicketCountMismatch { .. } => ErrorCode::TicketCountMismatch,
            SeatError::TicketNotOffered(_) => ErrorCode::TicketNotOffered,
            SeatError::AgeRestricted { .. } => ErrorCode::AgeRestricted,
            SeatError::Storage(_) | SeatError::Unsynced => ErrorCode::Unavailable,
        }
    }
}

/// The seats a seat error names (`seats_unavailable`, `unknown_seat`), for
/// the `seats` field of error frames and REST error bodies.
pub fn error_seats(e: &SeatError) -> Option<Vec<&str>> {
    match e {
        SeatError::Unavailable(seats) => Some(seats.iter().map(SeatId::as_str).collect()),
        SeatError::UnknownSeats(seats) => Some(seats.iter().map(String::as_str).collect()),
        _ => None,
    }
}

/// The error body shared by `error` frames' fields and REST errors.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// Stable code.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: &'a str,
    /// The seats the error is about (`seats_unavailable`, `unknown_seat`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<&'a str>>,
}

/// A frame the server sends. Built here and encoded once.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    /// First frame of every session.
    Welcome {
        /// Session id (unique per node).
        session: &'a str,
        /// The node that holds the session.
        node: &'a str,
        /// The authenticated user id.
        user: &'a str,
        /// Protocol version.
        protocol: u32,
        /// How often the server pings; answer with `pong`.
        heartbeat_ms: u64,
    },
    /// Answer to `subscribe`. Missed publications follow as `pub` frames.
    Subscribed {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: &'a str,
        /// The topic's epoch.
        epoch: &'a str,
        /// The topic's last offset at subscription time.
        offset: u64,
        /// Present when recovery was asked: true when every missed publication
        /// follows; false when the client must refetch its state.
        #[serde(skip_serializing_if = "Option::is_none")]
        recovered: Option<bool>,
        /// Unread count for rooms.
        #[serde(skip_serializing_if = "Option::is_none")]
        unread: Option<u64>,
    },
    /// Answer to `unsubscribe`.
    Unsubscribed {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: &'a str,
    },
    /// Answer to `publish`.
    Published {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: &'a str,
        /// The offset the publication got.
        offset: u64,
        /// The `idem` key was seen: nothing new was published, `offset` is
        /// the first publication's.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
    },
    /// Answer to `presence`.
    Presence {
        /// Request id.
        id: ReqId,
        /// Topic name.
        topic: &'a str,
        /// One entry per connected session.
        clients: Vec<&'a RawValue>,
    },
    /// Answer to `unread` and `mark_read`.
    Unread {
        /// Request id.
        id: ReqId,
        /// Room → unread count.
        counts: BTreeMap<&'a str, u64>,
    },
    /// Answer to the client's `ping`.
    Pong {
        /// Request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<ReqId>,
    },
    /// Server heartbeat; answer with `pong`.
    Ping {},
    /// The client's state for a topic is stale (history it missed is gone):
    /// refetch state; live delivery continues after `offset`.
    Reset {
        /// Topic name.
        topic: &'a str,
        /// The topic's current epoch.
        epoch: &'a str,
        /// Live publications continue after this offset.
        offset: u64,
    },
    /// The server is draining: reconnect (to any node) after `delay_ms`.
    Reconnect {
        /// Jittered delay before reconnecting.
        delay_ms: u64,
    },
    /// A request failed.
    Error {
        /// The request's id, when it could be read.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<ReqId>,
        /// Stable code.
        code: ErrorCode,
        /// Human-readable detail.
        message: &'a str,
        /// The seats a failed hold could not get (`seats_unavailable`) or
        /// that do not exist (`unknown_seat`).
        #[serde(skip_serializing_if = "Option::is_none")]
        seats: Option<Vec<&'a str>>,
    },
    /// Answer to `showtimes`.
    Showtimes {
        /// Request id.
        id: ReqId,
        /// Matching showtimes, by start time.
        showtimes: Vec<ShowtimeView<'a>>,
    },
    /// Answer to `seat_map`: the snapshot; apply `showtime:<id>` deltas with
    /// a higher version on top of it.
    SeatMap {
        /// Request id.
        id: ReqId,
        /// The seat map at `map.version`.
        map: &'a SeatMap,
    },
    /// Answer to `hold` (also to its idempotent retries).
    Held {
        /// Request id.
        id: ReqId,
        /// The hold.
        hold: &'a Hold,
    },
    /// Answer to `extend_hold`.
    Extended {
        /// Request id.
        id: ReqId,
        /// The hold with its new expiry.
        hold: &'a Hold,
    },
    /// Answer to `release`.
    Released {
        /// Request id.
        id: ReqId,
        /// Showtime id.
        showtime: &'a str,
        /// The seats freed and the version after.
        released: &'a Released,
    },
    /// Answer to `confirm`.
    Confirmed {
        /// Request id.
        id: ReqId,
        /// The booking.
        booking: &'a Booking,
    },
    /// Answer to `cancel_booking`.
    BookingCancelled {
        /// Request id.
        id: ReqId,
        /// The booking, now `cancelled`.
        booking: &'a Booking,
    },
    /// Answer to `my_bookings`.
    Bookings {
        /// Request id.
        id: ReqId,
        /// Oldest first.
        bookings: &'a [Booking],
    },
    /// Answer to `best_available`: a proposal, not a hold.
    BestAvailable {
        /// Request id.
        id: ReqId,
        /// Showtime id.
        showtime: &'a str,
        /// The proposed seats, in row order.
        seats: &'a [SeatId],
    },
    /// Answer to `chat` and `voice_final`: the message is queued.
    ChatAccepted {
        /// Request id.
        id: ReqId,
        /// The message id (for a voice final, `voice:<utterance_id>`).
        message_id: &'a str,
        /// Requests ahead of it, counting itself.
        position: u64,
        /// Already accepted earlier; nothing new was queued.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
    },
    /// Answer to `refresh`: the session now ends with the new token.
    Refreshed {
        /// Request id.
        id: ReqId,
        /// The new token's `exp`.
        expires_at: u64,
    },
}

impl ServerMsg<'_> {
    /// Encodes the frame as JSON text.
    pub fn encode(&self) -> Utf8Bytes {
        // Serializing these types cannot fail: no maps with non-string keys,
        // no custom serializers that error.
        serde_json::to_string(self).unwrap_or_default().into()
    }
}

/// Builds a `pub` frame from a stored publication. Payloads stored by the
/// gateway are JSON objects that start with `{"data":`; their fields are
/// spliced into the frame so the bytes are never parsed again. Any other JSON
/// value (published by other writers) becomes the frame's `data`.
pub fn pub_frame(topic: &str, offset: u64, payload: &[u8]) -> Utf8Bytes {
    let topic_json = serde_json::to_string(topic).unwrap_or_default();
    let payload = String::from_utf8_lossy(payload);
    let frame = if payload.starts_with("{\"data\":") {
        format!("{{\"type\":\"pub\",\"topic\":{topic_json},\"offset\":{offset},{}", &payload[1..])
    } else {
        format!("{{\"type\":\"pub\",\"topic\":{topic_json},\"offset\":{offset},\"data\":{payload}}}")
    };
    frame.into()
}

/// Builds the answer to `history`: position plus the entries, each spliced
/// like a `pub` frame without its `type` and `topic`; `more` says whether
/// another page exists in the direction of the request.
pub fn history_frame(id: ReqId, topic: &str, page: &bus::HistoryPage, more: bool) -> Utf8Bytes {
    let topic_json = serde_json::to_string(topic).unwrap_or_default();
    let epoch_json = serde_json::to_string(&*page.position.epoch).unwrap_or_default();
    let mut out = format!(
        "{{\"type\":\"history\",\"id\":{id},\"topic\":{topic_json},\"epoch\":{epoch_json},\"offset\":{},\"first\":{},\"more\":{more},\"pubs\":[",
        page.position.offset, page.first_available
    );
    for (i, e) in page.entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let payload = String::from_utf8_lossy(&e.data);
        if payload.starts_with("{\"data\":") {
            out.push_str(&format!("{{\"offset\":{},{}", e.offset, &payload[1..]));
        } else {
            out.push_str(&format!("{{\"offset\":{},\"data\":{payload}}}", e.offset));
        }
    }
    out.push_str("]}");
    out.into()
}

/// Builds a `join` or `leave` frame from a presence info JSON.
pub fn presence_frame(kind: &str, topic: &str, info: &[u8]) -> Utf8Bytes {
    let topic_json = serde_json::to_string(topic).unwrap_or_default();
    format!("{{\"type\":\"{kind}\",\"topic\":{topic_json},\"client\":{}}}", String::from_utf8_lossy(info)).into()
}

/// Who published: stored with a publication and shown to readers.
#[derive(Debug, Serialize)]
pub struct PublisherInfo<'a> {
    /// User id.
    pub user: &'a str,
    /// Display name.
    pub name: &'a str,
}

/// The stored form of a client publication: `{"data":…,"info":{…}}`.
pub fn stored_payload(data: &RawValue, info: &PublisherInfo<'_>) -> String {
    let info = serde_json::to_string(info).unwrap_or_default();
    format!("{{\"data\":{},\"info\":{info}}}", data.get())
}

/// Reads the request id of a frame that failed to decode, so the error
/// names the request it answers.
pub fn salvage_id(text: &str) -> Option<ReqId> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<ReqId>,
    }
    serde_json::from_str::<IdOnly>(text).ok().and_then(|v| v.id)
}

/// WebSocket close codes the server uses (see docs/protocol.md).
pub mod close {
    /// The server is going away for maintenance; reconnect (after the
    /// `reconnect` frame's delay).
    pub const SERVICE_RESTART: u16 = 1012;
    /// A frame exceeded the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The client broke the WebSocket framing (RFC 6455: unmasked frame,
    /// reserved bits, bad opcode, fragmented control frame, …).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A binary frame: the protocol is JSON text only (RFC 6455: "a type of
    /// data it cannot accept").
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A text frame that is not UTF-8, or too many text frames in a row that
    /// are not JSON (RFC 6455: "data within a message that was not
    /// consistent with the type of the message").
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// No or invalid token.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The session's token expired (`exp` plus the clock leeway): get a new
    /// token, then reconnect with recovery.
    pub const TOKEN_EXPIRED: u16 = 4003;
    /// No frame within the heartbeat timeout.
    pub const HEARTBEAT_TIMEOUT: u16 = 4004;
    /// The client did not read fast enough; its queue overflowed.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// The node has too many connections.
    pub const TOO_MANY_CONNECTIONS: u16 = 4013;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_past_the_signed_range_are_bad_requests() {
        let max = MAX_OFFSET;
        let over = MAX_OFFSET + 1;
        for frame in [
            format!(r#"{{"type":"subscribe","id":1,"topic":"room:a","recover":{{"epoch":"e","offset":{over}}}}}"#),
            format!(r#"{{"type":"history","id":1,"topic":"room:a","before":{over}}}"#),
            format!(r#"{{"type":"history","id":1,"topic":"room:a","after":{}}}"#, u64::MAX),
            format!(r#"{{"type":"mark_read","id":1,"topic":"room:a","offset":{over}}}"#),
        ] {
            match decode(&frame) {
                Err(DecodeError::BadRequest(e)) => assert!(e.to_string().contains("out of range"), "{e}"),
                other => panic!("{frame}: {other:?}"),
            }
        }
        assert!(matches!(
            decode(&format!(r#"{{"type":"history","id":1,"topic":"room:a","after":{max}}}"#)),
            Ok(ClientMsg::History { after: Some(n), before: None, .. }) if n == max
        ));
        assert!(matches!(
            decode(r#"{"type":"history","id":1,"topic":"room:a","before":null}"#),
            Ok(ClientMsg::History { before: None, .. })
        ));
        assert!(matches!(
            decode(&format!(r#"{{"type":"mark_read","id":1,"topic":"room:a","offset":{max}}}"#)),
            Ok(ClientMsg::MarkRead { offset, .. }) if offset == max
        ));
    }

    #[test]
    fn decodes_client_frames() {
        let m = decode(r#"{"type":"subscribe","id":1,"topic":"room:a","recover":{"epoch":"e1","offset":4}}"#)
            .expect("valid");
        match m {
            ClientMsg::Subscribe { id, topic, recover } => {
                assert_eq!((id, topic.as_str()), (1, "room:a"));
                assert_eq!(recover, Some(RecoverFrom { epoch: "e1".into(), offset: 4 }));
            }
            other => panic!("unexpected {other:?}"),
        }
        let m = decode(r#"{"type":"publish","id":2,"topic":"room:a","data":{"b": [1, 2.50]}}"#).expect("valid");
        match m {
            ClientMsg::Publish { data: Some(data), .. } => assert_eq!(data.get(), r#"{"b": [1, 2.50]}"#),
            other => panic!("unexpected {other:?}"),
        }
        assert!(decode(r#"{"type":"publish","id":2,"topic":"room:a"}"#).is_err(), "data is required");
    }

    #[test]
    fn a_publish_idem_key_is_optional_and_checked() {
        let idem = |text: &str| match decode(text) {
            Ok(ClientMsg::Publish { idem, .. }) => Ok(idem),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => Err(e.code()),
        };
        assert_eq!(idem(r#"{"type":"publish","id":1,"topic":"room:a","data":1}"#), Ok(None));
        assert_eq!(idem(r#"{"type":"publish","id":1,"topic":"room:a","data":1,"idem":null}"#), Ok(None));
        let ok = format!(r#"{{"type":"publish","id":1,"topic":"room:a","data":1,"idem":"{}"}}"#, "a:b.c_d-".repeat(8));
        assert_eq!(idem(&ok), Ok(Some("a:b.c_d-".repeat(8))), "64 bytes is the limit");
        for bad in ["", "a b", "키", "{x}"] {
            let text = format!(r#"{{"type":"publish","id":1,"topic":"room:a","data":1,"idem":"{bad}"}}"#);
            assert_eq!(idem(&text), Err(ErrorCode::BadRequest), "{bad:?}");
        }
        let long = format!(r#"{{"type":"publish","id":1,"topic":"room:a","data":1,"idem":"{}"}}"#, "k".repeat(65));
        assert_eq!(idem(&long), Err(ErrorCode::BadRequest));
        assert_eq!(idem(r#"{"type":"publish","id":1,"topic":"room:a","data":1,"idem":7}"#), Err(ErrorCode::BadRequest));
    }

    #[test]
    fn classifies_bad_frames() {
        let code = |text: &str| decode(text).expect_err(text).code();
        assert_eq!(code(r#"{"type":"dance","id":3}"#), ErrorCode::UnknownType);
        assert_eq!(
            code(r#"{"type":"dance","id":3,"topic":"room:a","data":[1]}"#),
            ErrorCode::UnknownType,
            "any fields"
        );
        assert_eq!(code(r#"{"id":3}"#), ErrorCode::UnknownType, "no type");
        assert_eq!(code(r#"{"type":null,"id":3}"#), ErrorCode::UnknownType, "null type");
        assert_eq!(code(r#"{"type":"subscribe","id":3}"#), ErrorCode::BadRequest, "no topic");
        assert_eq!(code(r#"{"type":5,"id":3}"#), ErrorCode::BadRequest, "a type that is not a string");
        assert_eq!(code("{not json"), ErrorCode::BadRequest);
        assert!(decode("{not json").expect_err("syntax").is_malformed());
        assert!(decode("").expect_err("eof").is_malformed());
        assert!(!decode(r#"{"type":"subscribe","id":3}"#).expect_err("fields").is_malformed(), "JSON, wrong fields");
        assert!(!decode(r#"{"type":"dance"}"#).expect_err("type").is_malformed());
        let text = r#"{"type":"best_available","id":3,"showtime":"s","count":2,"class":"vip"}"#;
        assert_eq!(code(text), ErrorCode::BadRequest, "a bad value is a bad request");
        let e = decode(r#"{"type":"dance"}"#).expect_err("unknown");
        assert!(e.to_string().contains("`dance`"), "the message names the type: {e}");
        assert_eq!(salvage_id(r#"{"type":"subscribe","id":3}"#), Some(3));
        assert_eq!(salvage_id("not json"), None);
    }

    #[test]
    fn seat_error_codes_match_the_store() {
        let all = [
            SeatError::UnknownShowtime("x".into()),
            SeatError::UnknownSeats(vec!["Z99".into()]),
            SeatError::Invalid("x".into()),
            SeatError::Unavailable(vec![]),
            SeatError::IdempotencyConflict,
            SeatError::HoldNotFound,
            SeatError::NotOwner,
            SeatError::HoldExpired,
            SeatError::ExtendLimit,
            SeatError::BookingNotFound,
            SeatError::AlreadyCancelled,
            SeatError::NoFit(2),
            SeatError::TicketCountMismatch { tickets: 1, seats: 2 },
            SeatError::TicketNotOffered(seats::TicketType::Child),
            SeatError::AgeRestricted { ticket: seats::TicketType::Child, rating: seats::AgeRating::Adults },
            SeatError::Storage("down".into()),
        ];
        for e in &all {
            let code = serde_json::to_value(ErrorCode::from(e)).expect("serializes");
            assert_eq!(code, e.code(), "{e:?}");
        }
    }

    #[test]
    fn decodes_seat_frames() {
        let m = decode(r#"{"type":"hold","id":4,"showtime":"s1","seats":["A1","A2"],"idempotency_key":"k1"}"#)
            .expect("valid");
        assert!(matches!(m, ClientMsg::Hold { id: 4, ttl_secs: None, .. }), "{m:?}");
        let m =
            decode(r#"{"type":"best_available","id":5,"showtime":"s1","count":2,"class":"premium"}"#).expect("valid");
        assert!(matches!(m, ClientMsg::BestAvailable { class: Some(SeatClass::Premium), .. }), "{m:?}");
        let text = r#"{"type":"hold","id":6,"showtime":"s1","seats":"A1"}"#;
        assert_eq!(decode(text).expect_err("seats must be a list").code(), ErrorCode::BadRequest);
    }

    #[test]
    fn pub_frames_splice_stored_payloads() {
        let raw = RawValue::from_string(r#"{"text":"안녕"}"#.to_owned()).expect("json");
        let stored = stored_payload(&raw, &PublisherInfo { user: "u1", name: "Kim" });
        let frame = pub_frame("room:a", 7, stored.as_bytes());
        let v: serde_json::Value = serde_json::from_str(frame.as_str()).expect("valid json");
        assert_eq!(v["type"], "pub");
        assert_eq!(v["offset"], 7);
        assert_eq!(v["data"]["text"], "안녕");
        assert_eq!(v["info"]["user"], "u1");
        let other = pub_frame("showtime:1", 2, br#"[1,2]"#);
        let v: serde_json::Value = serde_json::from_str(other.as_str()).expect("valid json");
        assert_eq!(v["data"][1], 2);
    }
}
