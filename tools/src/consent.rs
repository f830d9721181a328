//! Consent to a booking, as a rule both sides of the tool contract share:
//! the dialogue (`dialog`) asks again unless the user's reply to a read-back
//! is a clear yes, and the gateway refuses `confirm_booking` unless the
//! user's own latest turn is one ([`classify`] is the same function on both
//! sides, so they cannot disagree). A read-back is a reply that names the
//! hold's seats and total ([`reads_back`]).

/// What a reply to a read-back ("... 모두 45,000원입니다. 이대로 예매를
/// 확정할까요?") says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A clear yes: every word is agreement ("네", "네 예매해 주세요", "yes, book it").
    Yes,
    /// A yes or an answer held back: "네 잠깐만요", "근데", "wait", "let me ask".
    Hesitant,
    /// A question ("얼마예요?", "몇 시예요", "how much?").
    Question,
    /// A no, a cancel or a change ("아니요", "취소", "말고", "no").
    No,
    /// Anything else (noise, fillers, other talk): not a yes.
    Other,
}

impl Reply {
    /// The label in the consent set (`tools/data/consent.tsv`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reply::Yes => "yes",
            Reply::Hesitant => "hesitant",
            Reply::Question => "question",
            Reply::No => "no",
            Reply::Other => "other",
        }
    }
}

const HESITANT: &[&str] = &[
    "잠깐",
    "잠시",
    "근데",
    "그런데",
    "물어보",
    "물어볼",
    "여쭤",
    "생각해",
    "생각 좀",
    "고민",
    "글쎄",
    "모르겠",
    "아마",
    "혹시",
    "나중에",
    "있다가",
    "이따가",
    "기다려",
    "음...",
    "어...",
    "흠",
    "wait",
    "hold on",
    "hang on",
    "let me",
    "but",
    "maybe",
    "not sure",
    "think",
    "ask",
    "a moment",
    "a second",
    "a minute",
    "later",
    "actually",
    "hmm",
    "um",
    "uh",
    "well",
];
const QUESTION: &[&str] = &[
    "?",
    "얼마",
    "몇",
    "몇시",
    "몇 시",
    "어디",
    "언제",
    "어떻게",
    "무슨",
    "뭐예요",
    "뭔가요",
    "뭐죠",
    "인가요",
    "나요",
    "까요",
    "는지",
    "할인",
    "돼요",
    "되나",
    "how much",
    "how many",
    "what",
    "which",
    "where",
    "when",
    "is it",
    "does",
    "can i",
    "could",
    "price",
    "cost",
];
const NO: &[&str] = &[
    "아니", "아뇨", "싫", "안 할", "안할", "안 해", "취소", "그만", "말고", "바꿔", "됐어", "안 볼", "no", "nope",
    "not", "don't", "cancel", "stop", "change",
];
/// Words a clear yes may consist of (after punctuation is dropped).
const YES_WORDS: &[&str] = &[
    "네",
    "예",
    "응",
    "넵",
    "네네",
    "예예",
    "네에",
    "예에",
    "좋아요",
    "좋아",
    "좋습니다",
    "좋네요",
    "그래요",
    "그래",
    "그려",
    "그럼요",
    "확인",
    "맞아요",
    "맞아",
    "맞습니다",
    "오케이",
    "알겠어요",
    "알겠습니다",
    "그렇게",
    "그걸로",
    "이대로",
    "그대로",
    "해",
    "해요",
    "해주세요",
    "해",
    "주세요",
    "해줘요",
    "해줘",
    "하세요",
    "해요",
    "할게요",
    "합니다",
    "예매",
    "예매해",
    "예매해요",
    "예매해주세요",
    "예매할게요",
    "결제",
    "결제해",
    "결제해주세요",
    "결제할게요",
    "확정",
    "확정해",
    "확정해주세요",
    "확정할게요",
    "진행",
    "진행해",
    "진행해주세요",
    "부탁해요",
    "부탁드려요",
    "부탁합니다",
    "어",
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "please",
    "book",
    "it",
    "confirm",
    "go",
    "ahead",
    "do",
    "that's",
    "thats",
    "right",
    "correct",
    "sounds",
    "good",
    "fine",
    "great",
    "perfect",
    "that",
    "is",
    "i",
    "confirmed",
];
/// Of those, the ones that agree by themselves (the rest only fill).
const YES_CORE: &[&str] = &[
    "네",
    "예",
    "응",
    "넵",
    "네네",
    "예예",
    "네에",
    "예에",
    "좋아요",
    "좋아",
    "좋습니다",
    "좋네요",
    "그래요",
    "그래",
    "그려",
    "그럼요",
    "확인",
    "맞아요",
    "맞아",
    "맞습니다",
    "오케이",
    "알겠어요",
    "알겠습니다",
    "그렇게",
    "그걸로",
    "이대로",
    "예매해주세요",
    "결제해주세요",
    "확정해주세요",
    "진행해주세요",
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "confirm",
    "correct",
    "right",
    "good",
    "fine",
    "great",
    "perfect",
    "confirmed",
];

