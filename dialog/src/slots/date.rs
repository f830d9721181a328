//! Reading a date: absolute (11월 28일, Nov 28) or relative to today (내일, 이번 주 토요일, next Friday).

use super::*;

impl Scan {
    // ---- date -----------------------------------------------------------------

    pub(super) fn date(&mut self, today: Date, prior: Option<Date>) -> Option<Date> {
        let mut found: Vec<(usize, Date)> = Vec::new();
        let mut weak: Option<Date> = None;
        let add = |d: i64| today.checked_add(d.days()).ok();
        // ISO dates.
        for i in 0..self.len() {
            if let Some((y, e)) = self.digits(i)
                && e - i == 4
                && self.at(e, "-")
                && let Some((mo, e2)) = self.digits(e + 1)
                && self.at(e2, "-")
                && let Some((d, e3)) = self.digits(e2 + 1)
                && let Ok(date) = Date::new(y as i16, mo as i8, d as i8)
            {
                found.push((i, date));
                self.mark(i, e3);
            }
        }
        self.relative_spans(today, &mut found);
        // Korean N월 N일, N일 (digits or Sino-Korean words: 십이월 오일); numeric M/D.
        for i in 0..self.len() {
            let Some((a, e)) = self.month_number(i) else { continue };
            let e1 = self.skip_ws(e);
            if self.at(e1, "월")
                && let Some((d, e2)) = self.day_number(self.skip_ws(e1 + 1))
            {
                if let Some(date) = month_day(today, a, d) {
                    found.push((i, date));
                }
                self.mark(i, e2 + 1);
            } else if let Some((a, e)) = self.day_number(i)
                && (1..=31).contains(&a)
            {
                let date = match self.month_word_before(i) {
                    Some((from, next)) => {
                        self.mark(from, i);
                        month_of(today, next, a)
                    }
                    None => day_of_month(today, a),
                };
                found.extend(date.map(|d| (i, d)));
                self.mark(i, e + 1);
            } else if self.at(e, "/")
                && let Some((d, e2)) = self.digits(e + 1)
                && (1..=12).contains(&a)
            {
                if let Some(date) = month_day(today, a, d) {
                    found.push((i, date));
                }
                self.mark(i, e2);
            }
        }
        // English month names with a day.
        for (mi, name) in MONTHS.iter().enumerate() {
            for form in [*name, &name[..3]] {
                for i in self.find_word(form) {
                    let j = self.skip_ws(i + form.chars().count());
                    if let Some((d, e)) = self.en_day(j) {
                        if let Some(date) = month_day(today, mi as u32 + 1, d) {
                            found.push((i, date));
                        }
                        self.mark(i, e);
                    }
                }
            }
        }
        self.day_of_month_name(today, &mut found);
        self.holidays(today, &mut found);
        // "the 30th", "30th".
        for i in 0..self.len() {
            if let Some((d, e)) = self.digits(i) {
                let e2 = self.ordinal_suffix(e);
                if e2 > e && (1..=31).contains(&d) {
                    if let Some(date) = day_of_month(today, d) {
                        found.push((i, date));
                    }
                    self.mark(i, e2);
                }
            }
        }
        // New Year's Day.
        for p in ["새해 첫날", "new year's day", "new year"] {
            for i in self.find(p) {
                if let Some(date) = today.year().checked_add(1).and_then(|y| Date::new(y, 1, 1).ok()) {
                    found.push((i, date));
                }
                self.mark(i, i + p.chars().count());
            }
        }
        // Weekends.
        for (p, next) in [
            ("다음 주말", true),
            ("다음주말", true),
            ("담주 주말", true),
            ("next weekend", true),
            ("이번 주말", false),
            ("이번주말", false),
            ("this weekend", false),
            ("주말", false),
            ("weekend", false),
        ] {
            for i in self.find(p) {
                let wd = today.weekday().to_monday_zero_offset() as i64;
                let d = if next {
                    7 - wd + 5
                } else if wd == 6 {
                    0
                } else {
                    5 - wd
                };
                found.extend(add(d).map(|x| (i, x)));
                self.mark(i, i + p.chars().count());
            }
        }
        // Relative days.
        for (p, d, latin) in [
            ("day after tomorrow", 2, true),
            ("내일모레", 2, false),
            ("내일 모레", 2, false),
            ("내일 모래", 2, false),
            ("낼모레", 2, false),
            ("낼 모레", 2, false),
            ("모래", 2, false),
            ("오늘", 0, false),
            ("내일", 1, false),
            ("모레", 2, false),
            ("글피", 3, false),
            ("today", 0, true),
            ("tonight", 0, true),
            ("tonite", 0, true),
            ("tomorrow", 1, true),
            ("tomorow", 1, true),
            ("tommorow", 1, true),
            ("tommorrow", 1, true),
            ("tmrw", 1, true),
            ("tmr", 1, true),
        ] {
            for i in self.find(p) {
                let n = p.chars().count();
                if latin && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                found.extend(add(d).map(|x| (i, x)));
                // "tonight" is also a time of day: leave it for `time`.
                if !p.starts_with("toni") {
                    self.mark(i, i + n);
                }
            }
        }
        for i in self.find("낼") {
            if self.word_start(i) {
                found.extend(add(1).map(|x| (i, x)));
                self.mark(i, i + 1);
            }
        }
        // "the day after" right after "tomorrow" was named.
        for i in self.find("the day after") {
            if found.iter().any(|(_, d)| Some(*d) == add(1)) {
                found.extend(add(2).map(|x| (i, x)));
                self.mark(i, i + 13);
            }
        }
        if !self.find("이따").is_empty() || !self.find("later today").is_empty() {
            weak = Some(today);
        }
        // Weekdays.
        const KO_DAYS: &[(&str, Weekday)] = &[
            ("월요일", Weekday::Monday),
            ("화요일", Weekday::Tuesday),
            ("수요일", Weekday::Wednesday),
            ("목요일", Weekday::Thursday),
            ("금요일", Weekday::Friday),
            ("토요일", Weekday::Saturday),
            ("일요일", Weekday::Sunday),
            ("월욜", Weekday::Monday),
            ("화욜", Weekday::Tuesday),
            ("수욜", Weekday::Wednesday),
            ("목욜", Weekday::Thursday),
            ("금욜", Weekday::Friday),
            ("토욜", Weekday::Saturday),
            ("일욜", Weekday::Sunday),
        ];
        const EN_DAYS: &[(&str, Weekday)] = &[
            ("monday", Weekday::Monday),
            ("tuesday", Weekday::Tuesday),
            ("wednesday", Weekday::Wednesday),
            ("thursday", Weekday::Thursday),
            ("friday", Weekday::Friday),
            ("saturday", Weekday::Saturday),
            ("sunday", Weekday::Sunday),
            ("mon", Weekday::Monday),
            ("tue", Weekday::Tuesday),
            ("tues", Weekday::Tuesday),
            ("wed", Weekday::Wednesday),
            ("weds", Weekday::Wednesday),
            ("thur", Weekday::Thursday),
            ("thu", Weekday::Thursday),
            ("thurs", Weekday::Thursday),
            ("fri", Weekday::Friday),
            ("sat", Weekday::Saturday),
        ];
        for (p, wd) in KO_DAYS.iter().chain(EN_DAYS) {
            let latin = p.is_ascii();
            for i in self.find(p) {
                let n = p.chars().count();
                if latin && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                let d = self.weekday_offset(i, n, *wd, today, prior);
                found.extend(add(d).map(|x| (i, x)));
                self.mark(i, i + n);
            }
        }
        found.iter().max_by_key(|(i, _)| *i).map(|(_, d)| *d).or(weak)
    }

