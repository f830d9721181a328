//! Reading the party: counts with their units and roles (어른 둘 아이 하나, 2 adults and a child), companions, and relative changes (한 명 더).

use super::*;

/// A party count found in the text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Count {
    pub(super) pos: usize,
    pub(super) end: usize,
    pub(super) n: u8,
    pub(super) role: Option<bool>, // Some(true) adults, Some(false) children
    pub(super) more: bool,         // "한 명 더", "one more"
}

impl Scan {
    // ---- party ----------------------------------------------------------------------

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
            let mut ok = false;
            let mut more = false;
            if let Some(u) = KO_UNITS.iter().find(|u| self.at(j, u)) {
                ok = e == j || e + 1 == j;
                end = j + u.chars().count();
            } else if let Some(u) = EN_UNITS.iter().find(|u| self.at(j, u)) {
                ok = true;
                end = j + u.len();
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
                let next = self.c.get(e).copied().unwrap_or(' ');
                ok = next == ' ' || "이요하까랑서만뿐에".contains(next);
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
                if role.is_none() {
                    role = self.role_before(i);
                }
                let k = self.skip_ws(end);
                more = more || self.at(k, "더") || self.at(k, "more");
                out.push(Count { pos: i, end, n, role, more });
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
                    out.push(Count { pos: i, end: e, n, role: None, more: false });
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

    pub(super) fn party(&mut self, prior: &Slots) -> Option<Party> {
        let joined: String = self.c.iter().collect();
        let counts = self.counts();
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
        if let Some(more) = counts.iter().rev().find(|c| c.more) {
            let base = prior.party.map_or(1, |p| p.total);
            return Some(Party { total: base.saturating_add(more.n).min(10), adults: None, children: None });
        }
        if !roles.is_empty() {
            let sum =
                |adult: bool| roles.iter().filter(|c| c.role == Some(adult)).fold(0u8, |a, c| a.saturating_add(c.n));
            let (mut adults, children) = (sum(true), sum(false));
            if (self_ko || self_en) && adults == 0 {
                adults = 1;
            }
            // Companions named without a count ("아내와 아이 하나").
            adults =
                adults.saturating_add(COMPANIONS.iter().filter(|c| has(c) && !ADULT_ROLES.contains(c)).count() as u8);
            let total = adults.saturating_add(children).clamp(1, 10);
            return Some(Party { total, adults: Some(adults), children: Some(children) });
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
            return Some(Party { total: n.clamp(1, 10), adults: None, children: None });
        }
        if has("혼자") || has("just me") || has("only me") || has("alone") || has("by myself") {
            return Some(Party { total: 1, adults: None, children: None });
        }
        if has("부부") || has("couple") {
            return Some(Party { total: 2, adults: None, children: None });
        }
        if companions > 0 && (self_ko || self_en) && !child_words {
            return Some(Party { total: companions.saturating_add(1).min(10), adults: None, children: None });
        }
        None
    }
}
