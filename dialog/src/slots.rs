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
    u.slots.date = s.date(now.date());
    u.slots.time = s.time();
    u.slots.class = s.class();
    u.slots.position = s.position();
    u.slots.party = s.party(prior);
    u.list_bookings = s.any(&["예매 내역", "예약 내역", "예매내역", "내 예매", "my booking", "my ticket"]);
    u.booking = u.list_bookings || s.any(&["예매", "예약", "티켓", "좌석", "book", "ticket", "reserv", "seat"]);
    u.act = s.act(!u.slots.is_empty());
    u
}

/// Native Korean numbers: determiner forms (before a counter) and bare forms.
const KO_DET: &[(&str, u8)] = &[
    ("다섯", 5),
    ("여섯", 6),
    ("일곱", 7),
    ("여덟", 8),
    ("아홉", 9),
    ("한", 1),
    ("두", 2),
    ("세", 3),
    ("네", 4),
    ("열", 10),
];
const KO_BARE: &[(&str, u8)] =
    &[("하나", 1), ("다섯", 5), ("여섯", 6), ("일곱", 7), ("여덟", 8), ("아홉", 9), ("둘", 2), ("셋", 3), ("넷", 4)];
/// Hour words before 시 ("열한 시").
const KO_HOURS: &[(&str, u16)] = &[
    ("열한", 11),
    ("열두", 12),
    ("다섯", 5),
    ("여섯", 6),
    ("일곱", 7),
    ("여덟", 8),
    ("아홉", 9),
    ("한", 1),
    ("두", 2),
    ("세", 3),
    ("네", 4),
    ("열", 10),
];
const EN_NUM: &[(&str, u8)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("a", 1),
    ("an", 1),
];
const KO_UNITS: &[&str] = &["명", "분", "장", "매", "자리", "사람", "석", "개"];
const EN_UNITS: &[&str] =
    &["tickets", "ticket", "seats", "seat", "people", "persons", "person", "spots", "places", "of us"];
const ADULT_ROLES: &[&str] =
    &["어른", "성인", "어르신", "엄마", "아빠", "어머니", "아버지", "adults", "adult", "grown-ups"];
const CHILD_ROLES: &[&str] = &[
    "초등학생",
    "중학생",
    "어린이",
    "아이들",
    "아이",
    "애들",
    "청소년",
    "학생",
    "손주",
    "손자",
    "손녀",
    "아들",
    "딸",
    "애",
    "children",
    "child",
    "kids",
    "kid",
    "teens",
    "teen",
];
/// People who come along (one adult each, unless counted).
const COMPANIONS: &[&str] = &[
    "엄마",
    "아빠",
    "어머니",
    "아버지",
    "할머니",
    "할아버지",
    "아내",
    "남편",
    "와이프",
    "친구",
    "wife",
    "husband",
    "mom",
    "dad",
    "mother",
    "father",
    "friend",
    "partner",
    "girlfriend",
    "boyfriend",
];

/// Minutes after midnight.
const fn m(h: u16) -> u16 {
    h * 60
}
const MORNING: TimeSpec = TimeSpec::Window(m(6), m(12));
const LUNCH: TimeSpec = TimeSpec::Window(m(11), m(14));
const AFTERNOON: TimeSpec = TimeSpec::Window(m(12), m(17));
const EVENING: TimeSpec = TimeSpec::Window(m(17), m(22));
const NIGHT: TimeSpec = TimeSpec::Window(m(20), m(24));

/// The text being read, with the characters already consumed by a slot.
struct Scan {
    c: Vec<char>,
    used: Vec<bool>,
}

/// A party count found in the text.
#[derive(Debug, Clone, Copy)]
struct Count {
    pos: usize,
    end: usize,
    n: u8,
    role: Option<bool>, // Some(true) adults, Some(false) children
    more: bool,         // "한 명 더", "one more"
}

impl Scan {
    fn new(text: &str) -> Scan {
        let c: Vec<char> = text
            .chars()
            .flat_map(char::to_lowercase)
            .map(|c| if ",.!?~·…\"“”()[]'‘’".contains(c) && c != '\'' { ' ' } else { c })
            .map(|c| if c == '\u{2019}' { '\'' } else { c })
            .collect();
        let used = vec![false; c.len()];
        Scan { c, used }
    }

    fn len(&self) -> usize {
        self.c.len()
    }

    /// `pat` at `i`, none of it consumed.
    fn at(&self, i: usize, pat: &str) -> bool {
        (i..).zip(pat.chars()).all(|(j, p)| j < self.len() && self.c[j] == p && !self.used[j])
    }

    fn mark(&mut self, from: usize, to: usize) {
        for u in &mut self.used[from..to.min(self.c.len())] {
            *u = true;
        }
    }

