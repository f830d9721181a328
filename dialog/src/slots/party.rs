//! Reading the party: counts with their units and roles (어른 둘 아이 하나, 2 adults and a child), companions, relative changes (한 명 더), and who is who by ticket type (성인 2 청소년 1, 경로 둘, 할머니랑 손주 둘, a 14-year-old), with an "아이" of unknown age kept apart so the dialogue can ask.

use super::*;

/// A ticket type as the party names it, plus "a child of unknown age".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Adult,
    Teen,
    Senior,
    Disabled,
    Child,
    /// 아이, 손주, kid: a child or a teen; the dialogue asks which.
    Unsure,
}

impl Kind {
    /// Counted among the adults (the `detail` of the slot evaluation).
    fn adultish(self) -> bool {
        matches!(self, Kind::Adult | Kind::Senior | Kind::Disabled)
    }

    fn of_age(age: u8) -> Kind {
        match age {
            0..=12 => Kind::Child,
            13..=18 => Kind::Teen,
            19..=64 => Kind::Adult,
            _ => Kind::Senior,
        }
    }
}

/// Words naming who someone is, longest first within a kind where one
/// contains another ("경로우대" before "우대"). English words are matched as
/// whole words.
const KINDS: &[(&str, Kind)] = &[
    ("경로우대", Kind::Senior),
    ("경로", Kind::Senior),
    ("노인", Kind::Senior),
    ("시니어", Kind::Senior),
    ("장애인", Kind::Disabled),
    ("복지카드", Kind::Disabled),
    ("우대", Kind::Disabled),
    ("청소년", Kind::Teen),
    ("중학생", Kind::Teen),
    ("고등학생", Kind::Teen),
    ("중딩", Kind::Teen),
    ("고딩", Kind::Teen),
    ("어린이", Kind::Child),
    ("초등학생", Kind::Child),
    ("초딩", Kind::Child),
    ("유치원생", Kind::Child),
    ("유아", Kind::Child),
    ("꼬마", Kind::Child),
    ("아이들", Kind::Unsure),
    ("아이", Kind::Unsure),
    ("애들", Kind::Unsure),
    ("애", Kind::Unsure),
    ("손주들", Kind::Unsure),
    ("손주", Kind::Unsure),
    ("손자", Kind::Unsure),
    ("손녀", Kind::Unsure),
    ("아들", Kind::Unsure),
    ("딸", Kind::Unsure),
    ("자녀", Kind::Unsure),
    ("조카", Kind::Unsure),
    ("학생", Kind::Unsure),
    ("어른", Kind::Adult),
    ("성인", Kind::Adult),
    ("대인", Kind::Adult),
    ("일반", Kind::Adult),
    ("어르신", Kind::Adult),
    ("엄마", Kind::Adult),
    ("아빠", Kind::Adult),
    ("어머니", Kind::Adult),
    ("아버지", Kind::Adult),
    ("할머니", Kind::Adult),
    ("할아버지", Kind::Adult),
    ("seniors", Kind::Senior),
    ("senior", Kind::Senior),
    ("pensioners", Kind::Senior),
    ("pensioner", Kind::Senior),
    ("disabled", Kind::Disabled),
    ("teenagers", Kind::Teen),
    ("teenager", Kind::Teen),
    ("teens", Kind::Teen),
    ("teen", Kind::Teen),
    ("youths", Kind::Teen),
    ("youth", Kind::Teen),
    ("students", Kind::Teen),
    ("student", Kind::Teen),
    ("children", Kind::Child),
    ("child", Kind::Child),
    ("kids", Kind::Unsure),
    ("kid", Kind::Unsure),
    ("grandchildren", Kind::Unsure),
    ("grandchild", Kind::Unsure),
    ("grandkids", Kind::Unsure),
    ("grandkid", Kind::Unsure),
    ("grandsons", Kind::Unsure),
    ("grandson", Kind::Unsure),
    ("granddaughters", Kind::Unsure),
    ("granddaughter", Kind::Unsure),
    ("sons", Kind::Unsure),
    ("son", Kind::Unsure),
    ("daughters", Kind::Unsure),
    ("daughter", Kind::Unsure),
    ("adults", Kind::Adult),
    ("adult", Kind::Adult),
    ("grown-ups", Kind::Adult),
    ("grownups", Kind::Adult),
];

