//! Reading a time of day: clock times with or without am/pm (저녁 7시, 7:30 pm, 9시) and parts of the day (오후, tonight).

use super::*;

impl Scan {
    // ---- time -----------------------------------------------------------------

    pub(super) fn time(&mut self, prior: &Slots) -> Option<TimeSpec> {
        // (position, time, period known)
        let mut clocks: Vec<(usize, TimeSpec)> = Vec::new();
        // "one more time" asks to hear it again: neither a time nor one more person.
        for i in self.find_word("one more time") {
            self.mark(i, i + 13);
        }
        // Colon times, with am/pm or a Korean period word.
        for i in 0..self.len() {
            let Some((h, e)) = self.digits(i) else { continue };
            if !self.at(e, ":") {
                continue;
            }
            let Some((mi, e2)) = self.digits(e + 1) else { continue };
            if h > 24 || mi > 59 || e2 - e != 3 {
                continue;
            }
            let (ampm, end) = self.ampm(e2);
            let start = self.period_before(i).map_or(i, |(s, _)| s);
            let period = ampm.or(self.period_before(i).map(|p| p.1));
            clocks.push((i, clock(h as u16, mi as u16, period)));
            self.mark(start, end);
        }
        // "7pm", "10 am".
        for i in 0..self.len() {
            let Some((h, e)) = self.digits(i) else { continue };
            let (ampm, end) = self.ampm(e);
            if let Some(p) = ampm
                && (1..=12).contains(&h)
            {
                clocks.push((i, clock(h as u16, 0, Some(p))));
                self.mark(i, end);
            }
        }
        // Korean N시 (N분|반).
        for i in self.find("시") {
            if self.at(i + 1, "간") || self.used[i] {
                continue;
            }
            let b = self.back_ws(i);
            let (hour, start) = if let Some((h, s)) = self.digits_ending(b) {
                (h as u16, s)
            } else if let Some((h, s)) = KO_HOURS.iter().find_map(|(w, h)| {
                let n = w.chars().count();
                (b >= n && self.at(b - n, w) && self.word_start(b - n)).then(|| (*h, b - n))
            }) {
                (h, s)
            } else {
                continue;
            };
            // "열 한 시" (spaced by speech-to-text) is 11, not 1.
            let (hour, start) = self.ten_before(hour, start);
            if hour > 24 {
                continue;
            }
            let mut end = i + 1;
            let mut minute = 0;
            let j = self.skip_ws(end);
            if self.at(j, "반") {
                minute = 30;
                end = j + 1;
            } else if let Some((mi, e)) = self.digits(j).or_else(|| self.sino(j))
                && self.at(self.skip_ws(e), "분")
                && mi < 60
            {
                minute = mi as u16;
                end = self.skip_ws(e) + 1;
            }
            let period = self.period_before(start);
            let from = period.map_or(start, |p| p.0);
            clocks.push((start, clock(hour, minute, period.map(|p| p.1))));
            self.mark(from, end);
        }
        // English "at 8", "8 o'clock", noon.
        for i in self.find("o'clock") {
            let b = self.back_ws(i);
            if let Some((h, s)) = self.digits_ending(b).or_else(|| self.en_number_ending(b).map(|(n, s)| (n as u32, s)))
            {
                clocks.push((s, clock(h as u16, 0, None)));
                self.mark(s, i + 7);
            }
        }
        self.english_clocks(&mut clocks);
        self.make_it(prior, &mut clocks);
        for (p, t) in [("noon", 12), ("midnight", 0), ("정오", 12), ("자정", 0)] {
            for i in self.find(p) {
                let n = p.chars().count();
                if p.is_ascii() && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                clocks.push((i, TimeSpec::At(m(t))));
                self.mark(i, i + n);
            }
        }
        // Parts of the day.
        let mut windows: Vec<(usize, TimeSpec)> = Vec::new();
        for (p, w) in [
            ("점심 지나", AFTERNOON),
            ("점심 이후", AFTERNOON),
            ("tonight", EVENING),
            ("tonite", EVENING),
            ("저녁", EVENING),
            ("저녘", EVENING),
            ("evening", EVENING),
            ("오늘 밤", NIGHT),
            ("밤", NIGHT),
            ("늦게", NIGHT),
            ("night", NIGHT),
            ("late", NIGHT),
            ("아침", MORNING),
            ("오전", MORNING),
            ("새벽", MORNING),
            ("morning", MORNING),
            ("오후", AFTERNOON),
            ("낮", AFTERNOON),
            ("afternoon", AFTERNOON),
            ("점심", LUNCH),
            ("lunch", LUNCH),
        ] {
            for i in self.find(p) {
                let n = p.chars().count();
                if p.is_ascii() && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                windows.push((i, w));
                self.mark(i, i + n);
            }
        }
        let window = windows.iter().max_by_key(|w| w.0).map(|w| w.1);
        match (clocks.iter().max_by_key(|c| c.0).map(|c| c.1), window) {
            (Some(TimeSpec::Around(t)), Some(TimeSpec::Window(a, _))) => {
                let h = t / 60;
                Some(if a >= m(12) || (a == m(11) && h <= 5) { TimeSpec::At(t + m(12)) } else { TimeSpec::At(t) })
            }
            (Some(c), _) => Some(c),
            (None, w) => w,
        }
    }

