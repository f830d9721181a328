//! The word tables slot extraction reads: native Korean and English numbers, hour words, counters, party roles and companions, and the named parts of the day.

use super::*;

/// Native Korean numbers: determiner forms (before a counter) and bare forms.
pub(super) const KO_DET: &[(&str, u8)] = &[
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
pub(super) const KO_BARE: &[(&str, u8)] =
    &[("하나", 1), ("다섯", 5), ("여섯", 6), ("일곱", 7), ("여덟", 8), ("아홉", 9), ("둘", 2), ("셋", 3), ("넷", 4)];
/// Hour words before 시 ("열한 시").
pub(super) const KO_HOURS: &[(&str, u16)] = &[
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
/// Sino-Korean digits ("삼십 분", "십이월 오일").
pub(super) const SINO: &[(&str, u32)] =
    &[("일", 1), ("이", 2), ("삼", 3), ("사", 4), ("오", 5), ("육", 6), ("칠", 7), ("팔", 8), ("구", 9)];
/// English hour words ("at seven", "sevenish").
pub(super) const EN_HOURS: &[(&str, u16)] = &[
    ("eleven", 11),
    ("twelve", 12),
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
];
/// English minute words after an hour ("six thirty", "seven forty-five").
pub(super) const EN_MINUTES: &[(&str, u16)] = &[
    ("forty-five", 45),
    ("forty five", 45),
    ("fifteen", 15),
    ("thirty", 30),
    ("twenty", 20),
    ("forty", 40),
    ("fifty", 50),
    ("o five", 5),
];
pub(super) const EN_NUM: &[(&str, u8)] = &[
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
pub(super) const KO_UNITS: &[&str] = &["명", "분", "장", "매", "자리", "사람", "석", "개"];
pub(super) const EN_UNITS: &[&str] =
    &["tickets", "ticket", "seats", "seat", "people", "persons", "person", "spots", "places", "of us"];
pub(super) const ADULT_ROLES: &[&str] =
    &["어른", "성인", "어르신", "엄마", "아빠", "어머니", "아버지", "adults", "adult", "grown-ups"];
pub(super) const CHILD_ROLES: &[&str] = &[
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
pub(super) const COMPANIONS: &[&str] = &[
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
pub(super) const fn m(h: u16) -> u16 {
    h * 60
}
pub(super) const MORNING: TimeSpec = TimeSpec::Window(m(6), m(12));
pub(super) const LUNCH: TimeSpec = TimeSpec::Window(m(11), m(14));
pub(super) const AFTERNOON: TimeSpec = TimeSpec::Window(m(12), m(17));
pub(super) const EVENING: TimeSpec = TimeSpec::Window(m(17), m(22));
pub(super) const NIGHT: TimeSpec = TimeSpec::Window(m(20), m(24));