    fn is_word(c: char) -> bool {
        c.is_alphanumeric()
    }

    /// True when `i` starts a word (for Latin: no letter before; for Hangul: no Hangul before).
    fn word_start(&self, i: usize) -> bool {
        i == 0 || !Self::is_word(self.c[i - 1])
    }

    /// True when a word ends at `i` (Latin letters/digits do not continue).
    fn word_end(&self, i: usize) -> bool {
        i >= self.len() || !self.c[i].is_ascii_alphanumeric()
    }

    /// Every unconsumed occurrence of `pat`.
    fn find(&self, pat: &str) -> Vec<usize> {
        let n = pat.chars().count();
        (0..self.len().saturating_sub(n - 1)).filter(|&i| self.at(i, pat)).collect()
    }

    /// Occurrences of `pat` as a whole English word.
    fn find_word(&self, pat: &str) -> Vec<usize> {
        let n = pat.chars().count();
        self.find(pat).into_iter().filter(|&i| self.word_start(i) && self.word_end(i + n)).collect()
    }

    fn any(&self, pats: &[&str]) -> bool {
        let joined: String = self.c.iter().collect();
        pats.iter().any(|p| joined.contains(p))
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while i < self.len() && self.c[i] == ' ' {
            i += 1;
        }
        i
    }

    /// The index just after the last non-space char before `i`.
    fn back_ws(&self, mut i: usize) -> usize {
        while i > 0 && self.c[i - 1] == ' ' {
            i -= 1;
        }
        i
    }

    /// The word (maximal run of non-space chars) that starts at `i`.
    fn word_at(&self, i: usize) -> String {
        self.c[i..].iter().take_while(|c| **c != ' ').collect()
    }

    /// Digits at `i`: (value, end).
    fn digits(&self, i: usize) -> Option<(u32, usize)> {
        let mut j = i;
        let mut v: u32 = 0;
        while j < self.len() && self.c[j].is_ascii_digit() && !self.used[j] && j - i < 4 {
            v = v * 10 + self.c[j].to_digit(10).unwrap_or(0);
            j += 1;
        }
        (j > i && (i == 0 || !self.c[i - 1].is_ascii_digit()) && (j >= self.len() || !self.c[j].is_ascii_digit()))
            .then_some((v, j))
    }

    // ---- movie and theater ------------------------------------------------

    /// The last-named entry of `entries` (consumed).
    fn entity(&mut self, entries: &[lexicon::Entry]) -> Option<usize> {
        let mut hay = Vec::new();
        let mut map = Vec::new();
        for (i, ch) in self.c.iter().enumerate() {
            if !self.used[i] {
                let folded = text::compact(&ch.to_string());
                if let Some(f) = folded.first() {
                    hay.push(*f);
                    map.push(i);
                }
            }
        }
        let found = lexicon::find(entries, &hay);
        let last = found.iter().max_by_key(|f| f.start)?;
        for f in &found {
            let (a, b) = (map[f.start], map[f.end - 1] + 1);
            self.mark(a, b);
        }
        Some(last.index)
    }

    // ---- ordinal ------------------------------------------------------------

    fn ordinal(&mut self) -> Option<i32> {
        const PATS: &[(&str, i32)] = &[
            ("첫 번째", 0),
            ("첫번째", 0),
            ("첫 번", 0),
            ("두 번째", 1),
            ("두번째", 1),
            ("세 번째", 2),
            ("세번째", 2),
            ("네 번째", 3),
            ("네번째", 3),
            ("1번", 0),
            ("2번", 1),
            ("3번", 2),
            ("4번", 3),
            ("마지막", -1),
            ("first", 0),
            ("second", 1),
            ("third", 2),
            ("fourth", 3),
            ("last", -1),
            ("1st", 0),
            ("2nd", 1),
            ("3rd", 2),
        ];
        let mut best: Option<(usize, i32)> = None;
        for (p, v) in PATS {
            for i in self.find(p) {
                let n = p.chars().count();
                let latin = p.is_ascii() && p.chars().all(|c| c.is_ascii_alphanumeric());
                if latin && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                // "1st"/"2nd" right after a month is a date, not an ordinal.
                if latin && p.starts_with(|c: char| c.is_ascii_digit()) {
                    continue;
                }
                self.mark(i, i + n);
                if best.is_none_or(|b| i > b.0) {
                    best = Some((i, *v));
                }
            }
        }
        best.map(|b| b.1)
    }

    // ---- date -----------------------------------------------------------------

