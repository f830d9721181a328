//! Reading a time of day: clock times with or without am/pm (저녁 7시, 7:30 pm, 9시) and parts of the day (오후, tonight).

use super::*;

impl Scan {
    // ---- time -----------------------------------------------------------------

    pub(super) fn time(&mut self) -> Option<TimeSpec> {
        // (position, time, period known)
        let mut clocks: Vec<(usize, TimeSpec)> = Vec::new();
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
            if hour > 24 {
                continue;
            }
            let mut end = i + 1;
            let mut minute = 0;
            let j = self.skip_ws(end);
            if self.at(j, "반") {
                minute = 30;
                end = j + 1;
            } else if let Some((mi, e)) = self.digits(j)
                && self.at(e, "분")
                && mi < 60
            {
                minute = mi as u16;
                end = e + 1;
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
        for i in self.find_word("at") {
            let j = self.skip_ws(i + 2);
            if let Some((h, e)) = self.digits(j)
                && (1..=23).contains(&h)
                && !self.unit_follows(e)
            {
                clocks.push((j, clock(h as u16, 0, None)));
                self.mark(i, e);
            }
        }
        for (p, t) in [("noon", 12), ("midnight", 0)] {
            for i in self.find_word(p) {
                clocks.push((i, TimeSpec::At(m(t))));
                self.mark(i, i + p.len());
            }
        }
        // Parts of the day.
        let mut windows: Vec<(usize, TimeSpec)> = Vec::new();
        for (p, w) in [
            ("점심 지나", AFTERNOON),
            ("점심 이후", AFTERNOON),
            ("tonight", EVENING),
            ("저녁", EVENING),
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
