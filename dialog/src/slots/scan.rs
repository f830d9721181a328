//! The text being read and what a slot has consumed of it; the primitives every reader uses, and the readers of names (movie, theater), ordinals, seat class and position.

use super::*;

/// The text being read, with the characters already consumed by a slot.
pub(super) struct Scan {
    pub(super) c: Vec<char>,
    pub(super) used: Vec<bool>,
}

impl Scan {
    pub(super) fn new(text: &str) -> Scan {
        let c: Vec<char> = text
            .chars()
            .flat_map(char::to_lowercase)
            .map(|c| if ",.!?~·…\"“”()[]'‘’".contains(c) && c != '\'' { ' ' } else { c })
            .map(|c| if c == '\u{2019}' { '\'' } else { c })
            .collect();
        let c = super::spacing::restore(&c);
        let used = vec![false; c.len()];
        Scan { c, used }
    }

    pub(super) fn len(&self) -> usize {
        self.c.len()
    }

    /// `pat` at `i`, none of it consumed.
    pub(super) fn at(&self, i: usize, pat: &str) -> bool {
        (i..).zip(pat.chars()).all(|(j, p)| j < self.len() && self.c[j] == p && !self.used[j])
    }

    pub(super) fn mark(&mut self, from: usize, to: usize) {
        for u in &mut self.used[from..to.min(self.c.len())] {
            *u = true;
        }
    }

    pub(super) fn is_word(c: char) -> bool {
        c.is_alphanumeric()
    }

    /// True when `i` starts a word (for Latin: no letter before; for Hangul: no Hangul before).
    pub(super) fn word_start(&self, i: usize) -> bool {
        i == 0 || !Self::is_word(self.c[i - 1])
    }

    /// True when a word ends at `i` (Latin letters/digits do not continue).
    pub(super) fn word_end(&self, i: usize) -> bool {
        i >= self.len() || !self.c[i].is_ascii_alphanumeric()
    }

    /// Every unconsumed occurrence of `pat`.
    pub(super) fn find(&self, pat: &str) -> Vec<usize> {
        let n = pat.chars().count();
        (0..self.len().saturating_sub(n - 1)).filter(|&i| self.at(i, pat)).collect()
    }

    /// Occurrences of `pat` as a whole English word.
    pub(super) fn find_word(&self, pat: &str) -> Vec<usize> {
        let n = pat.chars().count();
        self.find(pat).into_iter().filter(|&i| self.word_start(i) && self.word_end(i + n)).collect()
    }

    pub(super) fn any(&self, pats: &[&str]) -> bool {
        let joined: String = self.c.iter().collect();
        pats.iter().any(|p| joined.contains(p))
    }

    pub(super) fn skip_ws(&self, mut i: usize) -> usize {
        while i < self.len() && self.c[i] == ' ' {
            i += 1;
        }
        i
    }

    /// The index just after the last non-space char before `i`.
    pub(super) fn back_ws(&self, mut i: usize) -> usize {
        while i > 0 && self.c[i - 1] == ' ' {
            i -= 1;
        }
        i
    }

    /// The word (maximal run of non-space chars) that starts at `i`.
    pub(super) fn word_at(&self, i: usize) -> String {
        self.c[i..].iter().take_while(|c| **c != ' ').collect()
    }

    /// Digits at `i`: (value, end).
    pub(super) fn digits(&self, i: usize) -> Option<(u32, usize)> {
        let mut j = i;
        let mut v: u32 = 0;
        while j < self.len() && self.c[j].is_ascii_digit() && !self.used[j] && j - i < 4 {
            v = v * 10 + self.c[j].to_digit(10).unwrap_or(0);
            j += 1;
        }
        (j > i && (i == 0 || !self.c[i - 1].is_ascii_digit()) && (j >= self.len() || !self.c[j].is_ascii_digit()))
            .then_some((v, j))
    }

    /// A Sino-Korean number at `i` ("삼십", "이십오", "십이"): (value, end).
    pub(super) fn sino(&self, i: usize) -> Option<(u32, usize)> {
        let digit = |j: usize| SINO.iter().find(|(w, _)| self.at(j, w)).map(|(_, v)| *v);
        let a = digit(i);
        let mut j = i + usize::from(a.is_some());
        if !self.at(j, "십") {
            return a.map(|v| (v, j));
        }
        j += 1;
        let b = digit(j);
        Some((a.unwrap_or(1) * 10 + b.unwrap_or(0), j + usize::from(b.is_some())))
    }

