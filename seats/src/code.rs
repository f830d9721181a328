//! Booking codes: 8 characters a person can read over the phone or show at
//! the door, from an alphabet without look-alikes.

use std::fmt;

/// The letters of booking codes: digits and capitals without the look-alikes
/// 0/O, 1/I/L, 5/S, 2/Z and 8/B (25 left: 25^8 ≈ 1.5·10^11 codes).
pub const CODE_ALPHABET: &str = "34679ACDEFGHJKMNPQRTUVWXY";
/// The length of a booking code.
pub const CODE_LEN: usize = 8;

/// A booking code such as `K7MQ3XPA`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BookingCode(String);

impl BookingCode {
    /// A fresh code from the thread's CSPRNG (uniqueness is the ledger's:
    /// it refuses a code in use and the store draws again).
    pub fn generate() -> BookingCode {
        use rand::Rng;
        let letters = CODE_ALPHABET.as_bytes();
        let mut rng = rand::thread_rng();
        BookingCode((0..CODE_LEN).map(|_| letters[rng.gen_range(0..letters.len())] as char).collect())
    }

    /// Reads a code as a person may type or say it: case, spaces and dashes
    /// do not matter (`k7mq-2xpa`); `None` unless 8 letters of the alphabet.
    pub fn parse(text: &str) -> Option<BookingCode> {
        let code: String =
            text.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        (code.len() == CODE_LEN && code.chars().all(|c| CODE_ALPHABET.contains(c))).then_some(BookingCode(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BookingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_no_look_alikes_and_read_back() {
        for _ in 0..200 {
            let c = BookingCode::generate();
            assert_eq!(c.as_str().len(), CODE_LEN);
            assert!(!c.as_str().chars().any(|ch| "01258OILSZB".contains(ch)), "{c}");
            assert_eq!(BookingCode::parse(&c.as_str().to_lowercase()), Some(c.clone()));
        }
        assert_eq!(BookingCode::parse("k7mq-3xpa").map(|c| c.to_string()), Some("K7MQ3XPA".into()));
        assert_eq!(BookingCode::parse("K7MQ2XPA"), None, "2 is a look-alike of Z");
        assert_eq!(BookingCode::parse("K7MQ3XP"), None);
    }
}
