//! What the results of the tools the dialogue asked for do to the conversation, and the showtimes they offer.

use super::*;

impl Round<'_> {
    // ---- tool results -------------------------------------------------------------

    pub(super) fn results(&mut self, input: &Input<'_>) {
        for r in input.tool_results {
            let output = match &r.outcome {
                Ok(output) => output,
                Err(e) => {
                    self.failed(r.tool, &e.error);
                    continue;
                }
            };
            match (r.tool, output) {
                (Tool::FindShowtimes, ToolOutput::Showtimes(list)) => {
                    self.showtimes(list, input.recommended.as_deref())
                }
                (Tool::HoldBestAvailable | Tool::ExtendHold, ToolOutput::Hold(h)) => {
                    self.held(h, r.tool == Tool::ExtendHold)
                }
                // The release of a replaced hold leaves the new one in place.
                (Tool::ReleaseHold, _) => self.released(),
                (Tool::ConfirmBooking, ToolOutput::Booking(b)) => self.booked(b),
                (Tool::CancelBooking, _) => {
                    self.state.booking = None;
                    self.state.stage = Stage::Idle;
                    self.say(
                        "예매를 취소했어요. 결제하신 금액은 환불돼요.",
                        "Your booking is cancelled and will be refunded.",
                    );
                }
                (Tool::ListBookings, ToolOutput::Bookings(list)) => self.bookings(list),
                _ => {}
            }
        }
    }

    /// A release came back: the release of a replaced hold leaves the new one in place.
    fn released(&mut self) {
        if self.state.replaced.take().is_none() {
            self.state.hold = None;
        }
    }

    pub(super) fn showtimes(&mut self, result: &Showtimes, recommended: Option<&[String]>) {
        let all = parse_showtimes(result);
        let mut fit = fitting(&all, &self.state.slots, self.now);
        if self.state.discover {
            self.state.discover = false;
            if let Some(rec) = recommended {
                let mut ordered = Vec::new();
                for m in rec {
                    ordered.extend(fit.iter().filter(|o| o.movie == *m).take(2).cloned());
                }
                if !ordered.is_empty() {
                    fit = ordered;
                }
            }
            return self.offer(fit, true);
        }
        if fit.is_empty() {
            // Relax the time (then the theater) and say so.
            let mut relaxed = self.state.slots.clone();
            relaxed.time = None;
            let mut alt = fitting(&all, &relaxed, self.now);
            if alt.is_empty() {
                relaxed.theater = None;
                alt = fitting(&all, &relaxed, self.now);
            }
            if alt.is_empty() {
                self.state.stage = Stage::Idle;
                self.say(
                    "죄송해요, 말씀하신 조건으로는 예매할 수 있는 상영이 없어요. 다른 날짜나 영화를 말씀해 주세요.",
                    "Sorry, there is no showtime I can book for that. Please tell me another day or movie.",
                );
                return;
            }
            self.say(
                "말씀하신 시간에는 상영이 없어요. 대신 이런 시간이 있어요.",
                "There is no showing at that time. These are close alternatives.",
            );
            return self.offer(alt, false);
        }
        let exact_time = matches!(self.state.slots.time, Some(TimeSpec::At(_) | TimeSpec::Around(_)));
        if fit.len() == 1 && exact_time {
            self.state.chosen = fit.first().cloned();
            self.state.offers = fit;
            return self.after_choice();
        }
        self.offer(fit, false)
    }

    /// Offers showtimes as quick replies and waits for a pick.
    pub(super) fn offer(&mut self, list: Vec<Offer>, discovery: bool) {
        self.state.offers = list.into_iter().take(MAX_OFFERS).collect();
        self.state.stage = Stage::Offered;
        if self.state.offers.len() == 1 && !discovery {
            let o = self.state.offers[0].clone();
            let s = self.offer_speech(&o);
            if self.ko {
                let t = format!("{s} 상영이 있어요. 이걸로 할까요?");
                self.both(&t, &t);
            } else {
                let t = format!("There is {s}. Shall I take that one?");
                self.both(&t, &t);
            }
        } else if discovery {
            let s = self.offers_spoken();
            if self.ko {
                self.both("이 중에서 보고 싶은 상영을 고르시면 좌석을 잡아 드릴게요.", &s);
            } else {
                self.both("Pick one of these showings and I will hold seats for you.", &s);
            }
        } else {
            let s = self.offers_spoken();
            if self.ko {
                self.both("예매할 수 있는 상영 시간이에요. 원하시는 것을 골라 주세요.", &s);
            } else {
                self.both("Here are the showtimes you can book. Please pick one.", &s);
            }
        }
        self.offer_suggestions();
    }

    /// The offers read aloud by number, at most three: the day (and the
    /// title, the theater) said once when they share it. "내일 매트릭스 상영이
    /// 세 개 있어요. 첫 번째 오후 1시 20분, 두 번째 …. 몇 번째로 할까요?"
    fn offers_spoken(&self) -> String {
        let offers: Vec<&Offer> = self.state.offers.iter().take(3).collect();
        let Some(first) = offers.first() else { return String::new() };
        let same = |f: &dyn Fn(&Offer) -> String| offers.iter().all(|o| f(o) == f(first));
        let one_day = same(&|o| o.at.date().to_string());
        let one_title = same(&|o| o.movie.clone());
        let one_theater = same(&|o| o.theater.clone());
        let more = self.state.offers.len() > offers.len();
        let items: Vec<String> = offers
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let mut parts: Vec<String> = Vec::new();
                parts.push(if self.ko {
                    ["첫 번째", "두 번째", "세 번째"][i].to_owned()
                } else {
                    ["First", "second", "third"][i].to_owned()
                });
                if !one_day {
                    parts.push(if self.ko { self.day_ko(o.at.date()) } else { self.day_en(o.at.date()) });
                }
                parts.push(if self.ko { time_ko(o.at) } else { time_en(o.at) });
                if !one_title {
                    parts.push(self.title(o));
                }
                if !one_theater {
                    let t = self.theater_name(&o.theater);
                    parts.push(if self.ko { t } else { format!("at {t}") });
                }
                parts.join(" ")
            })
            .collect();
        let mut head: Vec<String> = Vec::new();
        if one_day {
            head.push(if self.ko { self.day_ko(first.at.date()) } else { self.day_en(first.at.date()) });
        }
        if one_title {
            head.push(self.title(first));
        }
        let n = self.state.offers.len();
        if self.ko {
            let count = ["", "한", "두", "세", "네"].get(n).copied().unwrap_or("여러");
            let lead = format!("{} 상영이 {count} 개 있어요.", head.join(" ")).trim().to_owned();
            let tail = if more { " 나머지는 화면에 있어요." } else { "" };
            format!("{lead} {}.{tail} 몇 번째로 할까요?", items.join(", "))
        } else {
            let what = if one_title { format!(" of {}", self.title(first)) } else { String::new() };
            let when = if one_day { format!(" {}", self.day_en(first.at.date())) } else { String::new() };
            let tail = if more { " The rest are on screen." } else { "" };
            format!("There are {n} showings{what}{when}. {}.{tail} Which one?", items.join("; "))
        }
    }

    pub(super) fn offer_suggestions(&mut self) {
        let offers = self.state.offers.clone();
        for o in &offers {
            self.suggestions.push(Suggestion {
                label: self.offer_label(o),
                text: self.offer_text(o),
                showtime_id: Some(o.id.clone()),
            });
        }
    }

    pub(super) fn held(&mut self, result: &booking_tools::Hold, extended: bool) {
        let hold_id = result.hold_id.as_str();
        if hold_id.is_empty() {
            return self.say("좌석을 잡지 못했어요. 다시 시도해 주세요.", "I could not hold seats. Please try again.");
        }
        // A result without a price (0) keeps the price this hold was read back with.
        let amount = Some(u64::from(result.amount))
            .filter(|a| *a > 0)
            .or_else(|| self.state.hold.as_ref().filter(|h| h.id == hold_id).map(|h| h.amount))
            .unwrap_or(0);
        // The store's lines and tickets; a result without them (an extend
        // from an older gateway) keeps those the hold was read back with.
        let before = self.state.hold.as_ref().filter(|h| h.id == hold_id);
        let lines = if result.lines.is_empty() {
            before.map(|h| h.lines.clone()).unwrap_or_default()
        } else {
            result.lines.clone()
        };
        let tickets = if result.tickets.is_empty() {
            before.map(|h| h.tickets.clone()).unwrap_or_default()
        } else {
            result.tickets.clone()
        };
        self.state.hold = Some(HoldInfo {
            id: hold_id.to_owned(),
            showtime: result.showtime.clone(),
            seats: result.seats.clone(),
            amount,
            lines,
            tickets,
        });
        self.state.stage = Stage::Held;
        // The new hold stands: now the one it replaces is given back.
        if let Some(old) = self.state.replaced.clone() {
            if old.id == hold_id {
                self.state.replaced = None;
            } else {
                self.call(ToolCall::ReleaseHold(HoldRef { showtime_id: old.showtime, hold_id: old.id }));
            }
        }
        if extended {
            self.say("좌석을 10분 더 잡아 두었어요.", "Your seats are held for another 10 minutes.");
        }
        self.read_back();
    }

    /// Movie, time, theater, seats with their class, tickets by type and the
    /// store's total; then the yes/no question.
    pub(super) fn read_back(&mut self) {
        let Some(h) = self.state.hold.clone() else { return };
        let o = self.state.chosen.clone().filter(|o| o.id == h.showtime);
        let seats_text = h.seats.join(", ");
        let seats_speech = seats_spoken(&h.seats, self.ko);
        let who = self.tickets_words(&h);
        let won = text::won(h.amount);
        let what = o.as_ref().map(|o| self.offer_speech(o)).unwrap_or_default();
        // The class is always named (standard is the default, never silent premium).
        let class = classes_words(&h, self.state.slots.class.unwrap_or(SeatClass::Standard), self.ko);
        if self.ko {
            let head = if what.is_empty() { String::new() } else { format!("{what}, ") };
            let t = format!("{head}{class} {seats_text}, {who}모두 {won}원입니다. 이대로 예매를 확정할까요?");
            let s = format!("{head}{class} {seats_speech}, {who}모두 {won}원이에요. 예매할까요?");
            self.both(&t, &s);
            self.both("좌석은 10분 동안 잡아 둘게요.", "");
            self.yes_no();
            self.suggest("시간 연장", "연장");
        } else {
            let head = if what.is_empty() { String::new() } else { format!("{what}: ") };
            let t = format!("{head}{class} {seats_text}, {who}{won} won in total. Shall I confirm the booking?");
            let s = format!("{head}{class} {seats_speech}, {who}{won} won in total. Shall I book it?");
            self.both(&t, &s);
            self.both("I will keep the seats for 10 minutes.", "");
            self.yes_no();
            self.suggest("More time", "extend");
        }
    }

    /// "성인 2명, 어린이 1명, ": the store's tickets of the hold (the party's
    /// words when the result named none).
    fn tickets_words(&self, h: &HoldInfo) -> String {
        let mut tickets = h.tickets.clone();
        if tickets.is_empty() && !h.lines.is_empty() {
            tickets = booking_tools::Tickets::from_counts(h.lines.iter().map(|l| (l.ticket, 1)));
        }
        if tickets.is_empty() {
            return self.state.slots.party.map(|p| party_words(p, self.ko)).unwrap_or_default();
        }
        let parts: Vec<String> = tickets
            .iter()
            .map(|(t, n)| if self.ko { format!("{} {n}명", ticket_ko(t)) } else { ticket_en(t, n) })
            .collect();
        if self.ko { format!("{}, ", parts.join(" ")) } else { format!("{}, ", parts.join(" and ")) }
    }

    pub(super) fn booked(&mut self, result: &booking_tools::Booking) {
        let id = result.booking_id.clone();
        let b = booking_info(result);
        let what = self.describe_booking(&b);
        self.state.booking = Some(b);
        self.state.hold = None;
        self.state.stage = Stage::Booked;
        if self.ko {
            self.both(
                &format!("예매가 완료되었어요. {what}, 예매 번호 {id}. 즐거운 관람 되세요!"),
                &format!("예매가 완료되었어요. {what}. 즐거운 관람 되세요!"),
            );
        } else {
            self.both(
                &format!("Your booking is confirmed: {what}, booking number {id}. Enjoy the movie!"),
                &format!("Your booking is confirmed: {what}. Enjoy the movie!"),
            );
        }
    }

    pub(super) fn describe_booking(&self, b: &BookingInfo) -> String {
        let o = self.state.chosen.clone().filter(|o| o.id == b.showtime);
        let seats = b.seats.join(", ");
        match o {
            Some(o) if self.ko => format!("{} 좌석 {seats}", self.offer_speech(&o)),
            Some(o) => format!("{}, seats {seats}", self.offer_speech(&o)),
            None if self.ko => format!("좌석 {seats}"),
            None => format!("seats {seats}"),
        }
    }

    pub(super) fn bookings(&mut self, result: &booking_tools::Bookings) {
        let list: Vec<&booking_tools::Booking> =
            result.bookings.iter().filter(|b| b.status == Some(BookingStatus::Confirmed)).collect();
        let lookup = std::mem::take(&mut self.state.cancel_lookup);
        let Some(last) = list.last() else {
            return self.say("확정된 예매가 없어요.", "You have no confirmed bookings.");
        };
        let info = booking_info(last);
        self.state.booking = Some(info);
        if lookup {
            self.state.stage = Stage::Booked;
            self.cancel();
        } else if self.ko {
            let t = format!("확정된 예매가 {}건 있어요. 가장 최근 예매는 {}이에요.", list.len(), self.describe_last());
            self.both(&t, &t);
        } else {
            let t = format!("You have {} confirmed bookings. The latest is {}.", list.len(), self.describe_last());
            self.both(&t, &t);
        }
    }

    pub(super) fn describe_last(&self) -> String {
        self.state.booking.as_ref().map(|b| self.describe_booking(b)).unwrap_or_default()
    }

    pub(super) fn failed(&mut self, tool: Tool, code: &str) {
        let code = if code.is_empty() { "error" } else { code };
        match (tool, code) {
            (_, "hold_expired") | (_, "hold_not_found") if self.state.hold.is_some() => {
                self.state.hold = None;
                self.state.stage = Stage::Rehold;
                self.say(
                    "잡아 두었던 시간이 지나서 좌석이 풀렸어요. 같은 상영으로 다시 좌석을 잡아 드릴까요?",
                    "The hold ran out and the seats were released. Shall I hold seats for the same showing again?",
                );
                if self.ko {
                    self.suggest("네, 다시 잡아 주세요", "네");
                    self.suggest("아니요", "아니요");
                } else {
                    self.suggest("Yes, hold again", "yes");
                    self.suggest("No", "no");
                }
            }
            (Tool::ExtendHold, "extend_limit") => {
                self.say(
                    "좌석은 더 이상 연장할 수 없어요. 지금 예매를 확정하시겠어요?",
                    "The hold cannot be extended any further. Would you like to confirm the booking now?",
                );
                self.yes_no();
            }
            (Tool::HoldBestAvailable, "seats_unavailable") if self.state.retries < HOLD_RETRIES => {
                self.state.retries += 1;
                self.after_choice();
            }
            (Tool::HoldBestAvailable, "age_restricted") => {
                // An adults-only film with children or teens in the party.
                let chosen = self.state.chosen.take();
                let movie = chosen.as_ref().map(|c| c.movie.clone());
                self.state.offers.retain(|o| Some(&o.movie) != movie.as_ref());
                self.state.slots.movie = None;
                self.say(
                    "죄송해요, 이 영화는 청소년관람불가라서 어린이나 청소년은 함께 볼 수 없어요. 가족이 함께 볼 수 있는 다른 영화를 말씀해 주세요.",
                    "Sorry, this film is for adults only, so children and teens cannot see it. Tell me another film the whole family can see.",
                );
                self.state.stage = if self.state.offers.is_empty() { Stage::Idle } else { Stage::Offered };
                self.offer_suggestions();
                self.keep_replaced();
            }
            (Tool::HoldBestAvailable, "ticket_not_offered") => {
                let chosen = self.state.chosen.take();
                self.state.offers.retain(|o| Some(&o.id) != chosen.as_ref().map(|c| &c.id));
                self.say(
                    "죄송해요, 이 상영에는 말씀하신 관람객의 요금이 없어요. 다른 상영을 골라 주세요.",
                    "Sorry, this showing does not sell that kind of ticket. Please pick another showing.",
                );
                self.state.stage = if self.state.offers.is_empty() { Stage::Idle } else { Stage::Offered };
                self.offer_suggestions();
                self.keep_replaced();
            }
            (Tool::HoldBestAvailable, "no_fit" | "seats_unavailable") => {
                let n = self.state.slots.party.map_or(1, |p| p.total);
                let chosen = self.state.chosen.take();
                self.state.offers.retain(|o| Some(&o.id) != chosen.as_ref().map(|c| &c.id));
                if self.ko {
                    let t = format!(
                        "죄송해요, 그 상영에는 {n}분이 나란히 앉을 자리가 남아 있지 않아요. 다른 시간을 고르시거나 인원을 바꿔 말씀해 주세요."
                    );
                    self.both(&t, &t);
                } else {
                    let t = format!(
                        "Sorry, that showing has no {n} seats together left. Pick another time or change the number of people."
                    );
                    self.both(&t, &t);
                }
                self.state.stage = if self.state.offers.is_empty() { Stage::Idle } else { Stage::Offered };
                self.offer_suggestions();
                self.keep_replaced();
            }
            (Tool::ReleaseHold, _) => self.released(),
            (Tool::CancelBooking, _) => {
                self.state.stage = Stage::Booked;
                self.say(
                    "예매를 취소하지 못했어요. 잠시 후 다시 말씀해 주세요.",
                    "I could not cancel the booking. Please try again shortly.",
                );
            }
            _ => {
                self.say(
                    "죄송해요, 요청을 처리하지 못했어요. 잠시 후 다시 말씀해 주시거나 다른 시간을 골라 주세요.",
                    "Sorry, that did not go through. Please try again shortly or pick another time.",
                );
                if self.state.stage == Stage::Searching {
                    self.state.stage = Stage::Idle;
                }
            }
        }
    }
}