    /// Days from `today` to the weekday `wd` named at `i..i + n`, read with the
    /// week words around it: "다음 주"/"next"/"… next week" (next week's),
    /// "다다음 주" (the week after), "this coming"/"돌아오는" (never today),
    /// otherwise the next such day, today included, or (when a date was
    /// already talked about) the one nearest to it ("토요일 말고 일요일").
    fn weekday_offset(&mut self, i: usize, n: usize, wd: Weekday, today: Date, prior: Option<Date>) -> i64 {
        let b = self.back_ws(i);
        let before: String = self.c[..b].iter().collect();
        let ends = |ws: &[&str]| ws.iter().any(|w| before.ends_with(w));
        let after = self.skip_ws(i + n);
        let next_after = ["next week", "다음 주", "다음주"].iter().find(|w| self.at(after, w));
        if let Some(w) = next_after {
            self.mark(after, after + w.chars().count());
        }
        let after_next = self.at(after, "after next");
        if after_next {
            self.mark(after, after + 10);
        }
        let (wd, now) = (wd.to_monday_zero_offset() as i64, today.weekday().to_monday_zero_offset() as i64);
        if after_next || ends(&["다다음 주", "다다음주"]) {
            14 - now + wd
        } else if next_after.is_some() || ends(&["다음 주", "다음주", "담주", "next", "next week", "next week's"])
        {
            7 - now + wd
        } else if ends(&["coming", "돌아오는"]) || (before.ends_with("오는") && self.word_start(b.saturating_sub(2)))
        {
            (wd - now - 1).rem_euclid(7) + 1
        } else {
            let d = (wd - now).rem_euclid(7);
            let known = prior.and_then(|p| today.until(p).ok()).map(|s| i64::from(s.get_days()));
            match known {
                Some(k) if k > d => d + (k - d + 3) / 7 * 7,
                _ => d,
            }
        }
    }