    fn date(&mut self, today: Date) -> Option<Date> {
        let mut found: Vec<(usize, Date)> = Vec::new();
        let mut weak: Option<Date> = None;
        let add = |d: i64| today.checked_add(d.days()).ok();
        // ISO dates.
        for i in 0..self.len() {
            if let Some((y, e)) = self.digits(i)
                && e - i == 4
                && self.at(e, "-")
                && let Some((mo, e2)) = self.digits(e + 1)
                && self.at(e2, "-")
                && let Some((d, e3)) = self.digits(e2 + 1)
                && let Ok(date) = Date::new(y as i16, mo as i8, d as i8)
            {
                found.push((i, date));
                self.mark(i, e3);
            }
        }
        // Korean N월 N일, N일; numeric M/D.
        for i in 0..self.len() {
            let Some((a, e)) = self.digits(i) else { continue };
            let e1 = self.skip_ws(e);
            if self.at(e1, "월")
                && let Some((d, e2)) = self.digits(self.skip_ws(e1 + 1))
                && self.at(e2, "일")
                && !self.at(e2 + 1, "요")
            {
                if let Some(date) = month_day(today, a, d) {
                    found.push((i, date));
                }
                self.mark(i, e2 + 1);
            } else if self.at(e, "일") && !self.at(e + 1, "요") && (1..=31).contains(&a) {
                if let Some(date) = day_of_month(today, a) {
                    found.push((i, date));
                }
                self.mark(i, e + 1);
            } else if self.at(e, "/")
                && let Some((d, e2)) = self.digits(e + 1)
                && (1..=12).contains(&a)
            {
                if let Some(date) = month_day(today, a, d) {
                    found.push((i, date));
                }
                self.mark(i, e2);
            }
        }
        // English month names with a day.
        const MONTHS: &[&str] = &[
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ];
        for (mi, name) in MONTHS.iter().enumerate() {
            for form in [*name, &name[..3]] {
                for i in self.find_word(form) {
                    let j = self.skip_ws(i + form.chars().count());
                    if let Some((d, e)) = self.digits(j) {
                        let e2 = self.ordinal_suffix(e);
                        if let Some(date) = month_day(today, mi as u32 + 1, d) {
                            found.push((i, date));
                        }
                        self.mark(i, e2);
                    }
                }
            }
        }
        // "the 30th", "30th".
        for i in 0..self.len() {
            if let Some((d, e)) = self.digits(i) {
                let e2 = self.ordinal_suffix(e);
                if e2 > e && (1..=31).contains(&d) {
                    if let Some(date) = day_of_month(today, d) {
                        found.push((i, date));
                    }
                    self.mark(i, e2);
                }
            }
        }
        // New Year's Day.
        for p in ["새해 첫날", "new year's day", "new year"] {
            for i in self.find(p) {
                if let Some(date) = today.year().checked_add(1).and_then(|y| Date::new(y, 1, 1).ok()) {
                    found.push((i, date));
                }
                self.mark(i, i + p.chars().count());
            }
        }
        // Weekends.
        for (p, next) in [
            ("다음 주말", true),
            ("다음주말", true),
            ("담주 주말", true),
            ("next weekend", true),
            ("이번 주말", false),
            ("이번주말", false),
            ("this weekend", false),
            ("주말", false),
            ("weekend", false),
        ] {
            for i in self.find(p) {
                let wd = today.weekday().to_monday_zero_offset() as i64;
                let d = if next {
                    7 - wd + 5
                } else if wd == 6 {
                    0
                } else {
                    5 - wd
                };
                found.extend(add(d).map(|x| (i, x)));
                self.mark(i, i + p.chars().count());
            }
        }
        // Relative days.
        for (p, d, latin) in [
            ("day after tomorrow", 2, true),
            ("내일모레", 2, false),
            ("내일 모레", 2, false),
            ("오늘", 0, false),
            ("내일", 1, false),
            ("모레", 2, false),
            ("글피", 3, false),
            ("today", 0, true),
            ("tonight", 0, true),
            ("tomorrow", 1, true),
        ] {
            for i in self.find(p) {
                let n = p.chars().count();
                if latin && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                found.extend(add(d).map(|x| (i, x)));
                // "tonight" is also a time of day: leave it for `time`.
                if p != "tonight" {
                    self.mark(i, i + n);
                }
            }
        }
        for i in self.find("낼") {
            if self.word_start(i) {
                found.extend(add(1).map(|x| (i, x)));
                self.mark(i, i + 1);
            }
        }
        // "the day after" right after "tomorrow" was named.
        for i in self.find("the day after") {
            if found.iter().any(|(_, d)| Some(*d) == add(1)) {
                found.extend(add(2).map(|x| (i, x)));
                self.mark(i, i + 13);
            }
        }
        if !self.find("이따").is_empty() || !self.find("later today").is_empty() {
            weak = Some(today);
        }
        // Weekdays.
        const KO_DAYS: &[(&str, Weekday)] = &[
            ("월요일", Weekday::Monday),
            ("화요일", Weekday::Tuesday),
            ("수요일", Weekday::Wednesday),
            ("목요일", Weekday::Thursday),
            ("금요일", Weekday::Friday),
            ("토요일", Weekday::Saturday),
            ("일요일", Weekday::Sunday),
            ("토욜", Weekday::Saturday),
            ("일욜", Weekday::Sunday),
        ];
        const EN_DAYS: &[(&str, Weekday)] = &[
            ("monday", Weekday::Monday),
            ("tuesday", Weekday::Tuesday),
            ("wednesday", Weekday::Wednesday),
            ("thursday", Weekday::Thursday),
            ("friday", Weekday::Friday),
            ("saturday", Weekday::Saturday),
            ("sunday", Weekday::Sunday),
            ("mon", Weekday::Monday),
            ("tue", Weekday::Tuesday),
            ("tues", Weekday::Tuesday),
            ("wed", Weekday::Wednesday),
            ("thu", Weekday::Thursday),
            ("thurs", Weekday::Thursday),
            ("fri", Weekday::Friday),
            ("sat", Weekday::Saturday),
        ];
        for (p, wd) in KO_DAYS.iter().chain(EN_DAYS) {
            let latin = p.is_ascii();
            for i in self.find(p) {
                let n = p.chars().count();
                if latin && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                let before: String = self.c[..self.back_ws(i)].iter().collect();
                let next_week = ["다음 주", "다음주", "담주", "next"].iter().any(|w| before.ends_with(w));
                let wd_off = wd.to_monday_zero_offset() as i64;
                let today_off = today.weekday().to_monday_zero_offset() as i64;
                let d = if next_week { 7 - today_off + wd_off } else { (wd_off - today_off).rem_euclid(7) };
                found.extend(add(d).map(|x| (i, x)));
                self.mark(i, i + n);
            }
        }
        found.iter().max_by_key(|(i, _)| *i).map(|(_, d)| *d).or(weak)
    }