    /// A Sino-Korean number starting a word (not the 일 of "내일").
    pub(super) fn sino_word(&self, i: usize) -> Option<(u32, usize)> {
        if i > 0 && text::is_hangul(self.c[i - 1]) {
            return None;
        }
        self.sino(i)
    }

    // ---- movie and theater ------------------------------------------------

    /// The last-named entry of `entries` (consumed).
    pub(super) fn entity(&mut self, entries: &[lexicon::Entry]) -> Option<usize> {
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

    pub(super) fn ordinal(&mut self) -> Option<i32> {
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
                // "the first of December", "December first" is a date.
                let before = self.back_ws(i);
                let month_before =
                    (0..before).rev().take(9).any(|s| self.month_name_at(s).is_some_and(|m| m.1 == before));
                if latin && (self.at(self.skip_ws(i + n), "of ") || month_before) {
                    continue;
                }
                // "마지막 줄", "last row" is a seat position.
                if ["줄", "열", "row"].iter().any(|r| self.at(self.skip_ws(i + n), r)) {
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

    // ---- class and position -----------------------------------------------------

    pub(super) fn class(&mut self) -> Option<SeatClass> {
        self.last_of(&[
            ("프리미엄", SeatClass::Premium),
            ("premium", SeatClass::Premium),
            ("휠체어", SeatClass::Wheelchair),
            ("장애인", SeatClass::Wheelchair),
            ("wheelchair", SeatClass::Wheelchair),
            ("accessible", SeatClass::Wheelchair),
            ("wheel chair", SeatClass::Wheelchair),
            ("일반석", SeatClass::Standard),
            ("일반 좌석", SeatClass::Standard),
            ("보통석", SeatClass::Standard),
            ("보통 자리", SeatClass::Standard),
            ("보통 좌석", SeatClass::Standard),
            ("standard", SeatClass::Standard),
            ("regular", SeatClass::Standard),
            ("normal seats", SeatClass::Standard),
            ("normal seat", SeatClass::Standard),
            ("ordinary seats", SeatClass::Standard),
            ("ordinary seat", SeatClass::Standard),
        ])
    }

    pub(super) fn position(&mut self) -> Option<Position> {
        self.last_of(&[
            ("앞쪽", Position::Front),
            ("앞자리", Position::Front),
            ("앞줄", Position::Front),
            ("앞 줄", Position::Front),
            ("스크린 가까", Position::Front),
            ("화면 가까", Position::Front),
            ("맨 앞", Position::Front),
            ("제일 앞", Position::Front),
            ("front", Position::Front),
            ("near the screen", Position::Front),
            ("close to the screen", Position::Front),
            ("뒤쪽", Position::Back),
            ("뒷자리", Position::Back),
            ("뒷줄", Position::Back),
            ("맨 뒤", Position::Back),
            ("제일 뒤", Position::Back),
            ("마지막 줄", Position::Back),
            ("스크린에서 멀", Position::Back),
            ("스크린에서 먼", Position::Back),
            ("화면에서 멀", Position::Back),
            ("화면에서 먼", Position::Back),
            ("back", Position::Back),
            ("last row", Position::Back),
            ("far from the screen", Position::Back),
            ("away from the screen", Position::Back),
            ("rear", Position::Back),
            ("가운데", Position::Middle),
            ("중간", Position::Middle),
            ("중앙", Position::Middle),
            ("middle", Position::Middle),
            ("center", Position::Middle),
            ("centre", Position::Middle),
            ("정중앙", Position::Middle),
            ("통로", Position::Aisle),
            ("복도", Position::Aisle),
            ("aisle", Position::Aisle),
        ])
    }

    pub(super) fn last_of<T: Copy>(&mut self, pats: &[(&str, T)]) -> Option<T> {
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
}

#[cfg(test)]
mod tests {
    use super::probe::wed;
    use super::*;

    #[test]
    fn seat_wishes_said_other_ways() {
        let pos = |t: &str| wed(t).slots.position;
        assert_eq!(pos("마지막 줄로 주세요"), Some(Position::LastRow));
        assert_eq!(pos("last row please"), Some(Position::LastRow));
        assert_eq!(pos("맨 앞줄은 싫고 제일 뒤로요"), Some(Position::LastRow));
        assert_eq!(pos("스크린에서 먼 자리"), Some(Position::Back));
        assert_eq!(pos("near the screen"), Some(Position::Front));
        assert_eq!(pos("화면 가까이 앉고 싶어요"), Some(Position::Front));
        assert_eq!(wed("마지막 거요").ordinal, Some(-1));
        assert_eq!(wed("보통 자리로 주세요").slots.class, Some(SeatClass::Standard));
        assert_eq!(wed("just regular seats").slots.class, Some(SeatClass::Standard));
        assert_eq!(wed("she uses a wheel chair").slots.class, Some(SeatClass::Wheelchair));
    }

    #[test]
    fn the_new_readers_never_panic_on_odd_input() {
        #![allow(clippy::unwrap_used)]
        let lex = Lexicon::new();
        let ends: [Zoned; 2] = [
            "9999-12-30T23:00:00+09:00[Asia/Seoul]".parse().unwrap(),
            "-009998-01-02T00:00:00+00:00[UTC]".parse().unwrap(),
        ];
        let pieces = [
            "십",
            "이십일",
            "삼십일일",
            "열 ",
            "한",
            "시",
            "분",
            "quarter to ",
            "half past ",
            "ish",
            "-ish",
            "make it ",
            "in ",
            "days",
            "week",
            "마지막 ",
            "줄",
            "the fifth of",
            "twenty ",
            "december",
            "일주일",
            "뒤",
            "다다음주",
            "오는 ",
            "coming ",
            "next week",
            "네",
            "저랑",
            "어른",
            "하나",
            "낼",
            "밤",
            "다음 달 ",
            "31일",
            "유월",
            "around ",
            "12",
            "0",
            "one more time",
            "크리스마스",
            " ",
            "ㄱ",
            "\u{0}",
        ];
        let prior = Slots {
            date: Some(jiff::civil::date(9999, 12, 31)),
            time: Some(TimeSpec::At(23 * 60)),
            ..Slots::default()
        };
        let mut seed: u64 = 11;
        for _ in 0..2000 {
            let mut text = String::new();
            for _ in 0..7 {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            for now in &ends {
                for p in [&prior, &Slots::default()] {
                    let u = extract(&text, &lex, now, p);
                    assert!(u.slots.party.is_none_or(|p| (1..=10).contains(&p.total)), "{text}");
                }
            }
        }
    }
}

/// Test support shared by the readers' tests: the demo names and fixed clocks.
#[cfg(test)]
pub(super) mod probe {
    #![allow(clippy::unwrap_used)]
    use super::super::*;

    /// Reads `text` on the given day (a `YYYY-MM-DD`, 10:00 in Seoul) with `prior`.
    pub(in crate::slots) fn read(text: &str, day: &str, prior: &Slots) -> Utterance {
        let mut l = Lexicon::new();
        l.add_movie("nsyn-11", "The Matrix", Some("매트릭스"), &[]);
        l.add_movie("nsyn-19", "3 Idiots", Some("세 얼간이"), &[]);
        l.add_movie("nsyn-04", "Spirited Away", Some("센과 치히로의 행방불명"), &[]);
        l.add_theater("gangnam", "Marquee Gangnam", Some("마키 강남"));
        l.add_theater("hongdae", "Marquee Hongdae", Some("마키 홍대"));
        let now: Zoned = format!("{day}T10:00:00+09:00[Asia/Seoul]").parse().unwrap();
        extract(text, &l, &now, prior)
    }

    /// Reads `text` on Wednesday 2026-11-25 with nothing known before.
    pub(in crate::slots) fn wed(text: &str) -> Utterance {
        read(text, "2026-11-25", &Slots::default())
    }

    /// The civil date `m`/`d` of 2026.
    pub(in crate::slots) fn d(m: i8, day: i8) -> Date {
        jiff::civil::date(2026, m, day)
    }
}