    /// A month number at `i`: digits, a Sino-Korean word, or 유월/시월.
    fn month_number(&self, i: usize) -> Option<(u32, usize)> {
        if let Some(v) = self.digits(i) {
            return Some(v);
        }
        for (w, m) in [("유월", 6), ("시월", 10)] {
            if self.at(i, w) && self.word_start_ko(i) {
                return Some((m, i + 1));
            }
        }
        self.sino_word(i)
    }

    /// A day number ending right before an unconsumed 일 (not 일요일): (value, index of 일).
    fn day_number(&self, i: usize) -> Option<(u32, usize)> {
        let ok = |e: usize| self.at(e, "일") && !self.at(e + 1, "요");
        if let Some((d, e)) = self.digits(i) {
            return ok(e).then_some((d, e));
        }
        let (d, e) = if self.word_start_ko(i) || self.month_before(i) { self.sino(i)? } else { return None };
        if ok(e) {
            return Some((d, e));
        }
        // "이십일" is 20일: the 일 read as a digit was the day's counter.
        (e > i + 1 && self.c[e - 1] == '일' && !self.at(e, "요") && !self.at(e, "월")).then_some((d - 1, e - 1))
    }

    /// True when no Hangul comes right before `i`.
    fn word_start_ko(&self, i: usize) -> bool {
        i == 0 || !text::is_hangul(self.c[i - 1])
    }

    /// True when a 월 (and spaces) comes right before `i`.
    fn month_before(&self, i: usize) -> bool {
        let b = self.back_ws(i);
        b > 0 && self.c[b - 1] == '월'
    }

    /// "다음 달" (true) or "이번 달" (false) right before `i`: (its start, next month).
    fn month_word_before(&self, i: usize) -> Option<(usize, bool)> {
        let b = self.back_ws(i);
        [("다음 달", true), ("다음달", true), ("담달", true), ("이번 달", false), ("이번달", false)].iter().find_map(
            |(w, next)| {
                let n = w.chars().count();
                (b >= n && self.at(b - n, w)).then(|| (b - n, *next))
            },
        )
    }