/// Korean native numbers before 살 (열네 살), longest first.
const KO_AGES: &[(&str, u8)] = &[
    ("열아홉", 19),
    ("열여덟", 18),
    ("열일곱", 17),
    ("열여섯", 16),
    ("열다섯", 15),
    ("열네", 14),
    ("열세", 13),
    ("열두", 12),
    ("열한", 11),
    ("스무", 20),
    ("아홉", 9),
    ("여덟", 8),
    ("일곱", 7),
    ("여섯", 6),
    ("다섯", 5),
    ("열", 10),
    ("네", 4),
    ("세", 3),
    ("두", 2),
    ("한", 1),
];

/// The party by ticket type: counts of each (0 when none), and `unsure`,
/// children whose age was not said (a child or a teen ticket: the dialogue
/// asks before holding).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mix {
    /// 성인.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub adult: u8,
    /// 청소년 (13-18).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub teen: u8,
    /// 경로 (65 and over).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub senior: u8,
    /// 우대 (registered disabled, and a companion).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disabled: u8,
    /// 어린이 (under 13).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub child: u8,
    /// A child of unknown age (아이, 손주, kid).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unsure: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl Mix {
    /// Nobody named by type.
    pub fn is_empty(&self) -> bool {
        self.sum() == 0
    }

    /// Everyone counted.
    pub fn sum(&self) -> u8 {
        [self.adult, self.teen, self.senior, self.disabled, self.child, self.unsure]
            .iter()
            .fold(0u8, |a, n| a.saturating_add(*n))
    }

    fn add(&mut self, kind: Kind, n: u8) {
        let slot = match kind {
            Kind::Adult => &mut self.adult,
            Kind::Teen => &mut self.teen,
            Kind::Senior => &mut self.senior,
            Kind::Disabled => &mut self.disabled,
            Kind::Child => &mut self.child,
            Kind::Unsure => &mut self.unsure,
        };
        *slot = slot.saturating_add(n);
    }

    /// The tickets for a party of `total`: the named types, everyone else
    /// adult. `None` while a child's age is unknown, or when nobody was named
    /// by type (then the seat store sells adult tickets).
    pub fn tickets(&self, total: u8) -> Option<booking_tools::Tickets> {
        use booking_tools::TicketType as T;
        if self.is_empty() || self.unsure > 0 {
            return None;
        }
        let rest = total.saturating_sub(self.sum());
        Some(booking_tools::Tickets::from_counts([
            (T::Adult, u32::from(self.adult.saturating_add(rest))),
            (T::Teen, u32::from(self.teen)),
            (T::Senior, u32::from(self.senior)),
            (T::Disabled, u32::from(self.disabled)),
            (T::Child, u32::from(self.child)),
        ]))
    }

    /// The ones whose age is unknown, now known to be `kind`.
    fn settle(mut self, kind: Kind, n: u8) -> Mix {
        let n = n.min(self.unsure);
        self.unsure -= n;
        self.add(kind, n);
        self
    }
}

/// A party count found in the text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Count {
    pub(super) pos: usize,
    pub(super) end: usize,
    pub(super) n: u8,
    pub(super) role: Option<bool>, // Some(true) adults, Some(false) children
    pub(super) kind: Option<Kind>,
    pub(super) more: bool, // "한 명 더", "one more"
}

impl Scan {
    // ---- party ----------------------------------------------------------------------

    /// The kind named by the word ending right before `i` ("성인 2", "경로 둘").
    pub(super) fn kind_before(&self, i: usize) -> Option<Kind> {
        let b = self.back_ws(i);
        KINDS
            .iter()
            .filter(|(w, _)| {
                let n = w.chars().count();
                b >= n
                    && self.c[b - n..b].iter().copied().eq(w.chars())
                    && (!w.is_ascii() || b == n || !self.c[b - n - 1].is_ascii_alphabetic())
            })
            .max_by_key(|(w, _)| w.chars().count())
            .map(|(_, k)| *k)
    }

