//! One round of a turn: the reply being built, and what a new user message does (acts, slots, search, choice, hold).

use super::*;

pub(super) struct Round<'a> {
    pub(super) ko: bool,
    pub(super) now: &'a Zoned,
    pub(super) lex: &'a Lexicon,
    pub(super) state: State,
    pub(super) text: String,
    pub(super) speech: String,
    pub(super) suggestions: Vec<Suggestion>,
    pub(super) calls: Vec<ToolCall>,
}

impl<'a> Round<'a> {
    pub(super) fn new(input: &Input<'a>) -> Round<'a> {
        Round {
            ko: input.korean,
            now: input.now,
            lex: input.lexicon,
            state: input.state.clone(),
            text: String::new(),
            speech: String::new(),
            suggestions: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// Adds a sentence (the same for text and speech).
    pub(super) fn say(&mut self, ko: &str, en: &str) {
        let s = if self.ko { ko } else { en };
        self.both(s, s);
    }

    pub(super) fn both(&mut self, text: &str, speech: &str) {
        let speech = speakable(speech);
        for (buf, s) in [(&mut self.text, text), (&mut self.speech, speech.as_str())] {
            if s.is_empty() {
                continue;
            }
            if !buf.is_empty() {
                buf.push(' ');
            }
            buf.push_str(s);
        }
    }

    pub(super) fn call(&mut self, call: ToolCall) {
        self.calls.push(call);
    }

    pub(super) fn suggest(&mut self, label: &str, text: &str) {
        self.suggestions.push(Suggestion { label: label.to_owned(), text: text.to_owned(), showtime_id: None });
    }

    pub(super) fn yes_no(&mut self) {
        if self.ko {
            self.suggest("네, 예매할게요", "네");
            self.suggest("아니요", "아니요");
        } else {
            self.suggest("Yes, book it", "yes");
            self.suggest("No", "no");
        }
    }

    pub(super) fn finish(mut self, continuation: bool) -> Output {
        let said = Said { text: self.text.clone(), speech: self.speech.clone(), suggestions: self.suggestions.clone() };
        self.state.last = match (continuation, self.state.last.take()) {
            (true, Some(prev)) if !said.text.is_empty() => Some(Said {
                text: format!("{} {}", prev.text, said.text).trim().to_owned(),
                speech: format!("{} {}", prev.speech, said.speech).trim().to_owned(),
                suggestions: said.suggestions,
            }),
            (true, Some(prev)) => Some(Said { suggestions: said.suggestions, ..prev }),
            _ => Some(said),
        };
        Output {
            text: self.text,
            speech: self.speech,
            suggestions: self.suggestions,
            calls: self.calls,
            state: self.state,
        }
    }

    // ---- a new message ----------------------------------------------------------

    pub(super) fn message(&mut self, input: &Input<'_>) {
        let u = slots::extract(input.text, self.lex, self.now, &self.state.slots);
        if u.act == Some(Act::Repeat) {
            return self.repeat();
        }
        if u.list_bookings {
            self.state.cancel_lookup = u.act == Some(Act::Cancel);
            self.say("예매 내역을 확인해 볼게요.", "Let me look up your bookings.");
            self.call(ToolCall::ListBookings);
            return;
        }
        // Consent: while seats are held, only a clear yes to the read-back
        // confirms; a hesitation, a question or anything unclear is answered
        // from the hold and asked again (booking_tools::consent, the rule the
        // gateway also enforces).
        let reply = booking_tools::consent::classify(input.text);
        if self.state.stage == Stage::Held
            && self.state.hold.is_some()
            && (u.slots.is_empty() || matches!(reply, Reply::Hesitant | Reply::Question))
            && reply != Reply::Yes
            && !matches!(u.act, Some(Act::Cancel | Act::Extend | Act::Correct))
            && reply != Reply::No
        {
            return self.ask_again(input.text, reply);
        }
        if self.state.stage == Stage::Held && reply == Reply::Yes && u.slots.is_empty() && self.yes() {
            return;
        }
        match u.act {
            Some(Act::Cancel) => return self.cancel(),
            Some(Act::Extend) => return self.extend(),
            Some(Act::Yes) if (self.state.stage != Stage::Held || reply == Reply::Yes) && self.yes() => return,
            Some(Act::No) if self.no() => return,
            _ => {}
        }
        if self.state.stage == Stage::Booked || self.state.stage == Stage::CancelAsk {
            // A new booking after a finished one starts from fresh slots.
            self.state.stage = Stage::Idle;
            self.state.slots = Slots::default();
            self.state.offers.clear();
            self.state.chosen = None;
        }
        let before = self.state.slots.clone();
        let mut new = u.slots.clone();
        // A correction to an ambiguous clock time uses the offered showtimes.
        if let Some(TimeSpec::Around(_)) = new.time {
            new.time = self.resolve_around(new.time);
        }
        self.state.slots.merge(&new);
        let search_changed = new.movie.is_some() && new.movie != before.movie
            || new.date.is_some() && new.date != before.date
            || new.theater.is_some() && new.theater != before.theater
            || new.time.is_some() && new.time != before.time;
        let seats_changed =
            new.party.is_some() && new.party != before.party || new.class.is_some() && new.class != before.class;

        // Discovery: find what is showing then, recommend, offer.
        // (Naming a movie or a party size makes it a booking instead.)
        if input.discovery
            && !self.state.active()
            && (new.date.is_some() || new.time.is_some())
            && new.movie.is_none()
            && new.party.is_none()
        {
            self.state.discover = true;
            return self.search();
        }
        // A pick among the offers (a tapped suggestion, an ordinal, or slots naming one).
        if let Some(o) = self.pick(input.text, &u) {
            if self.state.hold.as_ref().is_some_and(|h| h.showtime != o.id) {
                self.replace_later();
            }
            self.state.chosen = Some(o);
            return self.after_choice();
        }
        if let Some(id) = input.screen_showtime
            && self.state.chosen.is_none()
            && (u.booking || new.party.is_some())
        {
            self.state.chosen = Some(Offer {
                id: id.to_owned(),
                movie: String::new(),
                title: String::new(),
                title_ko: None,
                theater: String::new(),
                screen: String::new(),
                at: DateTime::default(),
            });
            return self.after_choice();
        }
        if search_changed || (!self.state.active() && (u.booking || !new.is_empty())) {
            self.replace_later();
            self.state.chosen = None;
            return self.search();
        }
        if seats_changed && self.state.chosen.is_some() {
            self.replace_later();
            return self.after_choice();
        }
        self.reprompt();
    }

    pub(super) fn repeat(&mut self) {
        match self.state.last.clone() {
            Some(last) if !last.text.is_empty() => {
                self.say("다시 말씀드릴게요.", "Here it is again.");
                self.both(&last.text, &last.speech);
                self.suggestions = last.suggestions;
            }
            _ => self.say(
                "아직 드린 말씀이 없어요. 보고 싶은 영화와 날짜를 말씀해 주세요.",
                "I have not said anything yet. Tell me which movie and day you would like.",
            ),
        }
    }

    pub(super) fn cancel(&mut self) {
        if self.state.hold.is_none() {
            self.state.hold = self.state.replaced.take();
        }
        if self.state.hold.is_some() {
            self.release();
            self.state = State { booking: self.state.booking.clone(), ..State::default() };
            self.say(
                "알겠습니다. 예매를 멈추고 잡아 두었던 좌석을 풀어 드릴게요.",
                "All right. I am stopping the booking and giving the held seats back.",
            );
            return;
        }
        if let Some(b) = self.state.booking.clone()
            && matches!(self.state.stage, Stage::Booked | Stage::Idle | Stage::CancelAsk)
        {
            self.state.stage = Stage::CancelAsk;
            let what = self.describe_booking(&b);
            if self.ko {
                self.both(&format!("{what} 예매를 취소할까요?"), &format!("{what} 예매를 취소할까요?"));
                self.suggest("네, 취소할게요", "네");
                self.suggest("아니요", "아니요");
            } else {
                self.both(
                    &format!("Shall I cancel your booking for {what}?"),
                    &format!("Shall I cancel your booking for {what}?"),
                );
                self.suggest("Yes, cancel it", "yes");
                self.suggest("No", "no");
            }
            return;
        }
        if !self.state.active() {
            self.state.cancel_lookup = true;
            self.say("취소할 예매를 찾아볼게요.", "Let me find the booking to cancel.");
            self.call(ToolCall::ListBookings);
            return;
        }
        self.state = State { booking: self.state.booking.clone(), ..State::default() };
        self.say(
            "알겠습니다. 예매를 그만할게요. 다른 영화가 보고 싶으시면 언제든 말씀해 주세요.",
            "All right, I have stopped the booking. Tell me any time if you would like another movie.",
        );
    }

    pub(super) fn extend(&mut self) {
        match self.state.hold.clone() {
            Some(h) => {
                self.say("좌석을 조금 더 잡아 둘게요.", "I will keep your seats a little longer.");
                self.call(ToolCall::ExtendHold(HoldRef { showtime_id: h.showtime, hold_id: h.id }));
            }
            None => {
                self.say("지금 잡아 둔 좌석이 없어서 연장할 것이 없어요.", "There is no seat hold to extend right now.")
            }
        }
    }

    /// Handles a yes; false when yes means nothing here (then slots are read).
    pub(super) fn yes(&mut self) -> bool {
        match self.state.stage {
            Stage::Held => {
                let Some(h) = self.state.hold.clone() else { return false };
                self.say("네, 예매를 확정할게요.", "Great, I am confirming your booking.");
                self.call(ToolCall::ConfirmBooking(HoldRef { showtime_id: h.showtime, hold_id: h.id }));
                true
            }
            Stage::CancelAsk => {
                let Some(b) = self.state.booking.clone() else { return false };
                self.say("네, 예매를 취소할게요.", "All right, I am cancelling the booking.");
                self.call(ToolCall::CancelBooking(BookingRef { booking_id: b.id }));
                true
            }
            Stage::Rehold => {
                self.after_choice();
                true
            }
            Stage::Offered if self.state.offers.len() == 1 => {
                self.state.chosen = self.state.offers.first().cloned();
                self.after_choice();
                true
            }
            _ => false,
        }
    }

    pub(super) fn no(&mut self) -> bool {
        match self.state.stage {
            Stage::Held => {
                self.release();
                self.state.stage = Stage::Offered;
                self.state.chosen = None;
                self.say(
                    "알겠습니다. 잡아 두었던 좌석을 풀어 드릴게요. 다른 시간을 고르시거나, 바꾸실 내용을 말씀해 주세요.",
                    "All right, I am giving those seats back. Pick another time or tell me what to change.",
                );
                self.offer_suggestions();
                true
            }
            Stage::CancelAsk => {
                self.state.stage = Stage::Booked;
                self.say("알겠습니다. 예매는 그대로 두었어요.", "All right, your booking stays as it is.");
                true
            }
            Stage::Rehold => {
                self.state = State { booking: self.state.booking.clone(), ..State::default() };
                self.say(
                    "알겠습니다. 다른 도움이 필요하시면 말씀해 주세요.",
                    "All right. Tell me if I can help with anything else.",
                );
                true
            }
            _ => false,
        }
    }

    pub(super) fn release(&mut self) {
        for h in [self.state.hold.take(), self.state.replaced.take()].into_iter().flatten() {
            self.call(ToolCall::ReleaseHold(HoldRef { showtime_id: h.showtime, hold_id: h.id }));
        }
    }

    /// Keeps the current hold aside until a new one is held (see `held`).
    pub(super) fn replace_later(&mut self) {
        if let Some(h) = self.state.hold.take() {
            self.state.replaced.get_or_insert(h);
        }
    }

    /// A reply to the read-back that is not a clear yes: answer from the hold
    /// and ask again.
    pub(super) fn ask_again(&mut self, text: &str, reply: Reply) {
        let amount = self.state.hold.as_ref().map_or(0, |h| h.amount);
        let price = ["얼마", "가격", "how much", "price", "cost"].iter().any(|w| text.to_lowercase().contains(w));
        let won = text::won(amount);
        match reply {
            Reply::Question if price => {
                self.say(&format!("모두 {won}원이에요."), &format!("It is {won} won in total."))
            }
            Reply::Question => self.say("지금 잡아 둔 예매를 다시 말씀드릴게요.", "Here is the booking I am holding."),
            Reply::Hesitant => self.say(
                "네, 천천히 정하세요. 좌석은 잡아 두고 있어요.",
                "Of course, take your time. The seats stay held.",
            ),
            _ => self.say("확실히 하려고 다시 여쭐게요.", "Just to be sure, here it is again."),
        }
        self.read_back();
    }

    pub(super) fn search(&mut self) {
        let s = &self.state.slots;
        let mut args = FindShowtimes { movie_id: s.movie.clone(), theater_id: s.theater.clone(), ..Default::default() };
        if let Some(d) = s.date {
            args.date = Some(d.to_string());
        } else if s.time.is_some() || self.state.discover {
            args.date = Some(self.now.date().to_string());
        }
        self.state.stage = Stage::Searching;
        self.state.offers.clear();
        self.state.chosen = None;
        let when = self.when_words();
        // Said on screen only: the answer follows in the same turn, and a
        // voice reading both would say the day twice.
        if self.ko {
            self.both(&format!("{when}상영 시간을 찾아볼게요."), "");
        } else {
            self.both(&format!("Let me look up the showtimes{when}."), "");
        }
        self.call(ToolCall::FindShowtimes(args));
    }

    /// "11월 28일 토요일 " / " for Saturday, Nov 28".
    pub(super) fn when_words(&self) -> String {
        match self.state.slots.date {
            Some(d) if self.ko => format!("{} ", self.day_ko(d)),
            Some(d) => format!(" for {}", self.day_en(d).trim_start_matches("on ")),
            None => String::new(),
        }
    }

    /// Picks one offered showtime from the message, if it names exactly one.
    pub(super) fn pick(&self, text: &str, u: &Utterance) -> Option<Offer> {
        let offers = &self.state.offers;
        if offers.is_empty() {
            return None;
        }
        let t = text.trim();
        if let Some(o) = offers.iter().find(|o| self.offer_text(o) == t || o.id == t) {
            return Some(o.clone());
        }
        if let Some(n) = u.ordinal {
            let i = if n < 0 { offers.len().checked_sub(1)? } else { usize::try_from(n).ok()? };
            return offers.get(i).cloned();
        }
        let s = &u.slots;
        if s.movie.is_none() && s.time.is_none() && s.theater.is_none() && s.date.is_none() {
            return None;
        }
        let fit: Vec<&Offer> = offers
            .iter()
            .filter(|o| s.movie.as_ref().is_none_or(|m| *m == o.movie))
            .filter(|o| s.theater.as_ref().is_none_or(|t| *t == o.theater))
            .filter(|o| s.date.is_none_or(|d| d == o.at.date()))
            .filter(|o| s.time.is_none_or(|t| t.fits(minute_of(o.at))))
            .collect();
        let fit = prefer_pm(fit, s.time);
        (fit.len() == 1).then(|| fit[0].clone())
    }

    /// An ambiguous clock time matched against the offers: the one that exists.
    pub(super) fn resolve_around(&self, t: Option<TimeSpec>) -> Option<TimeSpec> {
        let Some(TimeSpec::Around(m)) = t else { return t };
        let am = self.state.offers.iter().any(|o| minute_of(o.at) == m);
        let pm = self.state.offers.iter().any(|o| minute_of(o.at) == m + 12 * 60);
        match (am, pm) {
            (true, false) => Some(TimeSpec::At(m)),
            (_, true) => Some(TimeSpec::At(m + 12 * 60)),
            _ => t,
        }
    }

    /// With a showtime chosen: hold seats, or ask how many.
    pub(super) fn after_choice(&mut self) {
        let Some(o) = self.state.chosen.clone() else { return self.reprompt() };
        match self.state.slots.party {
            Some(p) if p.tickets.unsure > 0 => {
                // A child of unknown age: a child's or a teen's ticket? Ask before holding.
                self.state.stage = Stage::Chosen;
                let many = p.tickets.unsure > 1;
                if self.ko {
                    let who = if many { "아이들은" } else { "아이는" };
                    let t =
                        format!("{who} 어린이인가요, 청소년인가요? 열두 살까지는 어린이, 열세 살부터 청소년이에요.");
                    self.both(&t, &t);
                    let (c, t) =
                        if many { ("모두 어린이", "모두 청소년") } else { ("어린이", "청소년") };
                    self.suggest(c, &format!("{c}요"));
                    self.suggest(t, &format!("{t}이에요"));
                } else {
                    let who = if many { "Are the children" } else { "Is the child" };
                    let t = format!("{who} under 13, or 13 to 18? Child and teen tickets differ.");
                    self.both(&t, &t);
                    if many {
                        self.suggest("All under 13", "all children");
                        self.suggest("All 13 to 18", "all teens");
                    } else {
                        self.suggest("Under 13", "a child");
                        self.suggest("13 to 18", "a teen");
                    }
                }
            }
            Some(p) => {
                let label = if o.title.is_empty() { String::new() } else { self.offer_speech(&o) };
                if self.ko {
                    let t = format!("{label} 상영으로 {}석을 잡아 볼게요.", p.total).trim().to_owned();
                    self.both(&t, &t);
                } else {
                    let t = format!("I will hold {} seats for {label}.", p.total).replace(" for .", ".");
                    self.both(&t, &t);
                }
                // Standard unless premium or wheelchair was asked for; a
                // wheelchair user's companions sit beside them.
                let class = self.state.slots.class.unwrap_or(SeatClass::Standard);
                let mut args = HoldBestAvailable::new(&o.id, u32::from(p.total.clamp(1, 10)), Some(class));
                args.position = self.state.slots.position.map(|p| match p {
                    Position::Front => SeatPosition::Front,
                    Position::Middle => SeatPosition::Middle,
                    Position::Back => SeatPosition::Back,
                    Position::LastRow => SeatPosition::LastRow,
                    Position::Aisle => SeatPosition::Aisle,
                });
                if class == SeatClass::Wheelchair {
                    args.wheelchair = Some(1);
                }
                args.tickets = p.tickets.tickets(p.total);
                self.state.stage = Stage::Chosen;
                self.call(ToolCall::HoldBestAvailable(args));
            }
            None => {
                self.state.stage = Stage::Chosen;
                let label = self.offer_speech(&o);
                if self.ko {
                    let t = format!(
                        "{label} 상영이요. 몇 분이 보실 건가요? 어른과 어린이가 함께라면 '어른 둘 어린이 하나'처럼 말씀해 주세요."
                    );
                    let s = format!("{label} 상영이요. 몇 분이 보시나요? 어른 둘 어린이 하나처럼 말씀해 주세요.");
                    self.both(&t, &s);
                    for n in 1..=4 {
                        self.suggest(&format!("{n}명"), &format!("{n}명"));
                    }
                } else {
                    let t = format!("{label}. How many people are going?");
                    self.both(&t, &t);
                    for n in 1..=4 {
                        let w = ["one", "two", "three", "four"][n - 1];
                        self.suggest(&format!("{n}"), &format!("{w} tickets"));
                    }
                }
            }
        }
    }

    /// Asks again for what the current stage needs.
    pub(super) fn reprompt(&mut self) {
        match self.state.stage {
            Stage::Held => {
                self.say(
                    "잡아 둔 좌석으로 예매를 확정할까요? '네' 또는 '아니요'로 말씀해 주세요.",
                    "Shall I confirm the booking for the held seats? Please say yes or no.",
                );
                self.yes_no();
            }
            Stage::Chosen => self.after_choice(),
            Stage::Offered => {
                self.say(
                    "말씀드린 상영 시간 중에서 번호로 골라 주세요.",
                    "Please pick one of the showtimes by number.",
                );
                self.offer_suggestions();
            }
            Stage::CancelAsk => {
                self.say(
                    "예매를 취소할까요? '네' 또는 '아니요'로 말씀해 주세요.",
                    "Shall I cancel the booking? Please say yes or no.",
                );
            }
            _ => self.say(
                "어떤 영화를 언제 보고 싶으신지 말씀해 주세요. 예를 들어 '토요일 저녁 7시 두 명'처럼요.",
                "Tell me which movie and when you would like to go, for example 'Saturday at 7pm for two'.",
            ),
        }
    }
}

/// Speech without what a voice cannot say: quotes and brackets (an
/// apostrophe inside a word, "I'd", stays).
pub(super) fn speakable(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, ch) in c.iter().enumerate() {
        let inside = |j: Option<usize>| j.and_then(|j| c.get(j)).is_some_and(|x| x.is_ascii_alphabetic());
        match ch {
            '"' | '“' | '”' | '‘' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '%' => {}
            '\'' | '’' if !(inside(i.checked_sub(1)) && inside(Some(i + 1))) => {}
            _ => out.push(*ch),
        }
    }
    out
}