    /// "the fifth of December", "25th of Dec", "5 December".
    fn day_of_month_name(&mut self, today: Date, found: &mut Vec<(usize, Date)>) {
        for i in 0..self.len() {
            if !self.word_start(i) {
                continue;
            }
            let Some((d, e)) = self.en_day(i) else { continue };
            let mut j = self.skip_ws(e);
            if self.at(j, "of") && self.word_end(j + 2) {
                j = self.skip_ws(j + 2);
            }
            if let Some((month, end)) = self.month_name_at(j) {
                found.extend(month_day(today, month, d).map(|x| (i, x)));
                self.mark(i, end);
            }
        }
    }

    /// An English month name (or its first three letters) at `i`: (month, end).
    pub(super) fn month_name_at(&self, i: usize) -> Option<(u32, usize)> {
        MONTHS.iter().zip(1..).find_map(|(name, m)| {
            [*name, &name[..3]].into_iter().find_map(|f| {
                let e = i + f.len();
                (self.at(i, f) && self.word_start(i) && self.word_end(e)).then_some((m, e))
            })
        })
    }

    /// A day number at `i`: digits with an optional "th", or an ordinal word
    /// ("fifth", "twenty fifth"): (day, end).
    fn en_day(&self, i: usize) -> Option<(u32, usize)> {
        if let Some((d, e)) = self.digits(i) {
            return (1..=31).contains(&d).then(|| (d, self.ordinal_suffix(e)));
        }
        let word = |j: usize, table: &[(&str, u32)]| {
            table.iter().find_map(|(w, n)| (self.at(j, w) && self.word_end(j + w.len())).then(|| (*n, j + w.len())))
        };
        for (tens, t) in [("twenty", 20), ("thirty", 30)] {
            if self.at(i, tens) {
                let j = i + tens.len();
                let j = if self.at(j, "-") || self.at(j, " ") { j + 1 } else { j };
                if let Some((u, e)) = word(j, EN_ORDINAL_UNITS) {
                    return Some((t + u, e));
                }
            }
        }
        word(i, EN_ORDINAL_UNITS).or_else(|| word(i, EN_ORDINAL_TEENS))
    }

    /// "이틀 뒤", "3일 후", "일주일 뒤", "in two days", "a week from today".
    fn relative_spans(&mut self, today: Date, found: &mut Vec<(usize, Date)>) {
        let add = |d: u32| today.checked_add(i64::from(d).days()).ok();
        for (w, n) in KO_SPANS {
            for i in self.find(w) {
                let e = i + w.chars().count();
                if let Some(end) = self.after_word(e) {
                    found.extend(add(*n).map(|x| (i, x)));
                    self.mark(i, end);
                }
            }
        }
        for i in 0..self.len() {
            if let Some((n, e)) = self.digits(i)
                && self.at(e, "일")
                && let Some(end) = self.after_word(e + 1)
            {
                found.extend(add(n).map(|x| (i, x)));
                self.mark(i, end);
            }
        }
        for i in self.find_word("in") {
            let j = self.skip_ws(i + 2);
            let Some((n, e)) = self.en_count(j) else { continue };
            let k = self.skip_ws(e);
            for (unit, days) in [("days", 1), ("day", 1), ("weeks", 7), ("week", 7)] {
                if self.at(k, unit) && self.word_end(k + unit.len()) {
                    found.extend(add(n * days).map(|x| (i, x)));
                    self.mark(i, k + unit.len());
                    break;
                }
            }
        }
        for p in ["a week from today", "a week from now", "one week from today", "a week today"] {
            for i in self.find(p) {
                found.extend(add(7).map(|x| (i, x)));
                self.mark(i, i + p.len());
            }
        }
    }

    /// 뒤/후/있다가/지나 after a span at `e` (skipping a space): its end.
    fn after_word(&self, e: usize) -> Option<usize> {
        let j = self.skip_ws(e);
        ["뒤", "후", "있다가", "지나"].iter().find(|w| self.at(j, w)).map(|w| j + w.chars().count())
    }

