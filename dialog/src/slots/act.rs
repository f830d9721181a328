//! Reading the dialogue act: yes, no, cancel, repeat, extend, correction.

use super::*;

impl Scan {
    // ---- acts -------------------------------------------------------------------------

    pub(super) fn act(&self, has_slots: bool) -> Option<Act> {
        let joined: String = self.c.iter().collect();
        // Korean phrases match with or without their spaces ("다시말해주세요").
        let tight: String = joined.chars().filter(|c| *c != ' ').collect();
        let has = |w: &str| joined.contains(w) || (text::has_hangul(w) && tight.contains(&w.replace(' ', "")));
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
            "다시 말씀",
            "다시 얘기",
            "다시 알려",
            "천천히",
            "안 들려",
            "안 들리",
            "뭐라구",
            "뭐라 하",
            "한번만 더",
            "한 번만 더",
            "repeat",
            "slowly",
            "slower",
            "didn't catch",
            "did not catch",
            "didn't hear",
            "didn't get that",
            "one more time",
            "once more",
            "say it again",
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
        // Refusing what was offered: "그거 말고", "not that one", "something else".
        let refusal = [
            "싫어",
            "안 할래",
            "됐어요",
            "아닙니다",
            "말고",
            "별로",
            "다른 거",
            "다른 걸",
            "no thanks",
            "something else",
            "another one",
            "don't want",
            "do not want",
        ];
        if negation || refusal.iter().any(|w| has(w)) {
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
    fn run_together_yes() {
        assert_eq!(wed("네좋아요").act, Some(Act::Yes));
        let u = wed("네두명이요");
        assert_eq!((u.act, u.slots.party.map(|p| p.total)), (Some(Act::Yes), Some(2)));
        assert_eq!(wed("네명이요").act, None);
    }
}
