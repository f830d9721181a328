//! What the user wants from this turn: recommendations, opinions about a
//! movie, or a booking step, and the slots we can read off the text
//! (party size, date). Rule-based on purpose: the gateway owns real slot
//! filling; this only decides which tool call to propose.

/// The kind of turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Find or recommend movies.
    Discover,
    /// Start booking (find showtimes or hold seats).
    Book,
    /// Confirm a held booking.
    Confirm,
    /// Extend a hold.
    Extend,
    /// Cancel a booking.
    Cancel,
}

/// Classifies `text` (Korean or English).
pub fn classify(text: &str) -> Intent {
    let t = text.to_lowercase();
    let any = |keys: &[&str]| keys.iter().any(|k| t.contains(k));
    if any(&["취소", "cancel"]) {
        Intent::Cancel
    } else if any(&["연장", "extend", "more time", "시간 더"]) {
        Intent::Extend
    } else if any(&["확정", "결제", "confirm", "확인해줘", "그걸로 할게"]) {
        Intent::Confirm
    } else if any(&[
        "예매",
        "예약",
        "티켓",
        "좌석",
        "자리",
        "상영 시간",
        "상영시간",
        "몇 시",
        "book",
        "ticket",
        "reserve",
        "seat",
        "showtime",
    ]) {
        Intent::Book
    } else {
        Intent::Discover
    }
}

/// Number of people or tickets mentioned ("2명", "두 명", "three tickets").
pub fn party_size(text: &str) -> Option<u32> {
    const KO: &[(&str, u32)] = &[("한", 1), ("두", 2), ("세", 3), ("네", 4), ("다섯", 5), ("여섯", 6)];
    const EN: &[(&str, u32)] = &[("one", 1), ("two", 2), ("three", 3), ("four", 4), ("five", 5), ("six", 6)];
    const UNITS_KO: &[&str] = &["명", "장", "자리", "석"];
    const UNITS_EN: &[&str] = &["people", "person", "persons", "tickets", "ticket", "seats", "seat", "of us", "adults"];
    let t = text.to_lowercase();
    let words: Vec<&str> = t.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
        let rest = &w[digits.len()..];
        let next = words.get(i + 1).copied().unwrap_or("");
        let unit_follows = |rest: &str| {
            UNITS_KO.iter().any(|u| rest.starts_with(u) || next.starts_with(u))
                || UNITS_EN.iter().any(|u| rest.starts_with(u) || next.starts_with(u))
        };
        if !digits.is_empty()
            && let Ok(n) = digits.parse::<u32>()
            && (1..=10).contains(&n)
            && unit_follows(rest)
        {
            return Some(n);
        }
        for &(k, n) in KO {
            if let Some(rest) = w.strip_prefix(k)
                && UNITS_KO.iter().any(|u| rest.starts_with(u) || (rest.is_empty() && next.starts_with(u)))
            {
                return Some(n);
            }
        }
        for &(k, n) in EN {
            if *w == k && UNITS_EN.iter().any(|u| next.starts_with(u)) {
                return Some(n);
            }
        }
    }
    None
}

/// An ISO date (`YYYY-MM-DD`) in the text, if any.
pub fn date(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '-')).find_map(|w| {
        let b = w.as_bytes();
        let ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        ok.then(|| w.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_booking_steps_in_both_languages() {
        assert_eq!(classify("이거 2명 예매해줘"), Intent::Book);
        assert_eq!(classify("Book two tickets for tonight"), Intent::Book);
        assert_eq!(classify("예약 취소해줘"), Intent::Cancel);
        assert_eq!(classify("yes, confirm it"), Intent::Confirm);
        assert_eq!(classify("무서운 영화 추천해줘"), Intent::Discover);
    }

    #[test]
    fn reads_party_size_and_date() {
        assert_eq!(party_size("2명 예매해줘"), Some(2));
        assert_eq!(party_size("두 명이요"), Some(2));
        assert_eq!(party_size("three tickets please"), Some(3));
        assert_eq!(party_size("4 seats"), Some(4));
        assert_eq!(party_size("2019년 영화"), None);
        assert_eq!(date("on 2026-11-23 please").as_deref(), Some("2026-11-23"));
    }
}