    /// The English kind word at `j` ("adults", "teens"), with its end.
    fn kind_word_at(&self, j: usize) -> Option<(Kind, usize)> {
        KINDS
            .iter()
            .filter(|(w, _)| w.is_ascii() && self.at(j, w) && self.word_end(j + w.len()))
            .max_by_key(|(w, _)| w.len())
            .map(|(w, k)| (*k, j + w.len()))
    }

    /// Ages said ("열네 살", "14살", "7세", "a 14-year-old", "9 years old"),
    /// consumed so they are not read as counts.
    fn ages(&mut self) -> Vec<(usize, u8, bool)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if self.used[i] || !self.word_start(i) {
                i += 1;
                continue;
            }
            let num = self
                .digits(i)
                .filter(|(v, _)| *v <= 120)
                .map(|(v, e)| (v as u8, e))
                .or_else(|| KO_AGES.iter().find(|(w, _)| self.at(i, w)).map(|(w, n)| (*n, i + w.chars().count())));
            if let Some((age, e)) = num {
                let j = self.skip_ws(e);
                // "세" only after digits ("7세"): "한 세 시쯤" is about three o'clock.
                let digit = self.c[i].is_ascii_digit();
                let ko = (self.at(j, "살") || (digit && self.at(j, "세"))).then_some(j + 1);
                let en = ["-year-old", " year old", " years old", "-years-old", " yo"]
                    .iter()
                    .find(|u| self.at(e, u) && self.word_end(e + u.len()))
                    .map(|u| e + u.len());
                // "세 살" is an age; "세 시" or "세 명" is not.
                if let Some(end) = ko.or(en) {
                    // "a 14-year-old" is a person as well as an age.
                    let b = self.back_ws(i);
                    let counted = en.is_some()
                        && ["a", "an", "one"].iter().any(|w| {
                            let n = w.len();
                            b >= n
                                && self.c[b - n..b].iter().copied().eq(w.chars())
                                && (b == n || !self.c[b - n - 1].is_ascii_alphabetic())
                        });
                    out.push((i, age, counted));
                    self.mark(i, end);
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        out
    }

    pub(super) fn counts(&mut self) -> Vec<Count> {
        let mut out: Vec<Count> = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if self.used[i] || !self.word_start(i) {
                i += 1;
                continue;
            }
            // A number: digits, Korean determiner/bare forms, English words.
            let mut num: Option<(u8, usize, bool)> = None; // (n, end, needs unit)
            if let Some((v, e)) = self.digits(i) {
                if (1..=10).contains(&v) {
                    num = Some((v as u8, e, true));
                }
            } else {
                for (w, n) in KO_BARE {
                    if self.at(i, w) {
                        num = Some((*n, i + w.chars().count(), false));
                        break;
                    }
                }
                if num.is_none() {
                    for (w, n) in KO_DET {
                        if self.at(i, w) {
                            num = Some((*n, i + w.chars().count(), true));
                            break;
                        }
                    }
                }
                if num.is_none() {
                    for (w, n) in EN_NUM {
                        if self.at(i, w) && self.word_end(i + w.len()) {
                            num = Some((*n, i + w.len(), true));
                            break;
                        }
                    }
                }
            }
            let Some((n, e, needs_unit)) = num else {
                i += 1;
                continue;
            };
            // What follows: a unit, a role, "more", or (bare forms) a particle.
            let j = self.skip_ws(e);
            let mut end = e;
            let mut role = None;
            let mut kind = None;
            let mut ok = false;
            let mut more = false;
            let next = self.c.get(e).copied().unwrap_or(' ');
            if let Some(u) = KO_UNITS.iter().find(|u| self.at(j, u)) {
                ok = e == j || e + 1 == j;
                end = j + u.chars().count();
            } else if let Some(u) = EN_UNITS.iter().find(|u| self.at(j, u)) {
                ok = true;
                end = j + u.len();
            } else if let Some((k, ke)) = self.kind_word_at(j) {
                ok = true;
                kind = Some(k);
                role = Some(k.adultish());
                end = ke;
            } else if let Some(r) = ADULT_ROLES.iter().find(|r| r.is_ascii() && self.at(j, r)) {
                ok = true;
                role = Some(true);
                end = j + r.len();
            } else if let Some(r) = CHILD_ROLES.iter().find(|r| r.is_ascii() && self.at(j, r)) {
                ok = true;
                role = Some(false);
                end = j + r.len();
            } else if self.at(j, "more") {
                ok = true;
                more = true;
                end = j + 4;
            } else if !needs_unit {
                // Bare native count: the word must end here or take a particle.
                ok = next == ' ' || "이요하까랑서만뿐에".contains(next);
            } else if self.c[i].is_ascii_digit() && self.kind_before(i).is_some() && !self.c[i - 1].is_ascii_digit() {
                // A bare number after a ticket type: "성인 2 청소년 1", "어른2".
                ok = next == ' ' || "이요하랑명장".contains(next);
            } else if self.c[i].is_ascii_alphabetic() || self.c[i].is_ascii_digit() {
                // English: one adjective between number and unit ("2 premium seats").
                let w = self.word_at(j);
                let k = self.skip_ws(j + w.chars().count());
                if let Some(u) = EN_UNITS.iter().find(|u| self.at(k, u)) {
                    ok = w.chars().all(|c| c.is_ascii_alphabetic());
                    end = k + u.len();
                }
            }
            // "이 세 명" etc. are fine; "하나요?" alone is a verb, not a count.
            if ok && !needs_unit && self.at(i, "하나") && self.at(e, "요") && self.role_before(i).is_none() {
                ok = false;
            }
            if ok {
                if kind.is_none() {
                    kind = self.kind_before(i);
                }
                if role.is_none() {
                    role = self.role_before(i).or(kind.map(Kind::adultish));
                }
                let k = self.skip_ws(end);
                more = more || self.at(k, "더") || self.at(k, "more");
                out.push(Count { pos: i, end, n, role, kind, more });
                self.mark(i, end);
                i = end;
            } else {
                i = e;
            }
        }
        // "for two", "party of four", "make it three", "two of us".
        for lead in ["for", "party of", "family of", "make it", "make that", "table for"] {
            for i in self.find_word(lead) {
                let j = self.skip_ws(i + lead.len());
                let n = self.digits(j).map(|(v, e)| (v as u8, e)).or_else(|| {
                    EN_NUM
                        .iter()
                        .take(10)
                        .find_map(|(w, n)| (self.at(j, w) && self.word_end(j + w.len())).then_some((*n, j + w.len())))
                });
                if let Some((n, e)) = n
                    && (1..=10).contains(&n)
                    && !self.at(self.skip_ws(e), ":")
                {
                    out.push(Count { pos: i, end: e, n, role: None, kind: None, more: false });
                    self.mark(i, e);
                }
            }
        }
        out
    }