/// Reads a reply to a read-back. Only a reply made of agreement words alone
/// is [`Reply::Yes`]; a question, a hesitation or a no anywhere in it wins.
pub fn classify(text: &str) -> Reply {
    let lower = format!("{} ", text.trim().to_lowercase());
    // Whole English words for the short ones ("no" is not in "know").
    let words: Vec<String> = lower
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '!' || c == '~')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    // Short English words match whole words ("no" is not in "know", "um" not
    // in "umbrella"); Korean stems and phrases match anywhere.
    let hit = |ws: &[&str]| {
        ws.iter().any(|w| {
            if w.chars().all(|c| c.is_ascii_alphabetic() || c == '\'') {
                words.iter().any(|x| x.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'') == *w)
            } else {
                lower.contains(w)
            }
        })
    };
    // A question is answered first; a no or a change beats a hesitation
    // ("아니 잠깐, 세 명 말고 네 명"), except "not sure".
    if hit(QUESTION) {
        return Reply::Question;
    }
    if (hit(NO) || hit(&["nah"])) && !lower.contains("not sure") {
        return Reply::No;
    }
    if hit(HESITANT) {
        return Reply::Hesitant;
    }
    // Polite endings glued on ("네요" is not a yes; "네" + "요" is not written).
    let joined: Vec<String> = words.iter().map(|w| w.replace("해 주세요", "해주세요")).collect();
    let text = joined.join(" ").replace("해 주세요", "해주세요").replace("해 줘요", "해줘요");
    let parts: Vec<&str> = text.split_whitespace().collect();
    if !parts.is_empty() && parts.iter().all(|w| YES_WORDS.contains(w)) && parts.iter().any(|w| YES_CORE.contains(w)) {
        return Reply::Yes;
    }
    Reply::Other
}

/// True when `text` reads back a hold: it names every seat and the total
/// (`45,000` or `45000`). The gateway binds consent to such a reply.
pub fn reads_back(text: &str, seats: &[String], amount: u64) -> bool {
    let plain = amount.to_string();
    let mut grouped = String::new();
    for (i, c) in plain.chars().enumerate() {
        if i > 0 && (plain.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let total = text.contains(&grouped) || text.contains(&plain);
    !seats.is_empty() && total && seats.iter().all(|s| text.contains(s.as_str()))
}

/// The consent set: `act<TAB>reply` lines (see [`Reply::as_str`]).
pub const CONSENT_SET: &str = include_str!("../data/consent.tsv");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_set_is_read_as_labelled_and_nothing_but_a_clear_yes_is_yes() {
        let mut wrong = Vec::new();
        let mut n = 0;
        for line in CONSENT_SET.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let (want, text) = line.split_once('\t').unwrap_or(("?", line));
            n += 1;
            let got = classify(text);
            // The rule that must never break: yes only for a labelled yes.
            assert!(got != Reply::Yes || want == "yes", "{text:?} read as a yes");
            if got.as_str() != want {
                wrong.push(format!("{text:?}: want {want}, got {}", got.as_str()));
            }
        }
        assert!(n >= 60, "{n} lines");
        assert!(wrong.is_empty(), "{} of {n} wrong:\n{}", wrong.len(), wrong.join("\n"));
    }

    #[test]
    fn a_read_back_names_the_seats_and_the_total() {
        let seats = vec!["F7".to_owned(), "F8".to_owned()];
        assert!(reads_back("좌석 F7, F8, 2명, 모두 30,000원입니다. 이대로 예매를 확정할까요?", &seats, 30000));
        assert!(!reads_back("좌석 F7, 모두 30,000원입니다.", &seats, 30000));
        assert!(!reads_back("좌석 F7, F8 이대로 할까요?", &seats, 30000));
        assert!(!reads_back("30,000", &[], 30000));
    }
}