    /// A native hour of 1 or 2 after "열" (and spaces) is 11 or 12: (hour, start).
    fn ten_before(&self, hour: u16, start: usize) -> (u16, usize) {
        let b = self.back_ws(start);
        if (1..=2).contains(&hour) && b < start && b >= 1 && self.at(b - 1, "열") && self.word_start(b - 1) {
            (hour + 10, b - 1)
        } else {
            (hour, start)
        }
    }

    /// English clock times said loosely: "at 8", "around seven thirty",
    /// "about 9 pm", "7ish", "a quarter past six", "half past seven".
    fn english_clocks(&mut self, clocks: &mut Vec<(usize, TimeSpec)>) {
        for lead in ["at", "around", "about", "approximately", "roughly"] {
            for i in self.find_word(lead) {
                let j = self.skip_ws(i + lead.len());
                if let Some((t, e)) = self.en_clock(j)
                    && !self.unit_follows(e)
                {
                    clocks.push((j, t));
                    self.mark(i, e);
                }
            }
        }
        for i in 0..self.len() {
            if self.word_start(i)
                && let Some((h, e)) = self.en_hour(i)
                && let Some(end) = ["ish", "-ish", " ish"].iter().find(|w| self.at(e, w)).map(|w| e + w.len())
            {
                clocks.push((i, clock(h, 0, None)));
                self.mark(i, end);
            }
        }
        for (w, mins) in [("half", 30), ("quarter", 15), ("twenty", 20), ("ten", 10), ("five", 5)] {
            for i in self.find_word(w) {
                let j = self.skip_ws(i + w.len());
                let Some((rel, k)) = ["past", "after", "to"].iter().find(|r| self.at(j, r)).map(|r| (*r, j + r.len()))
                else {
                    continue;
                };
                let Some((h, e)) = self.en_hour(self.skip_ws(k)) else { continue };
                let (ampm, end) = self.ampm(e);
                let (h, minute) = match (rel, h) {
                    ("to", 1) => (12, 60 - mins),
                    ("to", h) => (h - 1, 60 - mins),
                    (_, h) => (h, mins),
                };
                let b = self.back_ws(i);
                let from = if b >= 1 && self.at(b - 1, "a") && self.word_start(b - 1) { b - 1 } else { i };
                clocks.push((i, clock(h, minute, ampm)));
                self.mark(from, end);
            }
        }
        // "seven thirty", "nine pm" without a lead word.
        for i in 0..self.len() {
            if self.word_start(i)
                && !self.c[i].is_ascii_digit()
                && let Some((t, e)) = self.en_clock(i)
                && e > self.en_hour(i).map_or(e, |h| h.1)
            {
                clocks.push((i, t));
                self.mark(i, e);
            }
        }
    }

