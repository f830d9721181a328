//! The dialogue state the caller carries between turns as opaque JSON: the stage, the slots, the offers, the hold and booking, the last reply.

use super::*;

/// Where the conversation stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// No booking in progress.
    #[default]
    Idle,
    /// Waiting for showtimes (a `find_showtimes` is out).
    Searching,
    /// Showtimes offered; waiting for a pick.
    Offered,
    /// A showtime is picked; waiting for the party size.
    Chosen,
    /// The hold expired; asked whether to hold the same showtime again.
    Rehold,
    /// Seats held and read back; waiting for yes or no.
    Held,
    /// Booked.
    Booked,
    /// Asked whether to cancel the booking.
    CancelAsk,
}

/// A showtime as the dialogue needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Showtime id.
    pub id: String,
    /// Movie id.
    pub movie: String,
    /// Movie title.
    pub title: String,
    /// Korean title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_ko: Option<String>,
    /// Theater id.
    pub theater: String,
    /// Screen id.
    #[serde(default)]
    pub screen: String,
    /// Local start.
    pub at: DateTime,
}

/// A seat hold the bot made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldInfo {
    /// Hold id.
    pub id: String,
    /// Showtime id.
    pub showtime: String,
    /// Seats.
    pub seats: Vec<String>,
    /// Total price in won.
    pub amount: u64,
    /// Each seat's class, ticket and price, as the seat store priced them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<booking_tools::Line>,
    /// The tickets by type the store priced the hold with.
    #[serde(default, skip_serializing_if = "booking_tools::Tickets::is_empty")]
    pub tickets: booking_tools::Tickets,
}

/// A booking the bot confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingInfo {
    /// Booking id.
    pub id: String,
    /// Showtime id.
    pub showtime: String,
    /// Seats.
    pub seats: Vec<String>,
    /// Total price in won.
    pub amount: u64,
}

/// A quick reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    /// What the button shows.
    pub label: String,
    /// What is sent when it is chosen.
    pub text: String,
    /// The showtime, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub showtime_id: Option<String>,
}

/// The last reply, for "repeat that".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// Text.
    pub text: String,
    /// Speech.
    pub speech: String,
    /// Quick replies.
    #[serde(default)]
    pub suggestions: Vec<Suggestion>,
}

/// The dialogue state the caller carries between turns (as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Stage.
    #[serde(default)]
    pub stage: Stage,
    /// Slots so far.
    #[serde(default)]
    pub slots: Slots,
    /// Showtimes offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<Offer>,
    /// The showtime picked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Offer>,
    /// The current hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldInfo>,
    /// A hold being replaced: kept until the new one is held, then released
    /// (a correction never gives seats back before new ones are held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<HoldInfo>,
    /// The last booking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<BookingInfo>,
    /// This search answers a discovery question (recommend, then offer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discover: bool,
    /// `list_bookings` was asked for to find a booking to cancel.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancel_lookup: bool,
    /// Hold retries used in this turn.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u8,
    /// The last reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Said>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl State {
    /// The state from the caller's JSON (empty or unreadable: a fresh state;
    /// a client cannot break the dialogue by sending garbage).
    pub fn from_json(s: &str) -> State {
        if s.trim().is_empty() { State::default() } else { serde_json::from_str(s).unwrap_or_default() }
    }

    /// The state as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// True while a booking is being made or a question about one is open.
    pub fn active(&self) -> bool {
        !matches!(self.stage, Stage::Idle | Stage::Booked)
    }
}
