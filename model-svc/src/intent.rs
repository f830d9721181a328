//! What kind of turn this is: a discovery question (recommendations,
//! opinions) or a booking step. Rule-based and coarse on purpose: it only
//! routes the turn; slots and booking acts are read by the `dialog` crate.

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
}