    /// An hour at `i` (digits 1–23 or an English hour word), its minutes
    /// ("thirty") and am/pm: (time, end).
    fn en_clock(&self, i: usize) -> Option<(TimeSpec, usize)> {
        let (h, e) = self.en_hour(i)?;
        if self.at(e, ":") {
            return None;
        }
        let k = self.skip_ws(e);
        let (minute, e) = EN_MINUTES
            .iter()
            .find(|(w, _)| e < k && self.at(k, w) && self.word_end(k + w.len()))
            .map_or((0, e), |(w, mi)| (*mi, k + w.len()));
        let e = ["ish", "-ish"].iter().find(|w| self.at(e, w)).map_or(e, |w| e + w.len());
        let (ampm, end) = self.ampm(e);
        Some((clock(h, minute, ampm), end))
    }

    /// An hour at `i`: digits 1–23 or an English hour word: (hour, end).
    fn en_hour(&self, i: usize) -> Option<(u16, usize)> {
        if let Some((h, e)) = self.digits(i) {
            return (1..=23).contains(&h).then_some((h as u16, e));
        }
        EN_HOURS.iter().find_map(|(w, h)| {
            let e = i + w.len();
            (self.at(i, w) && (self.word_end(e) || self.at(e, "ish"))).then_some((*h, e))
        })
    }

    /// "make it 8" right after a time was talked about is the time, not a
    /// party of eight, read against the known time ("make it 9" after 19:00
    /// is 21:00). With a party known too, it is the time only when the
    /// number is near the known hour and far from the party (or above 10).
    fn make_it(&mut self, prior: &Slots, clocks: &mut Vec<(usize, TimeSpec)>) {
        let Some(known) = prior.time else { return };
        for lead in ["make it", "make that", "change it to", "how about"] {
            for i in self.find_word(lead) {
                let j = self.skip_ws(i + lead.len());
                let Some((t, e)) = self.en_clock(j) else { continue };
                let hour = self.en_hour(j).map_or(0, |h| h.0);
                if self.unit_follows(e) || !time_like(hour, known, prior.party) {
                    continue;
                }
                let t = match (t, known) {
                    (TimeSpec::Around(t), TimeSpec::At(k)) if k >= m(12) => TimeSpec::At(t + m(12)),
                    (t, _) => t,
                };
                clocks.push((j, t));
                self.mark(i, e);
            }
        }
    }

    /// am/pm after `e` (skipping a space): (Some(is_pm), end).
    pub(super) fn ampm(&self, e: usize) -> (Option<bool>, usize) {
        let j = self.skip_ws(e);
        for (p, pm) in [("p.m", true), ("a.m", false), ("pm", true), ("am", false)] {
            let n = p.chars().count();
            if self.at(j, p) && self.word_end(j + n) {
                return (Some(pm), j + n);
            }
        }
        (None, e)
    }

    /// A Korean period word right before `i`: (its start, is_pm).
    pub(super) fn period_before(&self, i: usize) -> Option<(usize, bool)> {
        let b = self.back_ws(i);
        for (p, pm) in [
            ("오전", false),
            ("아침", false),
            ("새벽", false),
            ("오후", true),
            ("저녁", true),
            ("저녘", true),
            ("밤", true),
            ("낮", true),
        ] {
            let n = p.chars().count();
            if b >= n && self.at(b - n, p) {
                return Some((b - n, pm));
            }
        }
        None
    }

    /// Digits ending exactly at `e`: (value, start).
    pub(super) fn digits_ending(&self, e: usize) -> Option<(u32, usize)> {
        let mut s = e;
        while s > 0 && self.c[s - 1].is_ascii_digit() && !self.used[s - 1] && e - s < 2 {
            s -= 1;
        }
        if s == e || (s > 0 && self.c[s - 1].is_ascii_digit()) {
            return None;
        }
        self.digits(s).filter(|(_, end)| *end == e)
    }

    /// An English number word ending at `e`.
    pub(super) fn en_number_ending(&self, e: usize) -> Option<(u8, usize)> {
        EN_NUM.iter().find_map(|(w, n)| {
            let l = w.len();
            (e >= l && self.at(e - l, w) && self.word_start(e - l)).then(|| (*n, e - l))
        })
    }

    /// A counting unit (Korean or English) right after `e`.
    pub(super) fn unit_follows(&self, e: usize) -> bool {
        let j = self.skip_ws(e);
        KO_UNITS.iter().chain(EN_UNITS).any(|u| self.at(j, u))
            || ADULT_ROLES.iter().chain(CHILD_ROLES).any(|u| u.is_ascii() && self.at(j, u))
    }
}