    /// Skips "st"/"nd"/"rd"/"th" after a day number.
    fn ordinal_suffix(&self, e: usize) -> usize {
        for s in ["st", "nd", "rd", "th"] {
            if self.at(e, s) && self.word_end(e + 2) {
                return e + 2;
            }
        }
        e
    }

    // ---- time -----------------------------------------------------------------

    fn time(&mut self) -> Option<TimeSpec> {
        // (position, time, period known)
        let mut clocks: Vec<(usize, TimeSpec)> = Vec::new();
        // Colon times, with am/pm or a Korean period word.
        for i in 0..self.len() {
            let Some((h, e)) = self.digits(i) else { continue };
            if !self.at(e, ":") {
                continue;
            }
            let Some((mi, e2)) = self.digits(e + 1) else { continue };
            if h > 24 || mi > 59 || e2 - e != 3 {
                continue;
            }
            let (ampm, end) = self.ampm(e2);
            let start = self.period_before(i).map_or(i, |(s, _)| s);
            let period = ampm.or(self.period_before(i).map(|p| p.1));
            clocks.push((i, clock(h as u16, mi as u16, period)));
            self.mark(start, end);
        }
        // "7pm", "10 am".
        for i in 0..self.len() {
            let Some((h, e)) = self.digits(i) else { continue };
            let (ampm, end) = self.ampm(e);
            if let Some(p) = ampm
                && (1..=12).contains(&h)
            {
                clocks.push((i, clock(h as u16, 0, Some(p))));
                self.mark(i, end);
            }
        }
        // Korean N시 (N분|반).
        for i in self.find("시") {
            if self.at(i + 1, "간") || self.used[i] {
                continue;
            }
            let b = self.back_ws(i);
            let (hour, start) = if let Some((h, s)) = self.digits_ending(b) {
                (h as u16, s)
            } else if let Some((h, s)) = KO_HOURS.iter().find_map(|(w, h)| {
                let n = w.chars().count();
                (b >= n && self.at(b - n, w) && self.word_start(b - n)).then(|| (*h, b - n))
            }) {
                (h, s)
            } else {
                continue;
            };
            if hour > 24 {
                continue;
            }
            let mut end = i + 1;
            let mut minute = 0;
            let j = self.skip_ws(end);
            if self.at(j, "반") {
                minute = 30;
                end = j + 1;
            } else if let Some((mi, e)) = self.digits(j)
                && self.at(e, "분")
                && mi < 60
            {
                minute = mi as u16;
                end = e + 1;
            }
            let period = self.period_before(start);
            let from = period.map_or(start, |p| p.0);
            clocks.push((start, clock(hour, minute, period.map(|p| p.1))));
            self.mark(from, end);
        }
        // English "at 8", "8 o'clock", noon.
        for i in self.find("o'clock") {
            let b = self.back_ws(i);
            if let Some((h, s)) = self.digits_ending(b).or_else(|| self.en_number_ending(b).map(|(n, s)| (n as u32, s)))
            {
                clocks.push((s, clock(h as u16, 0, None)));
                self.mark(s, i + 7);
            }
        }
        for i in self.find_word("at") {
            let j = self.skip_ws(i + 2);
            if let Some((h, e)) = self.digits(j)
                && (1..=23).contains(&h)
                && !self.unit_follows(e)
            {
                clocks.push((j, clock(h as u16, 0, None)));
                self.mark(i, e);
            }
        }
        for (p, t) in [("noon", 12), ("midnight", 0)] {
            for i in self.find_word(p) {
                clocks.push((i, TimeSpec::At(m(t))));
                self.mark(i, i + p.len());
            }
        }
        // Parts of the day.
        let mut windows: Vec<(usize, TimeSpec)> = Vec::new();
        for (p, w) in [
            ("점심 지나", AFTERNOON),
            ("점심 이후", AFTERNOON),
            ("tonight", EVENING),
            ("저녁", EVENING),
            ("evening", EVENING),
            ("오늘 밤", NIGHT),
            ("밤", NIGHT),
            ("늦게", NIGHT),
            ("night", NIGHT),
            ("late", NIGHT),
            ("아침", MORNING),
            ("오전", MORNING),
            ("새벽", MORNING),
            ("morning", MORNING),
            ("오후", AFTERNOON),
            ("낮", AFTERNOON),
            ("afternoon", AFTERNOON),
            ("점심", LUNCH),
            ("lunch", LUNCH),
        ] {
            for i in self.find(p) {
                let n = p.chars().count();
                if p.is_ascii() && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                windows.push((i, w));
                self.mark(i, i + n);
            }
        }
        let window = windows.iter().max_by_key(|w| w.0).map(|w| w.1);
        match (clocks.iter().max_by_key(|c| c.0).map(|c| c.1), window) {
            (Some(TimeSpec::Around(t)), Some(TimeSpec::Window(a, _))) => {
                let h = t / 60;
                Some(if a >= m(12) || (a == m(11) && h <= 5) { TimeSpec::At(t + m(12)) } else { TimeSpec::At(t) })
            }
            (Some(c), _) => Some(c),
            (None, w) => w,
        }
    }

