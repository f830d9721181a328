//! Slot extraction from one utterance, Korean or English: movie, date, time,
//! theater, party size, seat class and position, plus the dialogue act
//! (yes, no, cancel, repeat, extend, correction) and an ordinal ("두 번째").
//!
//! Rule-based and deterministic. Relative dates resolve against the `now`
//! given; clock times without am/pm stay ambiguous ([`TimeSpec::Around`])
//! until [`crate::policy`] matches them against real showtimes. Spans that
//! one slot consumed are not read again by another ("세 얼간이" is a movie,
//! not three people; "네 명" is four people, not "yes"). When a slot is named
//! twice the last mention wins ("내일 말고 모레" → 모레). This module does no
//! I/O and knows nothing of tools or state.

use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::{ToSpan, Zoned};
use serde::{Deserialize, Serialize};

use crate::lexicon::{self, Lexicon};
use crate::text;

mod act;
mod date;
mod party;
mod scan;
mod spacing;
mod time;
mod words;

pub use self::party::Mix;
use self::scan::Scan;
use self::words::*;

/// A time the user asked for, in the cinema's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TimeSpec {
    /// An exact time ("저녁 7시", "19:00", "7pm"), minutes after midnight.
    At(u16),
    /// A 12-hour clock time without am/pm ("9시", "7:30"): `h:mm` with h in 1–11.
    Around(u16),
    /// A part of the day ("저녁" = 17:00–22:00), minutes after midnight, end exclusive.
    Window(u16, u16),
}

impl TimeSpec {
    /// Whether a showtime starting at `minute` (after midnight) fits.
    pub fn fits(self, minute: u16) -> bool {
        match self {
            TimeSpec::At(m) => m == minute,
            TimeSpec::Around(m) => m == minute || m + 12 * 60 == minute,
            TimeSpec::Window(a, b) => (a..b).contains(&minute),
        }
    }
}

fn hm(m: u16) -> String {
    format!("{}:{:02}", m / 60, m % 60)
}

impl fmt::Display for TimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimeSpec::At(m) => write!(f, "{:02}:{:02}", m / 60, m % 60),
            TimeSpec::Around(m) => write!(f, "~{}", hm(m)),
            TimeSpec::Window(a, b) => write!(f, "{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60),
        }
    }
}

impl From<TimeSpec> for String {
    fn from(t: TimeSpec) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for TimeSpec {
    type Error = String;
    fn try_from(s: String) -> Result<TimeSpec, String> {
        let clock = |s: &str| -> Option<u16> {
            let (h, m) = s.split_once(':')?;
            Some(h.parse::<u16>().ok()? * 60 + m.parse::<u16>().ok()?)
        };
        let bad = || format!("bad time {s:?}");
        if let Some(rest) = s.strip_prefix('~') {
            return clock(rest).map(TimeSpec::Around).ok_or_else(bad);
        }
        if let Some((a, b)) = s.split_once('-') {
            return Ok(TimeSpec::Window(clock(a).ok_or_else(bad)?, clock(b).ok_or_else(bad)?));
        }
        clock(&s).map(TimeSpec::At).ok_or_else(bad)
    }
}

/// How many people, and who, when the user said so ("어른 둘 아이 하나").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Everyone (1–10).
    pub total: u8,
    /// Adults, when roles were named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adults: Option<u8>,
    /// Children, when roles were named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<u8>,
    /// Who they are by ticket type, when any type was named (성인 2 청소년 1,
    /// 경로 둘, a 14-year-old); empty: nobody named a type (all adult).
    #[serde(default, skip_serializing_if = "Mix::is_empty")]
    pub tickets: Mix,
}

/// Seat class: the tool contract's (the seat store's classes).
pub use booking_tools::SeatClass;

/// Where in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// Near the screen.
    Front,
    /// Far from the screen.
    Back,
    /// The centre.
    Middle,
    /// Next to an aisle.
    Aisle,
    /// The last row (맨 뒷줄); scored as `back` by the slot evaluation.
    #[serde(rename = "last_row")]
    LastRow,
}

/// What the utterance does besides (or instead of) giving slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Act {
    /// Agreement ("네", "yes").
    Yes,
    /// Refusal ("아니요", "no").
    No,
    /// Stop the booking ("취소", "cancel").
    Cancel,
    /// Say the last reply again ("다시 말해줘", "repeat that").
    Repeat,
    /// Extend the seat hold ("연장", "extend").
    Extend,
    /// Replace a slot given earlier ("아니 내일 말고 모레", "make it three").
    Correct,
}

/// The booking slots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    /// Movie id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movie: Option<String>,
    /// Local date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// Time of day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeSpec>,
    /// Theater id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theater: Option<String>,
    /// Party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<Party>,
    /// Seat class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<SeatClass>,
    /// Seat position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl Slots {
    /// True when no slot is set.
    pub fn is_empty(&self) -> bool {
        *self == Slots::default()
    }

    /// Overwrites the slots that `newer` sets.
    pub fn merge(&mut self, newer: &Slots) {
        macro_rules! take {
            ($($f:ident),*) => { $( if newer.$f.is_some() { self.$f = newer.$f.clone(); } )* };
        }
        take!(movie, date, time, theater, party, class, position);
    }
}