    /// A small count at `i`: digits 1–30 or an English number word: (n, end).
    fn en_count(&self, i: usize) -> Option<(u32, usize)> {
        if let Some((n, e)) = self.digits(i) {
            return (1..=30).contains(&n).then_some((n, e));
        }
        EN_NUM
            .iter()
            .find_map(|(w, n)| (self.at(i, w) && self.word_end(i + w.len())).then(|| (u32::from(*n), i + w.len())))
    }

    /// Christmas Eve and Christmas Day.
    fn holidays(&mut self, today: Date, found: &mut Vec<(usize, Date)>) {
        for (p, day) in [
            ("크리스마스 이브", 24),
            ("christmas eve", 24),
            ("크리스마스", 25),
            ("성탄절", 25),
            ("christmas day", 25),
            ("christmas", 25),
        ] {
            for i in self.find(p) {
                found.extend(month_day(today, 12, day).map(|x| (i, x)));
                self.mark(i, i + p.chars().count());
            }
        }
    }

    /// Skips "st"/"nd"/"rd"/"th" after a day number.
    pub(super) fn ordinal_suffix(&self, e: usize) -> usize {
        for s in ["st", "nd", "rd", "th"] {
            if self.at(e, s) && self.word_end(e + 2) {
                return e + 2;
            }
        }
        e
    }
}

/// English month names.
const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
/// Spans of days said in Korean words, before 뒤/후 ("이틀 뒤").
const KO_SPANS: &[(&str, u32)] =
    &[("하루", 1), ("이틀", 2), ("사흘", 3), ("나흘", 4), ("닷새", 5), ("일주일", 7), ("한 주", 7), ("1주일", 7)];
/// English ordinal day words.
const EN_ORDINAL_UNITS: &[(&str, u32)] = &[
    ("first", 1),
    ("second", 2),
    ("third", 3),
    ("fourth", 4),
    ("fifth", 5),
    ("sixth", 6),
    ("seventh", 7),
    ("eighth", 8),
    ("ninth", 9),
];
const EN_ORDINAL_TEENS: &[(&str, u32)] = &[
    ("tenth", 10),
    ("eleventh", 11),
    ("twelfth", 12),
    ("thirteenth", 13),
    ("fourteenth", 14),
    ("fifteenth", 15),
    ("sixteenth", 16),
    ("seventeenth", 17),
    ("eighteenth", 18),
    ("nineteenth", 19),
    ("twentieth", 20),
    ("thirtieth", 30),
];

/// `month`/`day` this year, or next year once it has passed.
pub(super) fn month_day(today: Date, month: u32, day: u32) -> Option<Date> {
    let (mo, d) = (i8::try_from(month).ok()?, i8::try_from(day).ok()?);
    let this = Date::new(today.year(), mo, d).ok()?;
    if this >= today { Some(this) } else { Date::new(today.year().checked_add(1)?, mo, d).ok() }
}

/// `day` of this month (`next` false) or of the next one.
pub(super) fn month_of(today: Date, next: bool, day: u32) -> Option<Date> {
    let first = today.first_of_month();
    let first = if next { first.checked_add(1.month()).ok()? } else { first };
    Date::new(first.year(), first.month(), i8::try_from(day).ok()?).ok()
}

/// `day` of this month, or of next month once it has passed.
pub(super) fn day_of_month(today: Date, day: u32) -> Option<Date> {
    let d = i8::try_from(day).ok()?;
    if d >= today.day()
        && let Ok(x) = Date::new(today.year(), today.month(), d)
    {
        return Some(x);
    }
    let first_next = today.first_of_month().checked_add(1.month()).ok()?;
    Date::new(first_next.year(), first_next.month(), d).ok()
}

#[cfg(test)]
mod tests {
    use super::super::scan::probe::{d, read, wed};
    use super::*;