    /// am/pm after `e` (skipping a space): (Some(is_pm), end).
    fn ampm(&self, e: usize) -> (Option<bool>, usize) {
        let j = self.skip_ws(e);
        for (p, pm) in [("p.m", true), ("a.m", false), ("pm", true), ("am", false)] {
            let n = p.chars().count();
            if self.at(j, p) && self.word_end(j + n) {
                return (Some(pm), j + n);
            }
        }
        (None, e)
    }

    /// A Korean period word right before `i`: (its start, is_pm).
    fn period_before(&self, i: usize) -> Option<(usize, bool)> {
        let b = self.back_ws(i);
        for (p, pm) in [
            ("오전", false),
            ("아침", false),
            ("새벽", false),
            ("오후", true),
            ("저녁", true),
            ("밤", true),
            ("낮", true),
        ] {
            let n = p.chars().count();
            if b >= n && self.at(b - n, p) {
                return Some((b - n, pm));
            }
        }
        None
    }

    /// Digits ending exactly at `e`: (value, start).
    fn digits_ending(&self, e: usize) -> Option<(u32, usize)> {
        let mut s = e;
        while s > 0 && self.c[s - 1].is_ascii_digit() && !self.used[s - 1] && e - s < 2 {
            s -= 1;
        }
        if s == e || (s > 0 && self.c[s - 1].is_ascii_digit()) {
            return None;
        }
        self.digits(s).filter(|(_, end)| *end == e)
    }

    /// An English number word ending at `e`.
    fn en_number_ending(&self, e: usize) -> Option<(u8, usize)> {
        EN_NUM.iter().find_map(|(w, n)| {
            let l = w.len();
            (e >= l && self.at(e - l, w) && self.word_start(e - l)).then(|| (*n, e - l))
        })
    }

    /// A counting unit (Korean or English) right after `e`.
    fn unit_follows(&self, e: usize) -> bool {
        let j = self.skip_ws(e);
        KO_UNITS.iter().chain(EN_UNITS).any(|u| self.at(j, u))
            || ADULT_ROLES.iter().chain(CHILD_ROLES).any(|u| u.is_ascii() && self.at(j, u))
    }

    // ---- class and position -----------------------------------------------------

    fn class(&mut self) -> Option<SeatClass> {
        self.last_of(&[
            ("프리미엄", SeatClass::Premium),
            ("premium", SeatClass::Premium),
            ("휠체어", SeatClass::Wheelchair),
            ("장애인", SeatClass::Wheelchair),
            ("wheelchair", SeatClass::Wheelchair),
            ("accessible", SeatClass::Wheelchair),
            ("일반석", SeatClass::Standard),
            ("일반 좌석", SeatClass::Standard),
            ("standard", SeatClass::Standard),
            ("regular seat", SeatClass::Standard),
        ])
    }

