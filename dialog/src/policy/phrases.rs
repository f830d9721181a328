//! The wording: showtimes, dates, times, seats and parties as Korean and English text and speech.

use super::*;

impl Round<'_> {
    // ---- wording ----------------------------------------------------------------

    pub(super) fn theater_name(&self, id: &str) -> String {
        self.lex.theater(id).map_or_else(|| id.to_owned(), |t| t.display(self.ko).to_owned())
    }

    pub(super) fn title(&self, o: &Offer) -> String {
        if self.ko { o.title_ko.clone().unwrap_or_else(|| o.title.clone()) } else { o.title.clone() }
    }

    /// "토 11/28 19:00 매트릭스 · 마키 강남".
    pub(super) fn offer_label(&self, o: &Offer) -> String {
        let wd = weekday_short(o.at.date(), self.ko);
        format!(
            "{wd} {}/{} {:02}:{:02} {} · {}",
            o.at.month(),
            o.at.day(),
            o.at.hour(),
            o.at.minute(),
            self.title(o),
            self.theater_name(&o.theater)
        )
    }

    /// The message a tapped suggestion sends; [`Round::pick`] recognises it.
    pub(super) fn offer_text(&self, o: &Offer) -> String {
        if self.ko {
            let min = if o.at.minute() > 0 { format!(" {}분", o.at.minute()) } else { String::new() };
            format!(
                "{}월 {}일 {}시{min} {} {}",
                o.at.month(),
                o.at.day(),
                o.at.hour(),
                self.title(o),
                self.theater_name(&o.theater)
            )
        } else {
            format!(
                "{} {:02}:{:02} {} at {}",
                date_en(o.at.date()),
                o.at.hour(),
                o.at.minute(),
                self.title(o),
                self.theater_name(&o.theater)
            )
        }
    }

    /// "11월 28일 토요일 저녁 7시 매트릭스, 마키 강남 1관" (for text and speech).
    pub(super) fn offer_speech(&self, o: &Offer) -> String {
        if o.title.is_empty() {
            return String::new();
        }
        let screen = if o.screen.is_empty() {
            String::new()
        } else if self.ko {
            format!(" {}관", o.screen)
        } else {
            format!(", screen {}", o.screen)
        };
        if self.ko {
            format!(
                "{} {} {}, {}{screen}",
                self.day_ko(o.at.date()),
                time_ko(o.at),
                self.title(o),
                self.theater_name(&o.theater)
            )
        } else {
            format!(
                "{} at {} {}, {}{screen}",
                self.title(o),
                time_en(o.at),
                self.day_en(o.at.date()),
                self.theater_name(&o.theater)
            )
        }
    }

    /// "오늘", "내일", "모레", else "11월 28일 토요일": a day as a person says it.
    pub(super) fn day_ko(&self, d: Date) -> String {
        let today = self.now.date();
        match [today, today.tomorrow().unwrap_or(today), today.tomorrow().and_then(|t| t.tomorrow()).unwrap_or(today)]
            .iter()
            .position(|x| *x == d)
        {
            Some(0) => "오늘".to_owned(),
            Some(1) => "내일".to_owned(),
            Some(2) => "모레".to_owned(),
            // Within the week the weekday says it ("토요일").
            _ if d > today && (d - today).get_days() < 7 => format!("{}요일", weekday_short(d, true)),
            _ => date_ko(d),
        }
    }

    /// "today", "tomorrow", else "on Saturday, Nov 28".
    pub(super) fn day_en(&self, d: Date) -> String {
        let today = self.now.date();
        if d == today {
            "today".to_owned()
        } else if Some(d) == today.tomorrow().ok() {
            "tomorrow".to_owned()
        } else if d > today && (d - today).get_days() < 7 {
            format!("on {}", date_en(d).split(',').next().unwrap_or_default())
        } else {
            format!("on {}", date_en(d))
        }
    }
}

pub(super) fn minute_of(at: DateTime) -> u16 {
    (at.hour() as u16) * 60 + at.minute() as u16
}

pub(super) fn weekday_short(d: Date, ko: bool) -> &'static str {
    let i = d.weekday().to_monday_zero_offset() as usize;
    if ko {
        ["월", "화", "수", "목", "금", "토", "일"][i]
    } else {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i]
    }
}