    /// A role word (adult or child) right before `i`.
    pub(super) fn role_before(&self, i: usize) -> Option<bool> {
        let b = self.back_ws(i);
        let ends = |w: &str| {
            let n = w.chars().count();
            b >= n && self.c[b - n..b].iter().copied().eq(w.chars())
        };
        if ADULT_ROLES.iter().any(|w| ends(w)) {
            Some(true)
        } else if CHILD_ROLES.iter().any(|w| ends(w)) {
            Some(false)
        } else {
            None
        }
    }

    /// A last-row wish (맨 뒷줄, 제일 뒤, the back row), not one being taken back.
    pub(super) fn last_row(&self) -> bool {
        let joined: String = self.c.iter().collect();
        let compact: String = joined.chars().filter(|c| *c != ' ').collect();
        ["맨뒷줄", "맨뒤", "제일뒤", "가장뒤", "마지막줄", "lastrow", "backrow", "veryback"].iter().any(|w| {
            compact.match_indices(w).any(|(i, _)| {
                let after = &compact[i + w.len()..];
                !["말고", "아니고", "빼고", "싫", "말구", "notthe"]
                    .iter()
                    .any(|neg| after.trim_start_matches(['줄', '자', '리', '쪽', '은', '는', '에']).starts_with(neg))
            })
        })
    }