    fn position(&mut self) -> Option<Position> {
        self.last_of(&[
            ("앞쪽", Position::Front),
            ("앞자리", Position::Front),
            ("앞줄", Position::Front),
            ("앞 줄", Position::Front),
            ("스크린 가까운", Position::Front),
            ("front", Position::Front),
            ("뒤쪽", Position::Back),
            ("뒷자리", Position::Back),
            ("뒷줄", Position::Back),
            ("맨 뒤", Position::Back),
            ("back", Position::Back),
            ("rear", Position::Back),
            ("가운데", Position::Middle),
            ("중간", Position::Middle),
            ("중앙", Position::Middle),
            ("middle", Position::Middle),
            ("center", Position::Middle),
            ("centre", Position::Middle),
            ("통로", Position::Aisle),
            ("복도", Position::Aisle),
            ("aisle", Position::Aisle),
        ])
    }

    fn last_of<T: Copy>(&mut self, pats: &[(&str, T)]) -> Option<T> {
        let mut best: Option<(usize, T)> = None;
        for (p, v) in pats {
            for i in self.find(p) {
                let n = p.chars().count();
                if p.is_ascii() && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                self.mark(i, i + n);
                if best.is_none_or(|b| i > b.0) {
                    best = Some((i, *v));
                }
            }
        }
        best.map(|b| b.1)
    }

    // ---- party ----------------------------------------------------------------------