impl Round<'_> {
    /// A correction that could not be held keeps the seats held before.
    fn keep_replaced(&mut self) {
        if let Some(old) = self.state.replaced.take() {
            self.state.hold = Some(old);
            self.state.stage = Stage::Held;
            self.say("앞서 잡아 둔 좌석은 그대로 있어요.", "The seats held before are still yours.");
            self.read_back();
        }
    }
}

/// "일반석", or "휠체어석 1석과 일반석 1석" for a hold of mixed classes (from the
/// store's lines; `asked` when the result named none).
fn classes_words(h: &HoldInfo, asked: SeatClass, ko: bool) -> String {
    let name = |c: SeatClass, n: usize| match (c, ko) {
        (SeatClass::Standard, true) => "일반석".to_owned(),
        (SeatClass::Premium, true) => "프리미엄석".to_owned(),
        (SeatClass::Wheelchair, true) => "휠체어석".to_owned(),
        (SeatClass::Standard, false) => if n == 1 { "standard seat" } else { "standard seats" }.to_owned(),
        (SeatClass::Premium, false) => if n == 1 { "premium seat" } else { "premium seats" }.to_owned(),
        (SeatClass::Wheelchair, false) => if n == 1 { "wheelchair space" } else { "wheelchair spaces" }.to_owned(),
    };
    let mut by: Vec<(SeatClass, usize)> = Vec::new();
    for l in &h.lines {
        match by.iter_mut().find(|(c, _)| *c == l.class) {
            Some(e) => e.1 += 1,
            None => by.push((l.class, 1)),
        }
    }
    match by.as_slice() {
        [] => name(asked, h.seats.len()),
        [(c, n)] => name(*c, *n),
        _ => {
            // Wheelchair spaces first: they are what was asked for.
            by.sort_by_key(|(c, _)| *c != SeatClass::Wheelchair);
            let parts: Vec<String> = by
                .iter()
                .map(|(c, n)| if ko { format!("{} {n}석", name(*c, *n)) } else { format!("{n} {}", name(*c, *n)) })
                .collect();
            parts.join(if ko { "과 " } else { " and " })
        }
    }
}

