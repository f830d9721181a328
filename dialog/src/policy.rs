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

use booking_tools::{
    BookingRef, BookingStatus, FindShowtimes, HoldBestAvailable, HoldRef, Showtimes, Tool, ToolOutput,
};
pub use booking_tools::{ToolCall, ToolResult};

use crate::lexicon::Lexicon;
use crate::slots::{self, Act, Party, Slots, TimeSpec, Utterance};
use crate::text;

/// Most showtimes offered at once.
pub const MAX_OFFERS: usize = 4;
/// Automatic retries of a hold that lost a race (`seats_unavailable`).
const HOLD_RETRIES: u8 = 1;

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

struct Round<'a> {
    ko: bool,
    now: &'a Zoned,
    lex: &'a Lexicon,
    state: State,
    text: String,
    speech: String,
    suggestions: Vec<Suggestion>,
    calls: Vec<ToolCall>,
}

impl<'a> Round<'a> {
    fn new(input: &Input<'a>) -> Round<'a> {
        Round {
            ko: input.korean,
            now: input.now,
            lex: input.lexicon,
            state: input.state.clone(),
            text: String::new(),
            speech: String::new(),
            suggestions: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// Adds a sentence (the same for text and speech).
    fn say(&mut self, ko: &str, en: &str) {
        let s = if self.ko { ko } else { en };
        self.both(s, s);
    }

    fn both(&mut self, text: &str, speech: &str) {
        for (buf, s) in [(&mut self.text, text), (&mut self.speech, speech)] {
            if s.is_empty() {
                continue;
            }
            if !buf.is_empty() {
                buf.push(' ');
            }
            buf.push_str(s);
        }
    }

    fn call(&mut self, call: ToolCall) {
        self.calls.push(call);
    }

    fn suggest(&mut self, label: &str, text: &str) {
        self.suggestions.push(Suggestion { label: label.to_owned(), text: text.to_owned(), showtime_id: None });
    }

    fn yes_no(&mut self) {
        if self.ko {
            self.suggest("네, 예매할게요", "네");
            self.suggest("아니요", "아니요");
        } else {
            self.suggest("Yes, book it", "yes");
            self.suggest("No", "no");
        }
    }

    fn finish(mut self, continuation: bool) -> Output {
        let said = Said { text: self.text.clone(), speech: self.speech.clone(), suggestions: self.suggestions.clone() };
        self.state.last = match (continuation, self.state.last.take()) {
            (true, Some(prev)) if !said.text.is_empty() => Some(Said {
                text: format!("{} {}", prev.text, said.text).trim().to_owned(),
                speech: format!("{} {}", prev.speech, said.speech).trim().to_owned(),
                suggestions: said.suggestions,
            }),
            (true, Some(prev)) => Some(Said { suggestions: said.suggestions, ..prev }),
            _ => Some(said),
        };
        Output {
            text: self.text,
            speech: self.speech,
            suggestions: self.suggestions,
            calls: self.calls,
            state: self.state,
        }
    }

    // ---- a new message ----------------------------------------------------------

    fn message(&mut self, input: &Input<'_>) {
        let u = slots::extract(input.text, self.lex, self.now, &self.state.slots);
        if u.act == Some(Act::Repeat) {
            return self.repeat();
        }
        if u.list_bookings {
            self.state.cancel_lookup = u.act == Some(Act::Cancel);
            self.say("예매 내역을 확인해 볼게요.", "Let me look up your bookings.");
            self.call(ToolCall::ListBookings);
            return;
        }
        match u.act {
            Some(Act::Cancel) => return self.cancel(),
            Some(Act::Extend) => return self.extend(),
            Some(Act::Yes) if self.yes() => return,
            Some(Act::No) if self.no() => return,
            _ => {}
        }
        if self.state.stage == Stage::Booked || self.state.stage == Stage::CancelAsk {
            // A new booking after a finished one starts from fresh slots.
            self.state.stage = Stage::Idle;
            self.state.slots = Slots::default();
            self.state.offers.clear();
            self.state.chosen = None;
        }
        let before = self.state.slots.clone();
        let mut new = u.slots.clone();
        // A correction to an ambiguous clock time uses the offered showtimes.
        if let Some(TimeSpec::Around(_)) = new.time {
            new.time = self.resolve_around(new.time);
        }
        self.state.slots.merge(&new);
        let search_changed = new.movie.is_some() && new.movie != before.movie
            || new.date.is_some() && new.date != before.date
            || new.theater.is_some() && new.theater != before.theater
            || new.time.is_some() && new.time != before.time;
        let seats_changed =
            new.party.is_some() && new.party != before.party || new.class.is_some() && new.class != before.class;

        // Discovery: find what is showing then, recommend, offer.
        // (Naming a movie or a party size makes it a booking instead.)
        if input.discovery
            && !self.state.active()
            && (new.date.is_some() || new.time.is_some())
            && new.movie.is_none()
            && new.party.is_none()
        {
            self.state.discover = true;
            return self.search();
        }
        // A pick among the offers (a tapped suggestion, an ordinal, or slots naming one).
        if let Some(o) = self.pick(input.text, &u) {
            if self.state.hold.as_ref().is_some_and(|h| h.showtime != o.id) {
                self.release();
            }
            self.state.chosen = Some(o);
            return self.after_choice();
        }
        if let Some(id) = input.screen_showtime
            && self.state.chosen.is_none()
            && (u.booking || new.party.is_some())
        {
            self.state.chosen = Some(Offer {
                id: id.to_owned(),
                movie: String::new(),
                title: String::new(),
                title_ko: None,
                theater: String::new(),
                screen: String::new(),
                at: DateTime::default(),
            });
            return self.after_choice();
        }
        if search_changed || (!self.state.active() && (u.booking || !new.is_empty())) {
            if self.state.hold.is_some() {
                self.release();
            }
            self.state.chosen = None;
            return self.search();
        }
        if seats_changed && self.state.chosen.is_some() {
            if self.state.hold.is_some() {
                self.release();
            }
            return self.after_choice();
        }
        self.reprompt();
    }

    fn repeat(&mut self) {
        match self.state.last.clone() {
            Some(last) if !last.text.is_empty() => {
                self.say("다시 말씀드릴게요.", "Here it is again.");
                self.both(&last.text, &last.speech);
                self.suggestions = last.suggestions;
            }
            _ => self.say(
                "아직 드린 말씀이 없어요. 보고 싶은 영화와 날짜를 말씀해 주세요.",
                "I have not said anything yet. Tell me which movie and day you would like.",
            ),
        }
    }

    fn cancel(&mut self) {
        if let Some(h) = self.state.hold.clone() {
            self.call(ToolCall::ReleaseHold(HoldRef { showtime_id: h.showtime, hold_id: h.id }));
            self.state = State { booking: self.state.booking.clone(), ..State::default() };
            self.say(
                "알겠습니다. 예매를 멈추고 잡아 두었던 좌석을 풀어 드릴게요.",
                "All right. I am stopping the booking and giving the held seats back.",
            );
            return;
        }
        if let Some(b) = self.state.booking.clone()
            && matches!(self.state.stage, Stage::Booked | Stage::Idle | Stage::CancelAsk)
        {
            self.state.stage = Stage::CancelAsk;
            let what = self.describe_booking(&b);
            if self.ko {
                self.both(&format!("{what} 예매를 취소할까요?"), &format!("{what} 예매를 취소할까요?"));
                self.suggest("네, 취소할게요", "네");
                self.suggest("아니요", "아니요");
            } else {
                self.both(
                    &format!("Shall I cancel your booking for {what}?"),
                    &format!("Shall I cancel your booking for {what}?"),
                );
                self.suggest("Yes, cancel it", "yes");
                self.suggest("No", "no");
            }
            return;
        }
        if !self.state.active() {
            self.state.cancel_lookup = true;
            self.say("취소할 예매를 찾아볼게요.", "Let me find the booking to cancel.");
            self.call(ToolCall::ListBookings);
            return;
        }
        self.state = State { booking: self.state.booking.clone(), ..State::default() };
        self.say(
            "알겠습니다. 예매를 그만할게요. 다른 영화가 보고 싶으시면 언제든 말씀해 주세요.",
            "All right, I have stopped the booking. Tell me any time if you would like another movie.",
        );
    }

    fn extend(&mut self) {
        match self.state.hold.clone() {
            Some(h) => {
                self.say("좌석을 조금 더 잡아 둘게요.", "I will keep your seats a little longer.");
                self.call(ToolCall::ExtendHold(HoldRef { showtime_id: h.showtime, hold_id: h.id }));
            }
            None => {
                self.say("지금 잡아 둔 좌석이 없어서 연장할 것이 없어요.", "There is no seat hold to extend right now.")
            }
        }
    }

    /// Handles a yes; false when yes means nothing here (then slots are read).
    fn yes(&mut self) -> bool {
        match self.state.stage {
            Stage::Held => {
                let Some(h) = self.state.hold.clone() else { return false };
                self.say("네, 예매를 확정할게요.", "Great, I am confirming your booking.");
                self.call(ToolCall::ConfirmBooking(HoldRef { showtime_id: h.showtime, hold_id: h.id }));
                true
            }
            Stage::CancelAsk => {
                let Some(b) = self.state.booking.clone() else { return false };
                self.say("네, 예매를 취소할게요.", "All right, I am cancelling the booking.");
                self.call(ToolCall::CancelBooking(BookingRef { booking_id: b.id }));
                true
            }
            Stage::Rehold => {
                self.after_choice();
                true
            }
            Stage::Offered if self.state.offers.len() == 1 => {
                self.state.chosen = self.state.offers.first().cloned();
                self.after_choice();
                true
            }
            _ => false,
        }
    }

    fn no(&mut self) -> bool {
        match self.state.stage {
            Stage::Held => {
                self.release();
                self.state.stage = Stage::Offered;
                self.state.chosen = None;
                self.say(
                    "알겠습니다. 잡아 두었던 좌석을 풀어 드릴게요. 다른 시간을 고르시거나, 바꾸실 내용을 말씀해 주세요.",
                    "All right, I am giving those seats back. Pick another time or tell me what to change.",
                );
                self.offer_suggestions();
                true
            }
            Stage::CancelAsk => {
                self.state.stage = Stage::Booked;
                self.say("알겠습니다. 예매는 그대로 두었어요.", "All right, your booking stays as it is.");
                true
            }
            Stage::Rehold => {
                self.state = State { booking: self.state.booking.clone(), ..State::default() };
                self.say(
                    "알겠습니다. 다른 도움이 필요하시면 말씀해 주세요.",
                    "All right. Tell me if I can help with anything else.",
                );
                true
            }
            _ => false,
        }
    }

    fn release(&mut self) {
        if let Some(h) = self.state.hold.take() {
            self.call(ToolCall::ReleaseHold(HoldRef { showtime_id: h.showtime, hold_id: h.id }));
        }
    }

    fn search(&mut self) {
        let s = &self.state.slots;
        let mut args = FindShowtimes { movie_id: s.movie.clone(), theater_id: s.theater.clone(), ..Default::default() };
        if let Some(d) = s.date {
            args.date = Some(d.to_string());
        } else if s.time.is_some() || self.state.discover {
            args.date = Some(self.now.date().to_string());
        }
        self.state.stage = Stage::Searching;
        self.state.offers.clear();
        self.state.chosen = None;
        let when = self.when_words();
        if self.ko {
            let t = format!("{when}상영 시간을 찾아볼게요.");
            self.both(&t, &t);
        } else {
            let t = format!("Let me look up the showtimes{when}.");
            self.both(&t, &t);
        }
        self.call(ToolCall::FindShowtimes(args));
    }

    /// "11월 28일 토요일 " / " for Saturday, Nov 28".
    fn when_words(&self) -> String {
        match self.state.slots.date {
            Some(d) if self.ko => format!("{} ", date_ko(d)),
            Some(d) => format!(" for {}", date_en(d)),
            None => String::new(),
        }
    }

    /// Picks one offered showtime from the message, if it names exactly one.
    fn pick(&self, text: &str, u: &Utterance) -> Option<Offer> {
        let offers = &self.state.offers;
        if offers.is_empty() {
            return None;
        }
        let t = text.trim();
        if let Some(o) = offers.iter().find(|o| self.offer_text(o) == t || o.id == t) {
            return Some(o.clone());
        }
        if let Some(n) = u.ordinal {
            let i = if n < 0 { offers.len().checked_sub(1)? } else { usize::try_from(n).ok()? };
            return offers.get(i).cloned();
        }
        let s = &u.slots;
        if s.movie.is_none() && s.time.is_none() && s.theater.is_none() && s.date.is_none() {
            return None;
        }
        let fit: Vec<&Offer> = offers
            .iter()
            .filter(|o| s.movie.as_ref().is_none_or(|m| *m == o.movie))
            .filter(|o| s.theater.as_ref().is_none_or(|t| *t == o.theater))
            .filter(|o| s.date.is_none_or(|d| d == o.at.date()))
            .filter(|o| s.time.is_none_or(|t| t.fits(minute_of(o.at))))
            .collect();
        let fit = prefer_pm(fit, s.time);
        (fit.len() == 1).then(|| fit[0].clone())
    }

    /// An ambiguous clock time matched against the offers: the one that exists.
    fn resolve_around(&self, t: Option<TimeSpec>) -> Option<TimeSpec> {
        let Some(TimeSpec::Around(m)) = t else { return t };
        let am = self.state.offers.iter().any(|o| minute_of(o.at) == m);
        let pm = self.state.offers.iter().any(|o| minute_of(o.at) == m + 12 * 60);
        match (am, pm) {
            (true, false) => Some(TimeSpec::At(m)),
            (_, true) => Some(TimeSpec::At(m + 12 * 60)),
            _ => t,
        }
    }

    /// With a showtime chosen: hold seats, or ask how many.
    fn after_choice(&mut self) {
        let Some(o) = self.state.chosen.clone() else { return self.reprompt() };
        match self.state.slots.party {
            Some(p) => {
                let label = if o.title.is_empty() { String::new() } else { self.offer_speech(&o) };
                if self.ko {
                    let t = format!("{label} 상영으로 {}석을 잡아 볼게요.", p.total).trim().to_owned();
                    self.both(&t, &t);
                } else {
                    let t = format!("I will hold {} seats for {label}.", p.total).replace(" for .", ".");
                    self.both(&t, &t);
                }
                let args = HoldBestAvailable {
                    showtime_id: o.id.clone(),
                    party_size: u32::from(p.total.clamp(1, 10)),
                    class: self.state.slots.class,
                };
                self.state.stage = Stage::Chosen;
                self.call(ToolCall::HoldBestAvailable(args));
            }
            None => {
                self.state.stage = Stage::Chosen;
                let label = self.offer_speech(&o);
                if self.ko {
                    let t = format!(
                        "{label} 상영이요. 몇 분이 보실 건가요? 어른과 어린이가 함께라면 '어른 둘 아이 하나'처럼 말씀해 주세요."
                    );
                    self.both(&t, &t);
                    for n in 1..=4 {
                        self.suggest(&format!("{n}명"), &format!("{n}명"));
                    }
                } else {
                    let t = format!("{label}. How many people are going?");
                    self.both(&t, &t);
                    for n in 1..=4 {
                        let w = ["one", "two", "three", "four"][n - 1];
                        self.suggest(&format!("{n}"), &format!("{w} tickets"));
                    }
                }
            }
        }
    }

    /// Asks again for what the current stage needs.
    fn reprompt(&mut self) {
        match self.state.stage {
            Stage::Held => {
                self.say(
                    "잡아 둔 좌석으로 예매를 확정할까요? '네' 또는 '아니요'로 말씀해 주세요.",
                    "Shall I confirm the booking for the held seats? Please say yes or no.",
                );
                self.yes_no();
            }
            Stage::Chosen => self.after_choice(),
            Stage::Offered => {
                self.say("아래 상영 시간 중에서 골라 주세요.", "Please pick one of these showtimes.");
                self.offer_suggestions();
            }
            Stage::CancelAsk => {
                self.say(
                    "예매를 취소할까요? '네' 또는 '아니요'로 말씀해 주세요.",
                    "Shall I cancel the booking? Please say yes or no.",
                );
            }
            _ => self.say(
                "어떤 영화를 언제 보고 싶으신지 말씀해 주세요. 예를 들어 '토요일 저녁 7시 두 명'처럼요.",
                "Tell me which movie and when you would like to go, for example 'Saturday at 7pm for two'.",
            ),
        }
    }

    // ---- tool results -------------------------------------------------------------

    fn results(&mut self, input: &Input<'_>) {
        for r in input.tool_results {
            let output = match &r.outcome {
                Ok(output) => output,
                Err(e) => {
                    self.failed(r.tool, &e.error);
                    continue;
                }
            };
            match (r.tool, output) {
                (Tool::FindShowtimes, ToolOutput::Showtimes(list)) => {
                    self.showtimes(list, input.recommended.as_deref())
                }
                (Tool::HoldBestAvailable | Tool::ExtendHold, ToolOutput::Hold(h)) => {
                    self.held(h, r.tool == Tool::ExtendHold)
                }
                (Tool::ReleaseHold, _) => {
                    self.state.hold = None;
                }
                (Tool::ConfirmBooking, ToolOutput::Booking(b)) => self.booked(b),
                (Tool::CancelBooking, _) => {
                    self.state.booking = None;
                    self.state.stage = Stage::Idle;
                    self.say(
                        "예매를 취소했어요. 결제하신 금액은 환불돼요.",
                        "Your booking is cancelled and will be refunded.",
                    );
                }
                (Tool::ListBookings, ToolOutput::Bookings(list)) => self.bookings(list),
                _ => {}
            }
        }
    }

    fn showtimes(&mut self, result: &Showtimes, recommended: Option<&[String]>) {
        let all = parse_showtimes(result);
        let mut fit = fitting(&all, &self.state.slots, self.now);
        if self.state.discover {
            self.state.discover = false;
            if let Some(rec) = recommended {
                let mut ordered = Vec::new();
                for m in rec {
                    ordered.extend(fit.iter().filter(|o| o.movie == *m).take(2).cloned());
                }
                if !ordered.is_empty() {
                    fit = ordered;
                }
            }
            return self.offer(fit, true);
        }
        if fit.is_empty() {
            // Relax the time (then the theater) and say so.
            let mut relaxed = self.state.slots.clone();
            relaxed.time = None;
            let mut alt = fitting(&all, &relaxed, self.now);
            if alt.is_empty() {
                relaxed.theater = None;
                alt = fitting(&all, &relaxed, self.now);
            }
            if alt.is_empty() {
                self.state.stage = Stage::Idle;
                self.say(
                    "죄송해요, 말씀하신 조건으로는 예매할 수 있는 상영이 없어요. 다른 날짜나 영화를 말씀해 주세요.",
                    "Sorry, there is no showtime I can book for that. Please tell me another day or movie.",
                );
                return;
            }
            self.say(
                "말씀하신 시간에는 상영이 없어요. 대신 이런 시간이 있어요.",
                "There is no showing at that time. These are close alternatives.",
            );
            return self.offer(alt, false);
        }
        let exact_time = matches!(self.state.slots.time, Some(TimeSpec::At(_) | TimeSpec::Around(_)));
        if fit.len() == 1 && exact_time {
            self.state.chosen = fit.first().cloned();
            self.state.offers = fit;
            return self.after_choice();
        }
        self.offer(fit, false)
    }

    /// Offers showtimes as quick replies and waits for a pick.
    fn offer(&mut self, list: Vec<Offer>, discovery: bool) {
        self.state.offers = list.into_iter().take(MAX_OFFERS).collect();
        self.state.stage = Stage::Offered;
        if self.state.offers.len() == 1 && !discovery {
            let o = self.state.offers[0].clone();
            let s = self.offer_speech(&o);
            if self.ko {
                let t = format!("{s} 상영이 있어요. 이걸로 할까요?");
                self.both(&t, &t);
            } else {
                let t = format!("There is {s}. Shall I take that one?");
                self.both(&t, &t);
            }
        } else if discovery {
            self.say(
                "이 중에서 보고 싶은 상영을 고르시면 좌석을 잡아 드릴게요.",
                "Pick a showing below and I will hold seats for you.",
            );
        } else {
            self.say(
                "예매할 수 있는 상영 시간이에요. 원하시는 것을 골라 주세요.",
                "Here are the showtimes you can book. Please pick one.",
            );
        }
        self.offer_suggestions();
    }

    fn offer_suggestions(&mut self) {
        let offers = self.state.offers.clone();
        for o in &offers {
            self.suggestions.push(Suggestion {
                label: self.offer_label(o),
                text: self.offer_text(o),
                showtime_id: Some(o.id.clone()),
            });
        }
    }

    fn held(&mut self, result: &booking_tools::Hold, extended: bool) {
        let hold_id = result.hold_id.as_str();
        if hold_id.is_empty() {
            return self.say("좌석을 잡지 못했어요. 다시 시도해 주세요.", "I could not hold seats. Please try again.");
        }
        // A result without a price (0) keeps the price this hold was read back with.
        let amount = Some(u64::from(result.amount))
            .filter(|a| *a > 0)
            .or_else(|| self.state.hold.as_ref().filter(|h| h.id == hold_id).map(|h| h.amount))
            .unwrap_or(0);
        self.state.hold = Some(HoldInfo {
            id: hold_id.to_owned(),
            showtime: result.showtime.clone(),
            seats: result.seats.clone(),
            amount,
        });
        self.state.stage = Stage::Held;
        if extended {
            self.say("좌석을 10분 더 잡아 두었어요.", "Your seats are held for another 10 minutes.");
        }
        self.read_back();
    }

    /// Movie, time, theater, seats, total; then the yes/no question.
    fn read_back(&mut self) {
        let Some(h) = self.state.hold.clone() else { return };
        let o = self.state.chosen.clone().filter(|o| o.id == h.showtime);
        let seats_text = h.seats.join(", ");
        let seats_speech = seats_spoken(&h.seats, self.ko);
        let who = self.state.slots.party.map(|p| party_words(p, self.ko)).unwrap_or_default();
        let won = text::won(h.amount);
        let what = o.as_ref().map(|o| self.offer_speech(o)).unwrap_or_default();
        if self.ko {
            let head = if what.is_empty() { String::new() } else { format!("{what}, ") };
            let t = format!("{head}좌석 {seats_text}, {who}모두 {won}원입니다. 이대로 예매를 확정할까요?");
            let s = format!("{head}좌석 {seats_speech}, {who}모두 {won}원입니다. 이대로 예매를 확정할까요?");
            self.both(&t, &s);
            self.say("좌석은 10분 동안 잡아 둘게요.", "");
            self.yes_no();
            self.suggest("시간 연장", "연장");
        } else {
            let head = if what.is_empty() { String::new() } else { format!("{what}: ") };
            let t = format!("{head}seats {seats_text}, {who}{won} won in total. Shall I confirm the booking?");
            let s = format!("{head}seats {seats_speech}, {who}{won} won in total. Shall I confirm the booking?");
            self.both(&t, &s);
            self.say("", "I will keep the seats for 10 minutes.");
            self.yes_no();
            self.suggest("More time", "extend");
        }
    }

    fn booked(&mut self, result: &booking_tools::Booking) {
        let id = result.booking_id.clone();
        let b = booking_info(result);
        let what = self.describe_booking(&b);
        self.state.booking = Some(b);
        self.state.hold = None;
        self.state.stage = Stage::Booked;
        if self.ko {
            self.both(
                &format!("예매가 완료되었어요. {what}, 예매 번호 {id}. 즐거운 관람 되세요!"),
                &format!("예매가 완료되었어요. {what}. 즐거운 관람 되세요!"),
            );
        } else {
            self.both(
                &format!("Your booking is confirmed: {what}, booking number {id}. Enjoy the movie!"),
                &format!("Your booking is confirmed: {what}. Enjoy the movie!"),
            );
        }
    }

    fn describe_booking(&self, b: &BookingInfo) -> String {
        let o = self.state.chosen.clone().filter(|o| o.id == b.showtime);
        let seats = b.seats.join(", ");
        match o {
            Some(o) if self.ko => format!("{} 좌석 {seats}", self.offer_speech(&o)),
            Some(o) => format!("{}, seats {seats}", self.offer_speech(&o)),
            None if self.ko => format!("좌석 {seats}"),
            None => format!("seats {seats}"),
        }
    }

    fn bookings(&mut self, result: &booking_tools::Bookings) {
        let list: Vec<&booking_tools::Booking> =
            result.bookings.iter().filter(|b| b.status == Some(BookingStatus::Confirmed)).collect();
        let lookup = std::mem::take(&mut self.state.cancel_lookup);
        let Some(last) = list.last() else {
            return self.say("확정된 예매가 없어요.", "You have no confirmed bookings.");
        };
        let info = booking_info(last);
        self.state.booking = Some(info);
        if lookup {
            self.state.stage = Stage::Booked;
            self.cancel();
        } else if self.ko {
            let t = format!("확정된 예매가 {}건 있어요. 가장 최근 예매는 {}이에요.", list.len(), self.describe_last());
            self.both(&t, &t);
        } else {
            let t = format!("You have {} confirmed bookings. The latest is {}.", list.len(), self.describe_last());
            self.both(&t, &t);
        }
    }

    fn describe_last(&self) -> String {
        self.state.booking.as_ref().map(|b| self.describe_booking(b)).unwrap_or_default()
    }

    fn failed(&mut self, tool: Tool, code: &str) {
        let code = if code.is_empty() { "error" } else { code };
        match (tool.name(), code) {
            (_, "hold_expired") | (_, "hold_not_found") if self.state.hold.is_some() => {
                self.state.hold = None;
                self.state.stage = Stage::Rehold;
                self.say(
                    "잡아 두었던 시간이 지나서 좌석이 풀렸어요. 같은 상영으로 다시 좌석을 잡아 드릴까요?",
                    "The hold ran out and the seats were released. Shall I hold seats for the same showing again?",
                );
                if self.ko {
                    self.suggest("네, 다시 잡아 주세요", "네");
                    self.suggest("아니요", "아니요");
                } else {
                    self.suggest("Yes, hold again", "yes");
                    self.suggest("No", "no");
                }
            }
            ("extend_hold", "extend_limit") => {
                self.say(
                    "좌석은 더 이상 연장할 수 없어요. 지금 예매를 확정하시겠어요?",
                    "The hold cannot be extended any further. Would you like to confirm the booking now?",
                );
                self.yes_no();
            }
            ("hold_best_available", "seats_unavailable") if self.state.retries < HOLD_RETRIES => {
                self.state.retries += 1;
                self.after_choice();
            }
            ("hold_best_available", "no_fit" | "seats_unavailable") => {
                let n = self.state.slots.party.map_or(1, |p| p.total);
                let chosen = self.state.chosen.take();
                self.state.offers.retain(|o| Some(&o.id) != chosen.as_ref().map(|c| &c.id));
                if self.ko {
                    let t = format!(
                        "죄송해요, 그 상영에는 {n}분이 나란히 앉을 자리가 남아 있지 않아요. 다른 시간을 고르시거나 인원을 바꿔 말씀해 주세요."
                    );
                    self.both(&t, &t);
                } else {
                    let t = format!(
                        "Sorry, that showing has no {n} seats together left. Pick another time or change the number of people."
                    );
                    self.both(&t, &t);
                }
                self.state.stage = if self.state.offers.is_empty() { Stage::Idle } else { Stage::Offered };
                self.offer_suggestions();
            }
            ("release_hold", _) => {
                self.state.hold = None;
            }
            ("cancel_booking", _) => {
                self.state.stage = Stage::Booked;
                self.say(
                    "예매를 취소하지 못했어요. 잠시 후 다시 말씀해 주세요.",
                    "I could not cancel the booking. Please try again shortly.",
                );
            }
            _ => {
                self.say(
                    "죄송해요, 요청을 처리하지 못했어요. 잠시 후 다시 말씀해 주시거나 다른 시간을 골라 주세요.",
                    "Sorry, that did not go through. Please try again shortly or pick another time.",
                );
                if self.state.stage == Stage::Searching {
                    self.state.stage = Stage::Idle;
                }
            }
        }
    }

    // ---- wording ----------------------------------------------------------------

    fn theater_name(&self, id: &str) -> String {
        self.lex.theater(id).map_or_else(|| id.to_owned(), |t| t.display(self.ko).to_owned())
    }

    fn title(&self, o: &Offer) -> String {
        if self.ko { o.title_ko.clone().unwrap_or_else(|| o.title.clone()) } else { o.title.clone() }
    }

    /// "토 11/28 19:00 매트릭스 · 마키 강남".
    fn offer_label(&self, o: &Offer) -> String {
        let wd = weekday_short(o.at.date(), self.ko);
        format!(
            "{wd} {}/{} {:02}:{:02} {} · {}",
            o.at.month(),
            o.at.day(),
            o.at.hour(),
            o.at.minute(),
            self.title(o),
            self.theater_name(&o.theater)
        )
    }

    /// The message a tapped suggestion sends; [`Round::pick`] recognises it.
    fn offer_text(&self, o: &Offer) -> String {
        if self.ko {
            let min = if o.at.minute() > 0 { format!(" {}분", o.at.minute()) } else { String::new() };
            format!(
                "{}월 {}일 {}시{min} {} {}",
                o.at.month(),
                o.at.day(),
                o.at.hour(),
                self.title(o),
                self.theater_name(&o.theater)
            )
        } else {
            format!(
                "{} {:02}:{:02} {} at {}",
                date_en(o.at.date()),
                o.at.hour(),
                o.at.minute(),
                self.title(o),
                self.theater_name(&o.theater)
            )
        }
    }

    /// "11월 28일 토요일 저녁 7시 매트릭스, 마키 강남 1관" (for text and speech).
    fn offer_speech(&self, o: &Offer) -> String {
        if o.title.is_empty() {
            return String::new();
        }
        let screen = if o.screen.is_empty() {
            String::new()
        } else if self.ko {
            format!(" {}관", o.screen)
        } else {
            format!(", screen {}", o.screen)
        };
        if self.ko {
            format!(
                "{} {} {}, {}{screen}",
                date_ko(o.at.date()),
                time_ko(o.at),
                self.title(o),
                self.theater_name(&o.theater)
            )
        } else {
            format!(
                "{} at {} on {}, {}{screen}",
                self.title(o),
                time_en(o.at),
                date_en(o.at.date()),
                self.theater_name(&o.theater)
            )
        }
    }
}

/// A booking as the dialogue remembers it.
fn booking_info(b: &booking_tools::Booking) -> BookingInfo {
    BookingInfo {
        id: b.booking_id.clone(),
        showtime: b.showtime.clone(),
        seats: b.seats.clone(),
        amount: u64::from(b.amount),
    }
}

/// Showtimes from a `find_showtimes` result (sold-out ones and ones whose
/// start does not parse left out).
pub fn parse_showtimes(result: &Showtimes) -> Vec<Offer> {
    result
        .showtimes
        .iter()
        .filter_map(|s| {
            let at: Zoned = s.starts_at.parse().ok()?;
            if s.free == Some(0) {
                return None;
            }
            Some(Offer {
                id: s.id.clone(),
                movie: s.movie.clone(),
                title: s.title.clone(),
                title_ko: s.title_ko.clone(),
                theater: s.theater.clone(),
                screen: s.screen.clone(),
                at: at.datetime(),
            })
        })
        .collect()
}

/// The showtimes that fit the slots and have not started, by start.
fn fitting(all: &[Offer], s: &Slots, now: &Zoned) -> Vec<Offer> {
    let now = now.datetime();
    let fit: Vec<&Offer> = all
        .iter()
        .filter(|o| o.at > now)
        .filter(|o| s.movie.as_ref().is_none_or(|m| *m == o.movie))
        .filter(|o| s.theater.as_ref().is_none_or(|t| *t == o.theater))
        .filter(|o| s.date.is_none_or(|d| d == o.at.date()))
        .filter(|o| s.time.is_none_or(|t| t.fits(minute_of(o.at))))
        .collect();
    let mut out: Vec<Offer> = prefer_pm(fit, s.time).into_iter().cloned().collect();
    out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    out
}

/// For an ambiguous "9시" that fits both 09:00 and 21:00, the afternoon/evening ones.
fn prefer_pm(fit: Vec<&Offer>, t: Option<TimeSpec>) -> Vec<&Offer> {
    if let Some(TimeSpec::Around(m)) = t
        && fit.iter().any(|o| minute_of(o.at) == m + 12 * 60)
    {
        return fit.into_iter().filter(|o| minute_of(o.at) != m).collect();
    }
    fit
}

fn minute_of(at: DateTime) -> u16 {
    (at.hour() as u16) * 60 + at.minute() as u16
}

fn weekday_short(d: Date, ko: bool) -> &'static str {
    let i = d.weekday().to_monday_zero_offset() as usize;
    if ko {
        ["월", "화", "수", "목", "금", "토", "일"][i]
    } else {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i]
    }
}

fn date_ko(d: Date) -> String {
    format!("{}월 {}일 {}요일", d.month(), d.day(), weekday_short(d, true))
}

fn date_en(d: Date) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let wd = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        [d.weekday().to_monday_zero_offset() as usize];
    format!("{wd}, {} {}", MONTHS[(d.month() - 1) as usize], d.day())
}

