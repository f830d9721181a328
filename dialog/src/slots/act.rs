//! Reading the dialogue act: yes, no, cancel, repeat, extend, correction.
//! Phrases are matched on the whole text (Korean ones also with their spaces
//! removed, for speech-to-text that ran words together); single words only as
//! whole tokens not consumed by a slot ("네 명" is a count, not a yes).

use super::*;

/// Asking to hear the last reply again, slowly or not.
const REPEAT: &[&str] = &[
    "다시 말",
    "다시 한",
    "다시요",
    "뭐라고",
    "못 들었",
    "한 번 더 말",
    "한번 더 말",
    "다시 읽",
    "다시 얘기",
    "다시 알려",
    "천천히",
    "안 들려",
    "안 들리",
    "뭐라구",
    "뭐라 하",
    "한번만 더",
    "한 번만 더",
    "크게 말",
    "크게 좀",
    "repeat",
    "speak up",
    "louder",
    "say again",
    "say that again",
    "say it again",
    "what did you say",
    "pardon",
    "come again",
    "slowly",
    "slower",
    "didn't catch",
    "did not catch",
    "didn't hear",
    "didn't get that",
    "one more time",
    "once more",
];
/// Stopping the booking.
const CANCEL: &[&str] = &[
    "취소",
    "그만",
    "관둘",
    "관두",
    "다음에 할게",
    "예매 안 할",
    "cancel",
    "never mind",
    "nevermind",
    "forget it",
    "forget the whole",
    "forget about it",
    "call it off",
];
/// Asking for more time on the hold.
const EXTEND: &[&str] =
    &["연장", "시간 더", "시간을 더", "시간 좀", "더 기다려", "extend", "more time", "a bit longer", "little longer"];
/// Words that make named slots a correction of earlier ones.
const CORRECT: &[&str] = &[
    "말고",
    "아니고",
    "바꿔",
    "바꿀",
    "변경",
    "추가",
    "한 명 더",
    "빼",
    "줄여",
    "줄일",
    "늘려",
    "대신",
    "고쳐",
    "수정",
    "actually",
    "instead",
    "make it",
    "make that",
    "change",
    "switch",
    "swap",
    "scratch that",
    "i meant",
    "rather",
    "add one",
    "one more",
    "fewer",
    "one less",
];
/// Refusing what was offered: "그거 말고", "not that one", "something else".
const REFUSE: &[&str] = &[
    "싫어",
    "안 할래",
    "됐어요",
    "아닙니다",
    "말고",
    "별로",
    "다른 거",
    "다른 걸",
    "그건 좀",
    "no thanks",
    "something else",
    "another one",
    "don't want",
    "do not want",
];
/// Agreement words that count anywhere ("네, 두 명이요"), as tokens.
const YES_TOKENS: &[&str] = &["네", "예", "응", "넵", "네네", "예예", "확인", "맞아요", "맞아", "맞습니다", "그럼요"];
const YES_EN_TOKENS: &[&str] = &["yes", "yeah", "yep", "confirm", "confirmed", "correct"];
const YES_PHRASES: &[&str] = &["확인했", "that's right", "book it", "book them", "go ahead"];
/// Agreement that counts only when nothing else is said ("맨 뒷줄이 좋아요" is a preference).
const WEAK_TOKENS: &[&str] = &["좋아요", "좋아", "좋습니다", "그래", "그래요", "알겠어요"];
const WEAK_EN_TOKENS: &[&str] = &["sure", "ok", "okay", "right", "perfect", "great", "alright", "fine"];
const WEAK_PHRASES: &[&str] = &[
    "그렇게 해",
    "그걸로",
    "좋아요",
    "예매해 주세요",
    "예매해주세요",
    "sounds good",
    "please do",
    "let's do it",
    "that works",
    "works for me",
];

/// The text as phrases and as tokens, for matching act words.
struct Words<'a> {
    scan: &'a Scan,
    joined: String,
    tight: String,
    tokens: Vec<(usize, String)>,
}