/// The Korean name of a ticket type.
pub(super) fn ticket_ko(t: TicketType) -> &'static str {
    match t {
        TicketType::Adult => "성인",
        TicketType::Teen => "청소년",
        TicketType::Senior => "경로",
        TicketType::Disabled => "우대",
        TicketType::Child => "어린이",
    }
}

/// "2 adults", "1 child".
pub(super) fn ticket_en(t: TicketType, n: u32) -> String {
    let (one, many) = match t {
        TicketType::Adult => ("adult", "adults"),
        TicketType::Teen => ("teen", "teens"),
        TicketType::Senior => ("senior", "seniors"),
        TicketType::Disabled => ("disabled ticket", "disabled tickets"),
        TicketType::Child => ("child", "children"),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A booking as the dialogue remembers it.
pub(super) fn booking_info(b: &booking_tools::Booking) -> BookingInfo {
    BookingInfo {
        id: b.booking_id.clone(),
        showtime: b.showtime.clone(),
        seats: b.seats.clone(),
        amount: u64::from(b.amount),
    }
}

/// Showtimes from a `find_showtimes` result (sold-out ones and ones whose
/// start does not parse left out).
pub fn parse_showtimes(result: &Showtimes) -> Vec<Offer> {
    result
        .showtimes
        .iter()
        .filter_map(|s| {
            let at: Zoned = s.starts_at.parse().ok()?;
            if s.free == Some(0) {
                return None;
            }
            Some(Offer {
                id: s.id.clone(),
                movie: s.movie.clone(),
                title: s.title.clone(),
                title_ko: s.title_ko.clone(),
                theater: s.theater.clone(),
                screen: s.screen.clone(),
                at: at.datetime(),
            })
        })
        .collect()
}

/// The showtimes that fit the slots and have not started, by start.
pub(super) fn fitting(all: &[Offer], s: &Slots, now: &Zoned) -> Vec<Offer> {
    let now = now.datetime();
    let fit: Vec<&Offer> = all
        .iter()
        .filter(|o| o.at > now)
        .filter(|o| s.movie.as_ref().is_none_or(|m| *m == o.movie))
        .filter(|o| s.theater.as_ref().is_none_or(|t| *t == o.theater))
        .filter(|o| s.date.is_none_or(|d| d == o.at.date()))
        .filter(|o| s.time.is_none_or(|t| t.fits(minute_of(o.at))))
        .collect();
    let mut out: Vec<Offer> = prefer_pm(fit, s.time).into_iter().cloned().collect();
    out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    out
}

/// For an ambiguous "9시" that fits both 09:00 and 21:00, the afternoon/evening ones.
pub(super) fn prefer_pm(fit: Vec<&Offer>, t: Option<TimeSpec>) -> Vec<&Offer> {
    if let Some(TimeSpec::Around(m)) = t
        && fit.iter().any(|o| minute_of(o.at) == m + 12 * 60)
    {
        return fit.into_iter().filter(|o| minute_of(o.at) != m).collect();
    }
    fit
}