/// "저녁 7시", "오후 1시 20분", "오전 10시".
fn time_ko(at: DateTime) -> String {
    let h = at.hour();
    let (part, h12) = match h {
        0..=11 => ("오전", if h == 0 { 12 } else { h }),
        12 => ("낮", 12),
        13..=16 => ("오후", h - 12),
        17..=20 => ("저녁", h - 12),
        _ => ("밤", h - 12),
    };
    if at.minute() == 0 { format!("{part} {h12}시") } else { format!("{part} {h12}시 {}분", at.minute()) }
}

/// "7:00 PM".
fn time_en(at: DateTime) -> String {
    let h = at.hour();
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    format!("{h12}:{:02} {}", at.minute(), if h < 12 { "AM" } else { "PM" })
}

/// "F열 7번, 8번" / "row F, seats 7 and 8".
fn seats_spoken(seats: &[String], ko: bool) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for s in seats {
        let (row, num) = s.split_at(s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len()));
        match rows.iter_mut().find(|r| r.0 == row) {
            Some(r) => r.1.push(num.to_owned()),
            None => rows.push((row.to_owned(), vec![num.to_owned()])),
        }
    }
    let parts: Vec<String> = rows
        .into_iter()
        .map(|(row, nums)| {
            if ko {
                format!("{row}열 {}", nums.iter().map(|n| format!("{n}번")).collect::<Vec<_>>().join(", "))
            } else {
                format!("row {row} {}", nums.join(", "))
            }
        })
        .collect();
    parts.join(if ko { ", " } else { "; " })
}

/// "어른 2명, 어린이 1명, " / "2 adults and 1 child, ".
fn party_words(p: Party, ko: bool) -> String {
    match (p.adults, p.children, ko) {
        (Some(a), Some(c), true) if c > 0 => format!("어른 {a}명, 어린이 {c}명, "),
        (Some(a), Some(c), false) if c > 0 => {
            format!("{a} adult{} and {c} child{}, ", if a == 1 { "" } else { "s" }, if c == 1 { "" } else { "ren" })
        }
        (_, _, true) => format!("{}명, ", p.total),
        (_, _, false) => format!("{} {}, ", p.total, if p.total == 1 { "person" } else { "people" }),
    }
}

#[cfg(test)]
mod tests;
