//! Restores the spacing that speech-to-text ran together ("내일저녁7시두명" →
//! "내일 저녁 7시 두명") before the readers run. It splits only in front of words
//! the readers know (days and dates, parts of the day, a count with its counter,
//! a role before a number, a digit run after Hangul) and after a leading yes or
//! speaker word, so ordinary words are left alone. It only ever adds spaces:
//! it never joins, drops or changes a character.

use super::words::{ADULT_ROLES, CHILD_ROLES, KO_BARE, KO_HOURS};
use crate::text::is_hangul;

/// Days, dates and parts of the day that stand on their own.
const FREE: &[&str] = &[
    "다다음주",
    "이번주말",
    "다음주말",
    "담주말",
    "이번주",
    "다음주",
    "담주",
    "이번달",
    "다음달",
    "담달",
    "돌아오는",
    "내일모레",
    "낼모레",
    "오늘",
    "내일",
    "모레",
    "모래",
    "글피",
    "주말",
    "월요일",
    "화요일",
    "수요일",
    "목요일",
    "금요일",
    "토요일",
    "일요일",
    "월욜",
    "화욜",
    "수욜",
    "목욜",
    "금욜",
    "토욜",
    "일욜",
    "오전",
    "오후",
    "아침",
    "저녁",
    "저녘",
    "새벽",
    "점심",
    "좋아요",
    "맞아요",
    "맞습니다",
    "그렇게",
    "그걸로",
    "그럼요",
    "그래요",
    "알겠",
    "부탁",
];
/// One-syllable words split off only right after another known word
/// ("오늘밤" → "오늘 밤"), never out of an ordinary word ("보낼게요").
const SHORT: &[&str] = &["밤", "낮", "낼"];
/// Counters that make a native number a count or an hour ("두명", "세시").
const COUNTERS: &[&str] = &["사람", "자리", "명", "분", "장", "시"];
/// Yes words that, leading a run before a known word, are a word of their own ("네두명이요").
const YES: &[&str] = &["네네", "예예", "네", "예", "응", "넵"];
/// The speaker leading a run ("저랑남편이요").
const SPEAKER: &[&str] = &["저랑", "저하고", "저까지", "저와", "나랑"];

/// `c` with spaces put back where speech-to-text ran known words together.
pub(super) fn restore(c: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(c.len() + 8);
    let mut i = 0;
    // Where the last known word ended (a one-syllable word may follow it).
    let mut after_known = usize::MAX;
    while i < c.len() {
        let token_start = i == 0 || c[i - 1] == ' ';
        if token_start && let Some(n) = lead_at(c, i) {
            out.extend_from_slice(&c[i..i + n]);
            out.push(' ');
            i += n;
            after_known = i;
            continue;
        }
        let known = known_at(c, i, after_known == i);
        let split = match known {
            Some(_) => !token_start,
            None => c[i].is_ascii_digit() && i > 0 && is_hangul(c[i - 1]),
        };
        if split && out.last() != Some(&' ') {
            out.push(' ');
        }
        let n = known.map_or(1, |k| k.0);
        out.extend_from_slice(&c[i..i + n]);
        i += n;
        if let Some((_, space_after)) = known {
            after_known = i;
            if space_after {
                out.push(' ');
            }
        }
    }
    out
}

/// A leading yes word run together with a known word ("네두명", "예맞아요"), or
/// a speaker word run together with anything ("저랑남편이요").
fn lead_at(c: &[char], i: usize) -> Option<usize> {
    let ok = |w: &&&str| {
        let n = w.chars().count();
        let next = c.get(i + n).copied().unwrap_or(' ');
        starts(c, i, w)
            && next != ' '
            && (SPEAKER.contains(w) || next.is_ascii_digit() || known_at(c, i + n, true).is_some())
    };
    YES.iter().chain(SPEAKER).find(ok).map(|w| w.chars().count())
}

/// A known word at `i`: (its length, whether a space goes after it: a role
/// word is cut from the number that follows it, "어른둘" → "어른 둘").
fn known_at(c: &[char], i: usize, after_known: bool) -> Option<(usize, bool)> {
    let len = |w: &&str| w.chars().count();
    FREE.iter()
        .find(|w| starts(c, i, w))
        .map(len)
        .or_else(|| SHORT.iter().find(|w| after_known && starts(c, i, w)).map(len))
        .or_else(|| count_at(c, i))
        .map(|n| (n, false))
        .or_else(|| role_at(c, i).map(|n| (n, true)))
}

/// A native number with its counter ("두명", "열한시"; not "한시간").
fn count_at(c: &[char], i: usize) -> Option<usize> {
    KO_HOURS.iter().find_map(|(w, _)| {
        let n = w.chars().count();
        if !starts(c, i, w) {
            return None;
        }
        let unit = COUNTERS.iter().find(|u| starts(c, i + n, u))?;
        let end = i + n + unit.chars().count();
        (!(*unit == "시" && starts(c, end, "간"))).then_some(end - i)
    })
}

/// A role word right before a number ("어른둘", "아이2", "성인두명").
fn role_at(c: &[char], i: usize) -> Option<usize> {
    let number = |j: usize| {
        c.get(j).is_some_and(char::is_ascii_digit)
            || KO_BARE.iter().any(|(w, _)| starts(c, j, w))
            || count_at(c, j).is_some()
    };
    ADULT_ROLES.iter().chain(CHILD_ROLES).find_map(|w| {
        let n = w.chars().count();
        (n >= 2 && !w.is_ascii() && starts(c, i, w) && number(i + n)).then_some(n)
    })
}

/// `w` at `c[i..]`.
fn starts(c: &[char], i: usize, w: &str) -> bool {
    w.chars().enumerate().all(|(k, p)| c.get(i + k) == Some(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        restore(&s.chars().collect::<Vec<_>>()).into_iter().collect()
    }

    #[test]
    fn run_together_speech_is_spaced_at_known_words() {
        assert_eq!(r("내일저녁7시매트릭스두명예매해주세요"), "내일 저녁 7시매트릭스 두명예매해주세요");
        assert_eq!(r("오늘밤아홉시"), "오늘 밤 아홉시");
        assert_eq!(r("어른두명아이한명이요"), "어른 두명 아이 한명이요");
        assert_eq!(r("어른둘아이하나"), "어른 둘 아이 하나");
        assert_eq!(r("네두명이요"), "네 두명이요");
        assert_eq!(r("예맞아요그걸로해주세요"), "예 맞아요 그걸로해주세요");
        assert_eq!(r("네알겠어요"), "네 알겠어요");
    }

    #[test]
    fn ordinary_words_are_not_split() {
        for s in [
            "보낼게요",
            "예매해주세요",
            "세얼간이",
            "두시간",
            "한시간 뒤",
            "다시 말해 주세요",
            "네 명이요",
            "아이스크림",
        ] {
            assert_eq!(r(s), s);
        }
        assert_eq!(r(""), "");
    }
}
