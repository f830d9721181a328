//! Consent as a rule of the gateway, not only of the dialogue: the bot's
//! `confirm_booking` runs only when the bot's previous reply read back that
//! very hold (its seats and total, [`booking_tools::consent::reads_back`]) and
//! the user's own latest turn is a clear yes to it
//! ([`booking_tools::consent::classify`]). The marker of a read-back is a
//! [`ReadBack`] saved on the bot's turn: the hold's facts and a digest of
//! them with the reply text the user saw. Whichever model proposes the call
//! (the rule-based dialogue or an LLM), a confirm without it is refused with
//! `consent_required`.

use booking_tools::consent::{self, Reply};
use serde::{Deserialize, Serialize};

/// The hold a bot reply read back, saved on that bot turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadBack {
    /// The hold.
    pub hold_id: String,
    /// Its showtime.
    pub showtime: String,
    /// Its seats.
    pub seats: Vec<String>,
    /// Its total in won.
    pub amount: u64,
    /// SHA-256 (hex, first 16 bytes) of the facts above and the reply text.
    pub digest: String,
}

/// The hold open at this point of a conversation, as the gateway saw it in
/// tool results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenHold {
    /// The hold.
    pub hold_id: String,
    /// Its showtime.
    pub showtime: String,
    /// Its seats.
    pub seats: Vec<String>,
    /// Its total in won.
    pub amount: u64,
}

fn digest(h: &OpenHold, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut d = Sha256::new();
    for part in [h.hold_id.as_str(), h.showtime.as_str(), &h.seats.join(","), &h.amount.to_string(), text] {
        d.update(part.as_bytes());
        d.update([0]);
    }
    d.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl OpenHold {
    /// The marker for a bot reply, when the reply reads this hold back.
    pub fn read_back_in(&self, text: &str) -> Option<ReadBack> {
        consent::reads_back(text, &self.seats, self.amount).then(|| ReadBack {
            hold_id: self.hold_id.clone(),
            showtime: self.showtime.clone(),
            seats: self.seats.clone(),
            amount: self.amount,
            digest: digest(self, text),
        })
    }
}

impl ReadBack {
    /// The hold it names.
    pub fn hold(&self) -> OpenHold {
        OpenHold {
            hold_id: self.hold_id.clone(),
            showtime: self.showtime.clone(),
            seats: self.seats.clone(),
            amount: self.amount,
        }
    }
}

/// Why a confirm was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The previous bot reply did not read this hold back.
    NoReadBack,
    /// The user's latest turn is not a clear yes.
    NotAYes(Reply),
}

impl Refusal {
    /// The tool error message.
    pub fn message(self) -> String {
        match self {
            Refusal::NoReadBack => {
                "confirm_booking needs the previous reply to read back this hold (seats and total)".to_owned()
            }
            Refusal::NotAYes(r) => {
                format!("the user's latest turn is not a clear yes to the read-back (it reads as {})", r.as_str())
            }
        }
    }
}

/// Checks a `confirm_booking` of `hold_id` on `showtime`: `previous` is the
/// bot's previous turn (its text and marker), `user_text` the user's latest
/// turn.
pub fn check(
    previous: Option<(&str, Option<&ReadBack>)>,
    user_text: &str,
    showtime: &str,
    hold_id: &str,
) -> Result<(), Refusal> {
    let Some((text, Some(rb))) = previous else { return Err(Refusal::NoReadBack) };
    if rb.hold_id != hold_id || rb.showtime != showtime || digest(&rb.hold(), text) != rb.digest {
        return Err(Refusal::NoReadBack);
    }
    match consent::classify(user_text) {
        Reply::Yes => Ok(()),
        other => Err(Refusal::NotAYes(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold() -> OpenHold {
        OpenHold { hold_id: "h1".into(), showtime: "s1".into(), seats: vec!["F7".into(), "F8".into()], amount: 30000 }
    }

    #[test]
    fn only_a_clear_yes_to_the_read_back_of_that_hold_passes() {
        let text = "좌석 F7, F8, 모두 30,000원입니다. 이대로 예매를 확정할까요?";
        let rb = hold().read_back_in(text);
        assert!(rb.is_some());
        let prev = Some((text, rb.as_ref()));
        assert_eq!(check(prev, "네", "s1", "h1"), Ok(()));
        assert_eq!(check(prev, "네 잠깐만요", "s1", "h1"), Err(Refusal::NotAYes(Reply::Hesitant)));
        assert_eq!(check(prev, "네", "s1", "h2"), Err(Refusal::NoReadBack));
        assert_eq!(check(Some(("other text", rb.as_ref())), "네", "s1", "h1"), Err(Refusal::NoReadBack));
        assert_eq!(check(Some((text, None)), "네", "s1", "h1"), Err(Refusal::NoReadBack));
        assert_eq!(check(None, "네", "s1", "h1"), Err(Refusal::NoReadBack));
        assert!(hold().read_back_in("좌석 F7, F8 예매할까요?").is_none());
    }
}