    pub(super) fn party(&mut self, prior: &Slots) -> Option<Party> {
        let ages = self.ages();
        let mut counts = self.counts();
        for (pos, age, _) in ages.iter().filter(|a| a.2) {
            let kind = Kind::of_age(*age);
            counts.push(Count {
                pos: *pos,
                end: *pos,
                n: 1,
                role: Some(kind.adultish()),
                kind: Some(kind),
                more: false,
            });
        }
        let ages: Vec<u8> = ages.iter().filter(|a| !a.2).map(|a| a.1).collect();
        let joined: String = self.c.iter().collect();
        let base = self.head_count(&counts, prior, &joined);
        let prior_party = prior.party.filter(|p| p.tickets.unsure > 0);
        // An answer to "어린이인가요, 청소년인가요?": only types of children
        // (or ages), for the ones whose age was unknown.
        if let Some(pp) = prior_party {
            let named: Vec<Kind> = self.kinds_named(&joined);
            let kid = |k: &Kind| matches!(k, Kind::Child | Kind::Teen);
            let about_kids = if named.is_empty() { !ages.is_empty() } else { named.iter().all(kid) };
            if about_kids && counts.iter().all(|c| c.kind.is_none_or(|k| kid(&k))) {
                let mut mix = pp.tickets;
                for c in &counts {
                    if let Some(k) = c.kind {
                        mix = mix.settle(k, c.n);
                    }
                }
                for age in &ages {
                    mix = mix.settle(Kind::of_age(*age), 1);
                }
                // "어린이요", "둘 다 청소년이에요": the rest are of the type named last.
                if let Some(k) = named.last() {
                    mix = mix.settle(*k, mix.unsure);
                }
                return Some(Party { tickets: mix, ..pp });
            }
        }
        let mut p = base?;
        if let Some(more) = counts.iter().find(|c| c.more) {
            // "한 명 더", "one more child": the mix so far plus the one(s) added.
            if let Some(pp) = prior.party.filter(|pp| !pp.tickets.is_empty()) {
                let mut mix = pp.tickets;
                let kind = more.kind.unwrap_or(if more.role == Some(false) { Kind::Unsure } else { Kind::Adult });
                mix.add(kind, more.n);
                p.tickets = if mix.sum() == p.total { mix } else { Mix::default() };
            }
            return Some(p);
        }
        // Who is who: the types named with counts, the people counted without
        // one (the speaker, companions) as adults, the rest of the children unsure.
        let mut mix = Mix::default();
        let (mut adults_named, mut kids_named) = (0u8, 0u8);
        for c in counts.iter().filter(|c| !c.more) {
            if let Some(k) = c.kind {
                mix.add(k, c.n);
                if k.adultish() {
                    adults_named = adults_named.saturating_add(c.n);
                } else {
                    kids_named = kids_named.saturating_add(c.n);
                }
            }
        }
        if let (Some(a), Some(ch)) = (p.adults, p.children) {
            mix.add(Kind::Adult, a.saturating_sub(adults_named));
            mix.add(Kind::Unsure, ch.saturating_sub(kids_named));
        } else if mix.is_empty() {
            // "두 명, 경로로요": one type named for everyone.
            let named = self.kinds_named(&joined);
            if let [k] = named.as_slice()
                && *k != Kind::Unsure
                && counts.len() == 1
            {
                mix.add(*k, p.total);
            }
        }
        // Ages said alongside settle the children of unknown age, in order.
        for age in &ages {
            if mix.unsure > 0 {
                mix = mix.settle(Kind::of_age(*age), 1);
            }
        }
        if mix.sum() > p.total {
            mix = Mix::default();
        }
        p.tickets = mix;
        Some(p)
    }