/// Whether a bare `n` in "make it n" is a time, given the time and party known.
fn time_like(n: u16, known: TimeSpec, party: Option<Party>) -> bool {
    let Some(p) = party else { return true };
    let hour = match known {
        TimeSpec::At(t) | TimeSpec::Around(t) => (t / 60 + 11) % 12 + 1,
        TimeSpec::Window(..) => return n > 10,
    };
    n > 10 || (n.abs_diff(hour) <= 2 && n.abs_diff(u16::from(p.total)) > 2)
}

/// `h:mm` with an optional am/pm: exact when known or 0/12–24, otherwise ambiguous.
pub(super) fn clock(h: u16, minute: u16, pm: Option<bool>) -> TimeSpec {
    let h = h % 24;
    match pm {
        Some(true) if h < 12 => TimeSpec::At(m(h + 12) + minute),
        Some(false) if h == 12 => TimeSpec::At(minute),
        Some(_) => TimeSpec::At(m(h) + minute),
        None if (1..=11).contains(&h) => TimeSpec::Around(m(h) + minute),
        None => TimeSpec::At(m(h) + minute),
    }
}

#[cfg(test)]
mod tests {
    use super::super::scan::probe::{read, wed};
    use super::*;

    fn t(text: &str) -> Option<String> {
        wed(text).slots.time.map(|t| t.to_string())
    }

    #[test]
    fn minutes_in_korean_words() {
        assert_eq!(t("두 시 삼십 분에").as_deref(), Some("~2:30"));
        assert_eq!(t("오후 세 시 사십 분").as_deref(), Some("15:40"));
        assert_eq!(t("한시 사십오분").as_deref(), Some("~1:45"));
        assert_eq!(t("열 한 시 반").as_deref(), Some("~11:30"));
        assert_eq!(t("세시반").as_deref(), Some("~3:30"));
        assert_eq!(t("한 시간 뒤에"), None);
        assert_eq!(t("내일 정오에").as_deref(), Some("12:00"));
        assert_eq!(t("저녘 8시").as_deref(), Some("20:00"));
    }

    #[test]
    fn english_approximate_times() {
        assert_eq!(t("around 7").as_deref(), Some("~7:00"));
        assert_eq!(t("7ish").as_deref(), Some("~7:00"));
        assert_eq!(t("sevenish").as_deref(), Some("~7:00"));
        assert_eq!(t("about six thirty").as_deref(), Some("~6:30"));
        assert_eq!(t("a quarter past six").as_deref(), Some("~6:15"));
        assert_eq!(t("quarter to eight in the evening").as_deref(), Some("19:45"));
        assert_eq!(t("at around nine pm").as_deref(), Some("21:00"));
        assert_eq!(t("about 5 people"), None);
        assert_eq!(wed("about 5 people").slots.party.map(|p| p.total), Some(5));
    }

    #[test]
    fn make_it_n_after_a_time_is_the_time() {
        let after = |known: &str, text: &str| {
            let prior = Slots { time: TimeSpec::try_from(known.to_owned()).ok(), ..Slots::default() };
            let u = read(text, "2026-11-25", &prior);
            (u.slots.time.map(|t| t.to_string()), u.slots.party.map(|p| p.total))
        };
        assert_eq!(after("~7:00", "actually make it 8"), (Some("~8:00".into()), None));
        assert_eq!(after("19:00", "can we make it 9 instead"), (Some("21:00".into()), None));
        // With no time talked about, it is still the party.
        assert_eq!(wed("make it three").slots.party.map(|p| p.total), Some(3));
        // Both known: near the hour and far from the party is the time.
        let both = |text: &str| {
            let prior = Slots {
                time: Some(TimeSpec::At(19 * 60)),
                party: Some(Party { total: 2, adults: None, children: None, tickets: Default::default() }),
                ..Slots::default()
            };
            let u = read(text, "2026-11-25", &prior);
            (u.slots.time.map(|t| t.to_string()), u.slots.party.map(|p| p.total))
        };
        assert_eq!(both("actually make it 8"), (Some("20:00".into()), None));
        assert_eq!(both("make it 3"), (None, Some(3)));
    }
}