    fn counts(&mut self) -> Vec<Count> {
        let mut out: Vec<Count> = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if self.used[i] || !self.word_start(i) {
                i += 1;
                continue;
            }
            // A number: digits, Korean determiner/bare forms, English words.
            let mut num: Option<(u8, usize, bool)> = None; // (n, end, needs unit)
            if let Some((v, e)) = self.digits(i) {
                if (1..=10).contains(&v) {
                    num = Some((v as u8, e, true));
                }
            } else {
                for (w, n) in KO_BARE {
                    if self.at(i, w) {
                        num = Some((*n, i + w.chars().count(), false));
                        break;
                    }
                }
                if num.is_none() {
                    for (w, n) in KO_DET {
                        if self.at(i, w) {
                            num = Some((*n, i + w.chars().count(), true));
                            break;
                        }
                    }
                }
                if num.is_none() {
                    for (w, n) in EN_NUM {
                        if self.at(i, w) && self.word_end(i + w.len()) {
                            num = Some((*n, i + w.len(), true));
                            break;
                        }
                    }
                }
            }
            let Some((n, e, needs_unit)) = num else {
                i += 1;
                continue;
            };
            // What follows: a unit, a role, "more", or (bare forms) a particle.
            let j = self.skip_ws(e);
            let mut end = e;
            let mut role = None;
            let mut ok = false;
            let mut more = false;
            if let Some(u) = KO_UNITS.iter().find(|u| self.at(j, u)) {
                ok = e == j || e + 1 == j;
                end = j + u.chars().count();
            } else if let Some(u) = EN_UNITS.iter().find(|u| self.at(j, u)) {
                ok = true;
                end = j + u.len();
            } else if let Some(r) = ADULT_ROLES.iter().find(|r| r.is_ascii() && self.at(j, r)) {
                ok = true;
                role = Some(true);
                end = j + r.len();
            } else if let Some(r) = CHILD_ROLES.iter().find(|r| r.is_ascii() && self.at(j, r)) {
                ok = true;
                role = Some(false);
                end = j + r.len();
            } else if self.at(j, "more") {
                ok = true;
                more = true;
                end = j + 4;
            } else if !needs_unit {
                // Bare native count: the word must end here or take a particle.
                let next = self.c.get(e).copied().unwrap_or(' ');
                ok = next == ' ' || "이요하까랑서만뿐에".contains(next);
            } else if self.c[i].is_ascii_alphabetic() || self.c[i].is_ascii_digit() {
                // English: one adjective between number and unit ("2 premium seats").
                let w = self.word_at(j);
                let k = self.skip_ws(j + w.chars().count());
                if let Some(u) = EN_UNITS.iter().find(|u| self.at(k, u)) {
                    ok = w.chars().all(|c| c.is_ascii_alphabetic());
                    end = k + u.len();
                }
            }
            // "이 세 명" etc. are fine; "하나요?" alone is a verb, not a count.
            if ok && !needs_unit && self.at(i, "하나") && self.at(e, "요") && self.role_before(i).is_none() {
                ok = false;
            }
            if ok {
                if role.is_none() {
                    role = self.role_before(i);
                }
                let k = self.skip_ws(end);
                more = more || self.at(k, "더") || self.at(k, "more");
                out.push(Count { pos: i, end, n, role, more });
                self.mark(i, end);
                i = end;
            } else {
                i = e;
            }
        }
        // "for two", "party of four", "make it three", "two of us".
        for lead in ["for", "party of", "family of", "make it", "make that", "table for"] {
            for i in self.find_word(lead) {
                let j = self.skip_ws(i + lead.len());
                let n = self.digits(j).map(|(v, e)| (v as u8, e)).or_else(|| {
                    EN_NUM
                        .iter()
                        .take(10)
                        .find_map(|(w, n)| (self.at(j, w) && self.word_end(j + w.len())).then_some((*n, j + w.len())))
                });
                if let Some((n, e)) = n
                    && (1..=10).contains(&n)
                    && !self.at(self.skip_ws(e), ":")
                {
                    out.push(Count { pos: i, end: e, n, role: None, more: false });
                    self.mark(i, e);
                }
            }
        }
        out
    }

    /// A role word (adult or child) right before `i`.
    fn role_before(&self, i: usize) -> Option<bool> {
        let b = self.back_ws(i);
        let ends = |w: &str| {
            let n = w.chars().count();
            b >= n && self.c[b - n..b].iter().copied().eq(w.chars())
        };
        if ADULT_ROLES.iter().any(|w| ends(w)) {
            Some(true)
        } else if CHILD_ROLES.iter().any(|w| ends(w)) {
            Some(false)
        } else {
            None
        }
    }

    fn party(&mut self, prior: &Slots) -> Option<Party> {
        let joined: String = self.c.iter().collect();
        let counts = self.counts();
        let has = |w: &str| joined.contains(w);
        let words: Vec<&str> = joined.split(' ').collect();
        let self_ko = words.iter().any(|w| {
            ["저", "제가", "저까지", "저도", "저요", "저랑", "저와", "저하고", "나", "나랑"].contains(w)
                || (w.starts_with('저') && w.chars().count() <= 3 && !w.starts_with("저녁") && !w.starts_with("저희"))
        }) || has("데리고");
        let self_en = words.iter().any(|w| ["me", "i", "myself"].contains(w));
        let companions = COMPANIONS.iter().filter(|c| has(c)).count() as u8;
        let child_words = CHILD_ROLES.iter().any(|c| has(c));
        let roles: Vec<&Count> = counts.iter().filter(|c| c.role.is_some()).collect();
        if let Some(more) = counts.iter().rev().find(|c| c.more) {
            let base = prior.party.map_or(1, |p| p.total);
            return Some(Party { total: base.saturating_add(more.n).min(10), adults: None, children: None });
        }
        if !roles.is_empty() {
            let sum =
                |adult: bool| roles.iter().filter(|c| c.role == Some(adult)).fold(0u8, |a, c| a.saturating_add(c.n));
            let (mut adults, children) = (sum(true), sum(false));
            if (self_ko || self_en) && adults == 0 {
                adults = 1;
            }
            // Companions named without a count ("아내와 아이 하나").
            adults =
                adults.saturating_add(COMPANIONS.iter().filter(|c| has(c) && !ADULT_ROLES.contains(c)).count() as u8);
            let total = adults.saturating_add(children).clamp(1, 10);
            return Some(Party { total, adults: Some(adults), children: Some(children) });
        }
        if let Some(c) = counts.last() {
            let mut n = c.n;
            // "친구 세 명이랑 같이" counts the friends; the speaker comes too.
            let before: String = self.c[..self.back_ws(c.pos)].iter().collect();
            let after: String = self.c[c.end..].iter().collect();
            if (before.ends_with("친구") || before.ends_with("friends"))
                && (after.starts_with("이랑") || after.starts_with("랑") || after.starts_with("하고") || has("같이"))
            {
                n += 1;
            }
            return Some(Party { total: n.clamp(1, 10), adults: None, children: None });
        }
        if has("혼자") || has("just me") || has("only me") || has("alone") || has("by myself") {
            return Some(Party { total: 1, adults: None, children: None });
        }
        if has("부부") || has("couple") {
            return Some(Party { total: 2, adults: None, children: None });
        }
        if companions > 0 && (self_ko || self_en) && !child_words {
            return Some(Party { total: companions.saturating_add(1).min(10), adults: None, children: None });
        }
        None
    }

    // ---- acts -------------------------------------------------------------------------

    fn act(&self, has_slots: bool) -> Option<Act> {
        let joined: String = self.c.iter().collect();
        let has = |w: &str| joined.contains(w);
        let tokens: Vec<(usize, String)> = {
            let mut v = Vec::new();
            let mut start = None;
            for (i, ch) in self.c.iter().enumerate() {
                match (ch.is_whitespace(), start) {
                    (false, None) => start = Some(i),
                    (true, Some(s)) => {
                        v.push((s, self.c[s..i].iter().collect()));
                        start = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = start {
                v.push((s, self.c[s..].iter().collect()));
            }
            v
        };
        let tok = |w: &str| tokens.iter().any(|(i, t)| t == w && !self.used[*i]);
        let tok_prefix = |w: &str| tokens.iter().any(|(i, t)| t.starts_with(w) && !self.used[*i]);
        if [
            "다시 말",
            "다시 한",
            "다시요",
            "뭐라고",
            "못 들었",
            "한 번 더 말",
            "한번 더 말",
            "다시 읽",
            "repeat",
            "say again",
            "say that again",
            "what did you say",
            "pardon",
            "come again",
        ]
        .iter()
        .any(|w| has(w))
        {
            return Some(Act::Repeat);
        }
        if ["취소", "그만", "cancel", "never mind", "nevermind", "forget it"].iter().any(|w| has(w)) || tok("stop")
        {
            return Some(Act::Cancel);
        }
        if ["연장", "시간 더", "시간을 더", "시간 좀", "extend", "more time"].iter().any(|w| has(w)) {
            return Some(Act::Extend);
        }
        let negation = tok_prefix("아니") || tok("아뇨") || tok("no") || tok("not") || tok("nope");
        let marker = [
            "말고",
            "아니고",
            "바꿔",
            "바꿀",
            "변경",
            "추가",
            "한 명 더",
            "actually",
            "instead",
            "make it",
            "make that",
            "change",
            "i meant",
            "rather",
            "add one",
            "one more",
        ]
        .iter()
        .any(|w| has(w));
        if has_slots && (marker || negation) {
            return Some(Act::Correct);
        }
        if negation || ["싫어", "안 할래", "됐어요", "아닙니다", "no thanks"].iter().any(|w| has(w)) {
            return Some(Act::No);
        }
        // Strong agreement words count anywhere ("네, 두 명이요"); weak ones
        // ("좋아요", "ok") only when nothing else is said ("맨 뒷줄이 좋아요" is a preference).
        let strong = tokens.iter().any(|(i, t)| {
            !self.used[*i]
                && ["네", "예", "응", "넵", "네네", "예예", "확인", "맞아요", "맞아", "맞습니다"].contains(&t.as_str())
        }) || ["yes", "yeah", "yep", "confirm", "confirmed", "correct"].iter().any(|w| tok(w))
            || ["확인했", "that's right", "book it", "go ahead"].iter().any(|w| has(w));
        let weak = tokens.iter().any(|(i, t)| {
            !self.used[*i] && ["좋아요", "좋아", "좋습니다", "그래", "그래요", "알겠어요"].contains(&t.as_str())
        }) || ["sure", "ok", "okay", "right"].iter().any(|w| tok(w))
            || ["그렇게 해", "그걸로", "좋아요", "예매해 주세요", "예매해주세요", "sounds good", "please do"]
                .iter()
                .any(|w| has(w));
        let (yes_ko, yes_en) = (strong, weak && !has_slots);
        if yes_ko || yes_en {
            return Some(Act::Yes);
        }
        None
    }
}

/// `h:mm` with an optional am/pm: exact when known or 0/12–24, otherwise ambiguous.
fn clock(h: u16, minute: u16, pm: Option<bool>) -> TimeSpec {
    let h = h % 24;
    match pm {
        Some(true) if h < 12 => TimeSpec::At(m(h + 12) + minute),
        Some(false) if h == 12 => TimeSpec::At(minute),
        Some(_) => TimeSpec::At(m(h) + minute),
        None if (1..=11).contains(&h) => TimeSpec::Around(m(h) + minute),
        None => TimeSpec::At(m(h) + minute),
    }
}

/// `month`/`day` this year, or next year once it has passed.
fn month_day(today: Date, month: u32, day: u32) -> Option<Date> {
    let (mo, d) = (i8::try_from(month).ok()?, i8::try_from(day).ok()?);
    let this = Date::new(today.year(), mo, d).ok()?;
    if this >= today { Some(this) } else { Date::new(today.year().checked_add(1)?, mo, d).ok() }
}

/// `day` of this month, or of next month once it has passed.
fn day_of_month(today: Date, day: u32) -> Option<Date> {
    let d = i8::try_from(day).ok()?;
    if d >= today.day()
        && let Ok(x) = Date::new(today.year(), today.month(), d)
    {
        return Some(x);
    }
    let first_next = today.first_of_month().checked_add(1.month()).ok()?;
    Date::new(first_next.year(), first_next.month(), d).ok()
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
        assert_eq!(u.slots.party, Some(Party { total: 3, adults: Some(2), children: Some(1) }));
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