impl Words<'_> {
    fn new(scan: &Scan) -> Words<'_> {
        let joined: String = scan.c.iter().collect();
        let tight = joined.chars().filter(|c| *c != ' ').collect();
        let mut tokens = Vec::new();
        let mut start = None;
        for (i, ch) in scan.c.iter().chain(std::iter::once(&' ')).enumerate() {
            match (ch.is_whitespace(), start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    tokens.push((s, scan.c[s..i].iter().collect()));
                    start = None;
                }
                _ => {}
            }
        }
        Words { scan, joined, tight, tokens }
    }

    /// Any of `ws` as a phrase (Korean ones also without their spaces).
    fn has(&self, ws: &[&str]) -> bool {
        ws.iter().any(|w| self.joined.contains(w) || (text::has_hangul(w) && self.tight.contains(&w.replace(' ', ""))))
    }

    /// Any of `ws` as a whole token that no slot consumed.
    fn tok(&self, ws: &[&str]) -> bool {
        self.tokens.iter().any(|(i, t)| !self.scan.used[*i] && ws.contains(&t.as_str()))
    }

    /// A token that no slot consumed starts with `w`.
    fn tok_prefix(&self, w: &str) -> bool {
        self.tokens.iter().any(|(i, t)| !self.scan.used[*i] && t.starts_with(w))
    }
}

impl Scan {
    // ---- acts -------------------------------------------------------------------------

    pub(super) fn act(&self, has_slots: bool) -> Option<Act> {
        let w = Words::new(self);
        if w.has(REPEAT) {
            return Some(Act::Repeat);
        }
        if w.has(CANCEL) || w.tok(&["stop"]) {
            return Some(Act::Cancel);
        }
        if w.has(EXTEND) {
            return Some(Act::Extend);
        }
        let negation = w.tok_prefix("아니") || w.tok(&["아뇨", "no", "not", "nope"]);
        if has_slots && (negation || w.has(CORRECT)) {
            return Some(Act::Correct);
        }
        if negation || w.has(REFUSE) {
            return Some(Act::No);
        }
        let strong = w.tok(YES_TOKENS) || w.tok(YES_EN_TOKENS) || w.has(YES_PHRASES);
        let weak = w.tok(WEAK_TOKENS) || w.tok(WEAK_EN_TOKENS) || w.has(WEAK_PHRASES);
        (strong || (weak && !has_slots)).then_some(Act::Yes)
    }
}

#[cfg(test)]
mod tests {
    use super::super::scan::probe::wed;
    use super::*;

    #[test]
    fn asking_to_repeat_slowly() {
        for s in [
            "다시 천천히 말해 주세요",
            "천천히요",
            "잘 안 들려요",
            "뭐라구요",
            "다시말해주세요",
            "slower please",
            "sorry I didn't catch that",
        ] {
            assert_eq!(wed(s).act, Some(Act::Repeat), "{s}");
        }
    }

    #[test]
    fn refusing_what_was_offered() {
        for s in
            ["그거 말고", "그건 말고요", "별로예요", "not that one", "something else please", "I don't want that one"]
        {
            assert_eq!(wed(s).act, Some(Act::No), "{s}");
        }
        // With a slot, 말고 is a correction.
        assert_eq!(wed("그거 말고 내일이요").act, Some(Act::Correct));
    }

    #[test]
    fn everyday_cancel_extend_and_correction_words() {
        assert_eq!(wed("관둘래요").act, Some(Act::Cancel));
        assert_eq!(wed("예매 안 할게요 다음에 할게요").act, Some(Act::Cancel));
        assert_eq!(wed("조금만 더 기다려 주세요").act, Some(Act::Extend));
        assert_eq!(wed("레옹 대신 매트릭스로 해 주세요").act, Some(Act::Correct));
        assert_eq!(wed("scratch that, Sunday").act, Some(Act::Correct));
        assert_eq!(wed("perfect, let's do it").act, Some(Act::Yes));
        // Weak agreement beside a slot is a preference, not a yes.
        assert_eq!(wed("normal seats are fine").act, None);
    }

    #[test]
    fn run_together_yes() {
        assert_eq!(wed("네좋아요").act, Some(Act::Yes));
        let u = wed("네두명이요");
        assert_eq!((u.act, u.slots.party.map(|p| p.total)), (Some(Act::Yes), Some(2)));
        assert_eq!(wed("네명이요").act, None);
    }
}