    #[test]
    fn spoken_and_misspelled_days() {
        assert_eq!(wed("낼 저녁에").slots.date, Some(d(11, 26)));
        assert_eq!(wed("모래 오후 세 시").slots.date, Some(d(11, 27)));
        assert_eq!(wed("낼모레 있어요").slots.date, Some(d(11, 27)));
        assert_eq!(wed("금욜 저녁").slots.date, Some(d(11, 27)));
        assert_eq!(wed("담주 화욜").slots.date, Some(d(12, 1)));
        assert_eq!(wed("다다음주 월요일").slots.date, Some(d(12, 7)));
        assert_eq!(wed("이번주 토욜 밤에").slots.date, Some(d(11, 28)));
        // "보낼게요" holds 낼 but names no day.
        assert_eq!(wed("문자로 보낼게요").slots.date, None);
    }

    #[test]
    fn dates_in_sino_korean_words() {
        assert_eq!(wed("십이월 오일").slots.date, Some(d(12, 5)));
        assert_eq!(wed("십이월 이십오일 저녁").slots.date, Some(d(12, 25)));
        assert_eq!(wed("이십일에").slots.date, Some(d(12, 20)));
        assert_eq!(wed("삼십일일").slots.date, Some(d(12, 31)), "no 31st in November");
        assert_eq!(wed("십일월 삼십일이요").slots.date, Some(d(11, 30)));
        assert_eq!(wed("다음 달 3일").slots.date, Some(d(12, 3)));
        assert_eq!(wed("일요일").slots.date, Some(d(11, 29)));
        assert_eq!(wed("내일").slots.date, Some(d(11, 26)));
    }

    #[test]
    fn spans_holidays_and_english_spellings() {
        assert_eq!(wed("이틀 뒤에").slots.date, Some(d(11, 27)));
        assert_eq!(wed("3일 후 저녁").slots.date, Some(d(11, 28)));
        assert_eq!(wed("3일 저녁").slots.date, Some(d(12, 3)));
        assert_eq!(wed("일주일 뒤").slots.date, Some(d(12, 2)));
        assert_eq!(wed("in two days").slots.date, Some(d(11, 27)));
        assert_eq!(wed("a week from today").slots.date, Some(d(12, 2)));
        assert_eq!(wed("tmrw").slots.date, Some(d(11, 26)));
        assert_eq!(wed("tomorow").slots.date, Some(d(11, 26)));
        assert_eq!(wed("크리스마스 이브").slots.date, Some(d(12, 24)));
        assert_eq!(wed("on Christmas Day").slots.date, Some(d(12, 25)));
        assert_eq!(wed("the fifth of December").slots.date, Some(d(12, 5)));
        assert_eq!(wed("December twenty fifth").slots.date, Some(d(12, 25)));
        // An ordinal that is not a day stays an ordinal.
        assert_eq!(wed("the first one").ordinal, Some(0));
        assert_eq!(wed("in the evening").slots.date, None);
    }

    #[test]
    fn weekday_plus_week() {
        assert_eq!(wed("this coming Sunday").slots.date, Some(d(11, 29)));
        assert_eq!(read("this coming Sunday", "2026-11-22", &Slots::default()).slots.date, Some(d(11, 29)));
        assert_eq!(read("this Sunday", "2026-11-22", &Slots::default()).slots.date, Some(d(11, 22)));
        assert_eq!(wed("Friday next week").slots.date, Some(d(12, 4)));
        assert_eq!(wed("next week Tuesday").slots.date, Some(d(12, 1)));
        assert_eq!(wed("돌아오는 수요일").slots.date, Some(d(12, 2)));
        assert_eq!(wed("the Monday after next").slots.date, Some(d(12, 7)));
    }

    #[test]
    fn a_corrected_weekday_is_the_one_near_the_day_talked_about() {
        let sunday = "2026-11-22";
        let prior = Slots { date: Some(d(11, 28)), ..Slots::default() };
        assert_eq!(read("토요일 말고 일요일로", sunday, &prior).slots.date, Some(d(11, 29)));
        assert_eq!(read("일요일", sunday, &Slots::default()).slots.date, Some(d(11, 22)));
        assert_eq!(read("금요일로", sunday, &prior).slots.date, Some(d(11, 27)));
    }
}