pub(super) fn date_ko(d: Date) -> String {
    format!("{}월 {}일 {}요일", d.month(), d.day(), weekday_short(d, true))
}

pub(super) fn date_en(d: Date) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let wd = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        [d.weekday().to_monday_zero_offset() as usize];
    format!("{wd}, {} {}", MONTHS[(d.month() - 1) as usize], d.day())
}

/// "저녁 7시", "오후 1시 20분", "오전 10시".
pub(super) fn time_ko(at: DateTime) -> String {
    let h = at.hour();
    let (part, h12) = match h {
        0..=11 => ("오전", if h == 0 { 12 } else { h }),
        12 => ("낮", 12),
        13..=16 => ("오후", h - 12),
        17..=20 => ("저녁", h - 12),
        _ => ("밤", h - 12),
    };
    if at.minute() == 0 { format!("{part} {h12}시") } else { format!("{part} {h12}시 {}분", at.minute()) }
}

/// "7:00 PM".
pub(super) fn time_en(at: DateTime) -> String {
    let h = at.hour();
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    format!("{h12}:{:02} {}", at.minute(), if h < 12 { "AM" } else { "PM" })
}

/// Seats in order, a run of three or more as a range: "D열 4번부터 7번까지",
/// "F열 7번, 8번" / "row D, seats 4 to 7", "row F, seats 7 and 8".
pub(super) fn seats_spoken(seats: &[String], ko: bool) -> String {
    let mut rows: Vec<(String, Vec<u32>, Vec<String>)> = Vec::new();
    for s in seats {
        let (row, num) = s.split_at(s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len()));
        let i = match rows.iter().position(|r| r.0 == row) {
            Some(i) => i,
            None => {
                rows.push((row.to_owned(), Vec::new(), Vec::new()));
                rows.len() - 1
            }
        };
        match num.parse::<u32>() {
            Ok(n) => rows[i].1.push(n),
            Err(_) => rows[i].2.push(num.to_owned()),
        }
    }
    let parts: Vec<String> = rows
        .into_iter()
        .map(|(row, mut nums, odd)| {
            nums.sort_unstable();
            nums.dedup();
            // Runs of consecutive numbers.
            let mut runs: Vec<(u32, u32)> = Vec::new();
            for n in nums {
                match runs.last_mut() {
                    Some(r) if r.1 + 1 == n => r.1 = n,
                    _ => runs.push((n, n)),
                }
            }
            let mut said: Vec<String> = Vec::new();
            for (a, b) in runs {
                match (b - a, ko) {
                    (0, true) => said.push(format!("{a}번")),
                    (1, true) => said.extend([format!("{a}번"), format!("{b}번")]),
                    (_, true) => said.push(format!("{a}번부터 {b}번까지")),
                    (0, false) => said.push(a.to_string()),
                    (1, false) => said.extend([a.to_string(), b.to_string()]),
                    (_, false) => said.push(format!("{a} to {b}")),
                }
            }
            said.extend(odd);
            if ko {
                format!("{row}열 {}", said.join(", "))
            } else {
                let last = said.pop().unwrap_or_default();
                let list = if said.is_empty() { last } else { format!("{} and {last}", said.join(", ")) };
                format!("row {row}, {} {list}", if seats_one(&list) { "seat" } else { "seats" })
            }
        })
        .collect();
    parts.join(if ko { ", " } else { "; " })
}

/// Whether an English seat list names one seat.
fn seats_one(list: &str) -> bool {
    !list.contains(' ')
}

/// "어른 2명, 어린이 1명, " / "2 adults and 1 child, ".
pub(super) fn party_words(p: Party, ko: bool) -> String {
    match (p.adults, p.children, ko) {
        (Some(a), Some(c), true) if c > 0 => format!("어른 {a}명, 어린이 {c}명, "),
        (Some(a), Some(c), false) if c > 0 => {
            format!("{a} adult{} and {c} child{}, ", if a == 1 { "" } else { "s" }, if c == 1 { "" } else { "ren" })
        }
        (_, _, true) => format!("{}명, ", p.total),
        (_, _, false) => format!("{} {}, ", p.total, if p.total == 1 { "person" } else { "people" }),
    }
}