    /// Every kind word in the text, in order (whole words for English;
    /// "경로우대" is one senior, not also a disabled).
    fn kinds_named(&self, joined: &str) -> Vec<Kind> {
        let mut found: Vec<(usize, usize, Kind)> = Vec::new();
        for (w, k) in KINDS {
            for (i, _) in joined.match_indices(w) {
                let end = i + w.len();
                if w.is_ascii()
                    && (joined[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphabetic())
                        || joined[end..].chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
                {
                    continue;
                }
                if found.iter().any(|(a, b, _)| i < *b && *a < end) {
                    continue;
                }
                found.push((i, end, *k));
            }
        }
        found.sort_by_key(|f| f.0);
        found.into_iter().map(|f| f.2).collect()
    }

    /// How many, and adults and children when roles were named.
    fn head_count(&self, counts: &[Count], prior: &Slots, joined: &str) -> Option<Party> {
        let has = |w: &str| joined.contains(w);
        let words: Vec<&str> = joined.split(' ').collect();
        let self_ko = words.iter().any(|w| {
            ["저", "제가", "저까지", "저도", "저요", "저랑", "저와", "저하고", "나", "나랑"].contains(w)
                || (w.starts_with('저') && w.chars().count() <= 3 && !w.starts_with("저녁") && !w.starts_with("저희"))
        }) || has("데리고");
        let self_en = words.iter().any(|w| ["me", "i", "myself"].contains(w));
        let companions = COMPANIONS.iter().filter(|c| has(c)).count() as u8;
        let child_words = CHILD_ROLES.iter().any(|c| has(c));
        let roles: Vec<&Count> = counts.iter().filter(|c| c.role.is_some()).collect();
        let party = |total: u8, adults: Option<u8>, children: Option<u8>| Party {
            total,
            adults,
            children,
            tickets: Mix::default(),
        };
        if let Some(more) = counts.iter().rev().find(|c| c.more) {
            let prior = prior.party;
            let base = prior.map_or(1, |p| p.total);
            let mut p = party(base.saturating_add(more.n).min(10), None, None);
            if let Some(pp) = prior {
                p.adults = pp.adults.map(|a| a.saturating_add(if more.role == Some(false) { 0 } else { more.n }));
                p.children = pp.children.map(|c| c.saturating_add(if more.role == Some(false) { more.n } else { 0 }));
            }
            return Some(p);
        }
        if !roles.is_empty() {
            let sum =
                |adult: bool| roles.iter().filter(|c| c.role == Some(adult)).fold(0u8, |a, c| a.saturating_add(c.n));
            let (mut adults, children) = (sum(true), sum(false));
            if (self_ko || self_en) && adults == 0 {
                adults = 1;
            }
            // Companions named without a count ("아내와 아이 하나").
            adults = adults.saturating_add(
                COMPANIONS
                    .iter()
                    .filter(|c| has(c) && !ADULT_ROLES.contains(c) && !roles.iter().any(|r| self.names(r, c)))
                    .count() as u8,
            );
            let total = adults.saturating_add(children).clamp(1, 10);
            return Some(party(total, Some(adults), Some(children)));
        }
        if let Some(c) = counts.last() {
            let mut n = c.n;
            // "친구 세 명이랑 같이" counts the friends; the speaker comes too.
            let before: String = self.c[..self.back_ws(c.pos)].iter().collect();
            let after: String = self.c[c.end..].iter().collect();
            if (before.ends_with("친구") || before.ends_with("friends"))
                && (after.starts_with("이랑") || after.starts_with("랑") || after.starts_with("하고") || has("같이"))
            {
                n += 1;
            }
            return Some(party(n.clamp(1, 10), None, None));
        }
        if has("혼자") || has("just me") || has("only me") || has("alone") || has("by myself") {
            return Some(party(1, None, None));
        }
        if has("부부") || has("couple") {
            return Some(party(2, None, None));
        }
        if companions > 0 && (self_ko || self_en) && !child_words {
            return Some(party(companions.saturating_add(1).min(10), None, None));
        }
        None
    }

    /// Whether count `c` is of the companion word `w` ("할머니 둘").
    fn names(&self, c: &Count, w: &str) -> bool {
        let b = self.back_ws(c.pos);
        let n = w.chars().count();
        b >= n && self.c[b - n..b].iter().copied().eq(w.chars())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn read(t: &str) -> Option<Party> {
        Scan::new(t).party(&Slots::default())
    }

    fn mix(t: &str) -> Mix {
        read(t).map(|p| p.tickets).unwrap_or_default()
    }

    fn m(adult: u8, teen: u8, senior: u8, child: u8, unsure: u8) -> Mix {
        Mix { adult, teen, senior, disabled: 0, child, unsure }
    }

    #[test]
    fn every_way_of_naming_a_party_becomes_ticket_types() {
        assert_eq!(mix("성인 2 청소년 1"), m(2, 1, 0, 0, 0));
        assert_eq!(read("성인 2 청소년 1").unwrap().total, 3);
        assert_eq!(mix("경로 둘"), m(0, 0, 2, 0, 0));
        assert_eq!(mix("경로우대 두 명"), m(0, 0, 2, 0, 0));
        assert_eq!(mix("어른 둘 애 하나"), m(2, 0, 0, 0, 1));
        assert_eq!(mix("어른 두 장 어린이 한 장이요"), m(2, 0, 0, 1, 0));
        assert_eq!(mix("two adults and a child"), m(2, 0, 0, 1, 0));
        assert_eq!(mix("2 adults and 2 teens"), m(2, 2, 0, 0, 0));
        assert_eq!(mix("할머니랑 손주 둘"), m(1, 0, 0, 0, 2));
        assert_eq!(read("할머니랑 손주 둘").unwrap().total, 3);
        assert_eq!(mix("저랑 손자 둘이요"), m(1, 0, 0, 0, 2));
        assert_eq!(mix("할아버지 할머니 그리고 손자 하나"), m(2, 0, 0, 0, 1));
        assert_eq!(read("부부 둘이요").map(|p| p.total), Some(2));
        assert_eq!(read("a couple").map(|p| p.total), Some(2));
        // Nobody named by type: no mix (the store sells adult tickets).
        assert!(mix("세 명이요").is_empty());
        assert_eq!(mix("세 명이요").tickets(3), None);
        // A type for everyone.
        assert_eq!(mix("두 명 경로로요"), m(0, 0, 2, 0, 0));
    }

    #[test]
    fn ages_decide_child_or_teen() {
        assert_eq!(mix("열네 살 손주 하나랑 저"), m(1, 1, 0, 0, 0));
        assert_eq!(mix("어른 하나 아이 하나 14살"), m(1, 1, 0, 0, 0));
        assert_eq!(mix("어른 하나 아이 하나 일곱 살"), m(1, 0, 0, 1, 0));
        // An age is not a count.
        assert_eq!(read("어른 하나 아이 하나 일곱 살").unwrap().total, 2);
    }

    #[test]
    fn an_answer_about_the_childrens_age_settles_the_unsure_ones() {
        let prior = Slots { party: read("어른 둘 아이 하나"), ..Slots::default() };
        assert_eq!(prior.party.unwrap().tickets.unsure, 1);
        let answer = |t: &str| Scan::new(t).party(&prior).unwrap();
        assert_eq!(answer("어린이요").tickets, m(2, 0, 0, 1, 0));
        assert_eq!(answer("청소년이에요").tickets, m(2, 1, 0, 0, 0));
        assert_eq!(answer("열네 살이에요").tickets, m(2, 1, 0, 0, 0));
        assert_eq!(answer("a child").tickets, m(2, 0, 0, 1, 0));
        assert_eq!(answer("어린이요").total, 3);
        let prior = Slots { party: read("할머니랑 손주 둘"), ..Slots::default() };
        let answer = |t: &str| Scan::new(t).party(&prior).unwrap();
        assert_eq!(answer("둘 다 어린이에요").tickets, m(1, 0, 0, 2, 0));
        assert_eq!(answer("어린이 하나 청소년 하나").tickets, m(1, 1, 0, 1, 0));
        assert_eq!(answer("어린이 하나 청소년 하나").total, 3);
    }

    #[test]
    fn tickets_fill_the_rest_with_adults() {
        use booking_tools::TicketType as T;
        let t = m(0, 1, 0, 1, 0).tickets(3).unwrap();
        assert_eq!((t.get(T::Adult), t.get(T::Teen), t.get(T::Child)), (1, 1, 1));
        assert_eq!(m(2, 0, 0, 0, 1).tickets(3), None, "ask first");
    }

    #[test]
    fn last_row_wishes() {
        assert!(Scan::new("맨 뒷줄로 주세요").last_row());
        assert!(Scan::new("맨뒷줄").last_row());
        assert!(Scan::new("the back row please").last_row());
        assert!(!Scan::new("뒤쪽으로요").last_row());
        assert!(!Scan::new("맨 뒷줄 말고 가운데").last_row());
    }
}