/// What one utterance says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utterance {
    /// Slots named in it.
    pub slots: Slots,
    /// Its act, if any.
    pub act: Option<Act>,
    /// An ordinal ("두 번째" = 1; "마지막" = -1), for picking an offered showtime.
    pub ordinal: Option<i32>,
    /// It talks about booking (예매, 표, book, tickets...).
    pub booking: bool,
    /// It asks for the user's bookings ("예매 내역", "my bookings").
    pub list_bookings: bool,
}

/// Reads `text` against the names in `lex`, resolving relative dates against
/// `now`. `prior` (the slots already known) is used only for relative
/// changes ("한 명 더", "add one more").
pub fn extract(text: &str, lex: &Lexicon, now: &Zoned, prior: &Slots) -> Utterance {
    let mut s = Scan::new(text);
    let mut u = Utterance::default();
    u.slots.movie = s.entity(lex.movies()).map(|i| lex.movies()[i].id.clone());
    u.slots.theater = s.entity(lex.theaters()).map(|i| lex.theaters()[i].id.clone());
    u.ordinal = s.ordinal();
    u.slots.date = s.date(now.date(), prior.date);
    u.slots.time = s.time(prior);
    u.slots.class = s.class();
    u.slots.position = match s.position() {
        None | Some(Position::Back) if s.last_row() => Some(Position::LastRow),
        p => p,
    };
    u.slots.party = s.party(prior);
    u.list_bookings = s.any(&["예매 내역", "예약 내역", "예매내역", "내 예매", "my booking", "my ticket"]);
    u.booking = u.list_bookings || s.any(&["예매", "예약", "티켓", "좌석", "book", "ticket", "reserv", "seat"]);
    u.act = s.act(!u.slots.is_empty());
    u
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lex() -> Lexicon {
        let mut l = Lexicon::new();
        l.add_movie("nsyn-11", "The Matrix", Some("매트릭스"), &[]);
        l.add_movie("nsyn-19", "3 Idiots", Some("세 얼간이"), &[]);
        l.add_theater("gangnam", "Marquee Gangnam", Some("마키 강남"));
        l.add_theater("hongdae", "Marquee Hongdae", Some("마키 홍대"));
        l
    }

    fn now() -> Zoned {
        "2026-11-22T10:00:00+09:00[Asia/Seoul]".parse().unwrap()
    }

    fn x(t: &str) -> Utterance {
        extract(t, &lex(), &now(), &Slots::default())
    }

    #[test]
    fn full_korean_request() {
        let u = x("토요일 저녁 7시 매트릭스 두 명 예매해 주세요");
        assert_eq!(u.slots.movie.as_deref(), Some("nsyn-11"));
        assert_eq!(u.slots.date, Some(jiff::civil::date(2026, 11, 28)));
        assert_eq!(u.slots.time, Some(TimeSpec::At(19 * 60)));
        assert_eq!(u.slots.party.map(|p| p.total), Some(2));
        assert!(u.booking);
    }

    #[test]
    fn numbers_do_not_leak_between_slots() {
        let u = x("세 얼간이 세 명");
        assert_eq!(u.slots.movie.as_deref(), Some("nsyn-19"));
        assert_eq!(u.slots.party.map(|p| p.total), Some(3));
        assert_eq!(x("네 명이요").act, None);
        assert_eq!(x("네 명이요").slots.party.map(|p| p.total), Some(4));
        assert_eq!(x("네 시에 볼게요").slots.time, Some(TimeSpec::Around(4 * 60)));
        assert_eq!(x("네").act, Some(Act::Yes));
    }

    #[test]
    fn roles_and_corrections() {
        let u = x("어른 둘 아이 하나");
        let mix = Mix { adult: 2, unsure: 1, ..Mix::default() };
        assert_eq!(u.slots.party, Some(Party { total: 3, adults: Some(2), children: Some(1), tickets: mix }));
        let u = x("아니 내일 말고 모레");
        assert_eq!(u.slots.date, Some(jiff::civil::date(2026, 11, 24)));
        assert_eq!(u.act, Some(Act::Correct));
        assert_eq!(x("make it three").slots.party.map(|p| p.total), Some(3));
    }

    #[test]
    fn odd_input_never_panics() {
        let lex = lex();
        let ends: [Zoned; 2] = [
            "9999-12-30T23:00:00+09:00[Asia/Seoul]".parse().unwrap(),
            "-009998-01-02T00:00:00+00:00[UTC]".parse().unwrap(),
        ];
        let pieces = [
            "어른 열 명 ",
            "아이 열 명 ",
            "9999:99",
            "99시 99분",
            "12/31",
            "새해 첫날",
            "31일",
            "2월 30일",
            "next ",
            "saturday",
            "at 23",
            "pm",
            "한 명 더",
            "네",
            "세 얼간이",
            "🎬",
            "\u{0}",
            "ː",
            "시",
            "열한",
            "the 31st",
            "1st",
            "make it ten",
            "  ",
            "ㄱ",
            "a.m",
            "o'clock",
            "0:00",
        ];
        let mut seed: u64 = 7;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..6 {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            for now in &ends {
                let u = extract(&text, &lex, now, &Slots::default());
                assert!(u.slots.party.is_none_or(|p| (1..=10).contains(&p.total)), "{text}");
            }
        }
    }

    #[test]
    fn time_specs_round_trip_as_text() {
        for s in ["19:00", "~7:30", "17:00-22:00"] {
            let t = TimeSpec::try_from(s.to_owned()).unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert!(TimeSpec::Around(9 * 60).fits(21 * 60));
        assert!(!TimeSpec::At(9 * 60).fits(21 * 60));
    }
}
