//! Reading a date: absolute (11월 28일, Nov 28) or relative to today (내일, 이번 주 토요일, next Friday).

use super::*;

impl Scan {
    // ---- date -----------------------------------------------------------------

    pub(super) fn date(&mut self, today: Date) -> Option<Date> {
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
        // Korean N월 N일, N일; numeric M/D.
        for i in 0..self.len() {
            let Some((a, e)) = self.digits(i) else { continue };
            let e1 = self.skip_ws(e);
            if self.at(e1, "월")
                && let Some((d, e2)) = self.digits(self.skip_ws(e1 + 1))
                && self.at(e2, "일")
                && !self.at(e2 + 1, "요")
            {
                if let Some(date) = month_day(today, a, d) {
                    found.push((i, date));
                }
                self.mark(i, e2 + 1);
            } else if self.at(e, "일") && !self.at(e + 1, "요") && (1..=31).contains(&a) {
                if let Some(date) = day_of_month(today, a) {
                    found.push((i, date));
                }
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
        for (mi, name) in MONTHS.iter().enumerate() {
            for form in [*name, &name[..3]] {
                for i in self.find_word(form) {
                    let j = self.skip_ws(i + form.chars().count());
                    if let Some((d, e)) = self.digits(j) {
                        let e2 = self.ordinal_suffix(e);
                        if let Some(date) = month_day(today, mi as u32 + 1, d) {
                            found.push((i, date));
                        }
                        self.mark(i, e2);
                    }
                }
            }
        }
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
            ("오늘", 0, false),
            ("내일", 1, false),
            ("모레", 2, false),
            ("글피", 3, false),
            ("today", 0, true),
            ("tonight", 0, true),
            ("tomorrow", 1, true),
        ] {
            for i in self.find(p) {
                let n = p.chars().count();
                if latin && !(self.word_start(i) && self.word_end(i + n)) {
                    continue;
                }
                found.extend(add(d).map(|x| (i, x)));
                // "tonight" is also a time of day: leave it for `time`.
                if p != "tonight" {
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
                let before: String = self.c[..self.back_ws(i)].iter().collect();
                let next_week = ["다음 주", "다음주", "담주", "next"].iter().any(|w| before.ends_with(w));
                let wd_off = wd.to_monday_zero_offset() as i64;
                let today_off = today.weekday().to_monday_zero_offset() as i64;
                let d = if next_week { 7 - today_off + wd_off } else { (wd_off - today_off).rem_euclid(7) };
                found.extend(add(d).map(|x| (i, x)));
                self.mark(i, i + n);
            }
        }
        found.iter().max_by_key(|(i, _)| *i).map(|(_, d)| *d).or(weak)
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

/// `month`/`day` this year, or next year once it has passed.
pub(super) fn month_day(today: Date, month: u32, day: u32) -> Option<Date> {
    let (mo, d) = (i8::try_from(month).ok()?, i8::try_from(day).ok()?);
    let this = Date::new(today.year(), mo, d).ok()?;
    if this >= today { Some(this) } else { Date::new(today.year().checked_add(1)?, mo, d).ok() }
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
