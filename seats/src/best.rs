//! Best-available seat selection: a pure function of a layout and which seats
//! are taken. It proposes seats; it never holds them (the caller does, and a
//! race lost at that point is an ordinary `seats_unavailable`).
//!
//! A [`Wish`] says how many seats, of which class, how many of them must be
//! wheelchair spaces (a wheelchair user's companions sit beside them in seats
//! of the wished class) and where in the room ([`Placement`]). A placement is
//! a preference, never a reason to fail: while any adjacent block of the
//! wished seats is free, one is proposed.

use crate::domain::{Layout, SeatClass, SeatId};

/// Penalty that makes a block leaving a single orphan seat lose to any block
/// that leaves none (used only when nothing else fits).
const ORPHAN_PENALTY: f64 = 1000.0;
/// Weight of the distance from the preferred row, against the distance from
/// the centre line (1.0 per seat width), when no placement is wished.
const ROW_WEIGHT: f64 = 0.5;
/// The preferred row, as a fraction of the way from the screen to the back.
const PREFERRED_ROW: f64 = 0.6;
/// Weight of the row distance when a front, middle or back placement is
/// wished: a row nearer the wish beats two seats nearer the centre line.
const WISHED_ROW_WEIGHT: f64 = 2.0;
/// Weight of the row distance for "the last row": any block in it beats any
/// block elsewhere, even one that leaves no orphan seat (rows are far
/// narrower than this, and the wish was said out loud).
const LAST_ROW_WEIGHT: f64 = 5000.0;
/// Penalty of a block that does not touch an aisle when an aisle is wished.
const AISLE_PENALTY: f64 = 50.0;

/// Where in the room the seats should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Near the screen (앞쪽, 스크린 가까이), not the very first row.
    Front,
    /// The middle rows (가운데).
    Middle,
    /// Far from the screen (뒤쪽, 스크린에서 멀리).
    Back,
    /// The last row (맨 뒷줄).
    LastRow,
    /// Next to an aisle (통로 쪽).
    Aisle,
}

impl Placement {
    /// The preferred row (as a fraction of the way from the screen to the
    /// back) and the weight of the distance from it.
    fn row(self) -> (f64, f64) {
        match self {
            Placement::Front => (0.15, WISHED_ROW_WEIGHT),
            Placement::Middle => (0.5, WISHED_ROW_WEIGHT),
            Placement::Back => (0.85, WISHED_ROW_WEIGHT),
            Placement::LastRow => (1.0, LAST_ROW_WEIGHT),
            Placement::Aisle => (PREFERRED_ROW, ROW_WEIGHT),
        }
    }
}

/// What best-available looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wish {
    /// How many seats in all, side by side.
    pub n: usize,
    /// The class of the seats (`None`: any). With `wheelchair` > 0 it is the
    /// class of the companions' seats, standard unless premium is named.
    pub class: Option<SeatClass>,
    /// How many of the `n` must be wheelchair spaces (0: none asked for).
    pub wheelchair: usize,
    /// Where in the room, if wished.
    pub placement: Option<Placement>,
}

impl Wish {
    /// `n` seats of `class`, no placement (the plain best-available).
    pub fn seats(n: usize, class: Option<SeatClass>) -> Wish {
        Wish { n, class, wheelchair: 0, placement: None }
    }

    /// Whether `window` (adjacent seats) is made of the wished classes.
    fn fits(&self, window: &[&crate::domain::Seat]) -> bool {
        if self.wheelchair == 0 {
            return self.class.is_none_or(|c| window.iter().all(|s| s.class == c));
        }
        let companions = match self.class {
            Some(SeatClass::Premium) => SeatClass::Premium,
            _ => SeatClass::Standard,
        };
        let spaces = window.iter().filter(|s| s.class == SeatClass::Wheelchair).count();
        let others_ok = window.iter().filter(|s| s.class != SeatClass::Wheelchair).all(|s| s.class == companions);
        spaces == self.wheelchair && others_ok
    }
}

/// Picks `n` adjacent free seats in one row (an aisle breaks adjacency), all
/// of `class` if given, closest to the screen's centre line and then to the
/// preferred row, avoiding blocks that would leave a single free seat
/// stranded between the block and a taken seat, aisle or row end.
/// Returns `None` when no block fits.
pub fn best_available(
    layout: &Layout,
    is_taken: impl Fn(&SeatId) -> bool,
    n: usize,
    class: Option<SeatClass>,
) -> Option<Vec<SeatId>> {
    best_for(layout, is_taken, &Wish::seats(n, class))
}

/// Picks the adjacent free seats of `wish` in one row (an aisle breaks
/// adjacency): the block nearest the wished placement (by default the
/// preferred row) and the screen's centre line, avoiding blocks that would
/// leave a single free seat stranded between the block and a taken seat,
/// aisle or row end. Returns `None` only when no free block of the wished
/// classes exists anywhere.
pub fn best_for(layout: &Layout, is_taken: impl Fn(&SeatId) -> bool, wish: &Wish) -> Option<Vec<SeatId>> {
    let n = wish.n;
    if n == 0 || wish.wheelchair > n {
        return None;
    }
    let centre = layout.centre();
    let rows = layout.rows();
    let last = rows.len().saturating_sub(1) as f64;
    let (fraction, row_weight) = wish.placement.map_or((PREFERRED_ROW, ROW_WEIGHT), Placement::row);
    let preferred = last * fraction;
    let mut best: Option<(f64, Vec<SeatId>)> = None;
    for (r, row) in rows.iter().enumerate() {
        // Segments: maximal runs of seats between aisle gaps.
        let segments: Vec<&[Option<crate::domain::Seat>]> = row.split(|p| p.is_none()).collect();
        let count = segments.len();
        for (k, segment) in segments.into_iter().enumerate() {
            let seats: Vec<_> = segment.iter().flatten().collect();
            let free: Vec<bool> = seats.iter().map(|s| !is_taken(&s.id)).collect();
            if seats.len() < n {
                continue;
            }
            for start in 0..=seats.len() - n {
                let window = &seats[start..start + n];
                if !free[start..start + n].iter().all(|f| *f) || !wish.fits(window) {
                    continue;
                }
                let left_free = free[..start].iter().rev().take_while(|f| **f).count();
                let right_free = free[start + n..].iter().take_while(|f| **f).count();
                let orphan = left_free == 1 || right_free == 1;
                // An aisle is a gap between segments, not the row's wall.
                let at_aisle = (start == 0 && k > 0) || (start + n == seats.len() && k + 1 < count);
                let aisle = wish.placement == Some(Placement::Aisle) && !at_aisle;
                let mid = (window[0].column + window[n - 1].column) as f64 / 2.0;
                let score = (mid - centre).abs()
                    + row_weight * (r as f64 - preferred).abs()
                    + if orphan { ORPHAN_PENALTY } else { 0.0 }
                    + if aisle { AISLE_PENALTY } else { 0.0 };
                if best.as_ref().is_none_or(|(b, _)| score < *b) {
                    best = Some((score, window.iter().map(|s| s.id.clone()).collect()));
                }
            }
        }
    }
    best.map(|(_, seats)| seats)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::RowSpec;

    fn layout(rows: &[(char, &str)]) -> Layout {
        Layout::new(&rows.iter().map(|(r, s)| RowSpec { row: *r, seats: (*s).into() }).collect::<Vec<_>>()).unwrap()
    }

    fn ids(v: &[&str]) -> Vec<SeatId> {
        v.iter().map(|s| SeatId::parse(s).unwrap()).collect()
    }

    #[test]
    fn picks_the_centre_block_of_one_row() {
        let l = layout(&[('A', "SSSSSSSS")]);
        assert_eq!(best_available(&l, |_| false, 2, None).unwrap(), ids(&["A4", "A5"]));
    }

    #[test]
    fn aisles_break_adjacency() {
        let l = layout(&[('A', "SS_SS")]);
        assert_eq!(best_available(&l, |_| false, 3, None), None);
        assert_eq!(best_available(&l, |_| false, 2, None).unwrap().len(), 2);
    }

    #[test]
    fn avoids_leaving_a_single_orphan_seat() {
        // A1 taken; the free run is A2..A5. Two seats at A2-A3 would strand
        // nothing, at A3-A4 would strand A2 and A5, so the centre loses.
        let l = layout(&[('A', "SSSSS")]);
        let taken = ids(&["A1"]);
        let got = best_available(&l, |s| taken.contains(s), 2, None).unwrap();
        assert!(got == ids(&["A2", "A3"]) || got == ids(&["A4", "A5"]), "{got:?}");
    }

    #[test]
    fn respects_the_seat_class_and_full_rows() {
        let l = layout(&[('A', "SSSS"), ('B', "PPPP")]);
        // B2-B3 would strand B1 and B4; a block at the row's end strands nobody.
        assert_eq!(best_available(&l, |_| false, 2, Some(SeatClass::Premium)).unwrap(), ids(&["B1", "B2"]));
        let all_b = ids(&["B1", "B2", "B3", "B4"]);
        assert_eq!(best_available(&l, |s| all_b.contains(s), 1, Some(SeatClass::Premium)), None);
    }
    /// Ten rows like the demo's large screen: aisles, a premium block in the
    /// middle of F-H, wheelchair spaces at both ends of the last row.
    fn big() -> Layout {
        let mut rows: Vec<(char, &str)> = Vec::new();
        for r in 'A'..='J' {
            rows.push((
                r,
                match r {
                    'F' | 'G' | 'H' => "SSSS_PPPPPPPPPP_SSSS",
                    'J' => "WWSS_SSSSSSSSSS_SSWW",
                    _ => "SSSS_SSSSSSSSSS_SSSS",
                },
            ));
        }
        layout(&rows)
    }

    fn wish(n: usize, class: Option<SeatClass>, wheelchair: usize, placement: Option<Placement>) -> Wish {
        Wish { n, class, wheelchair, placement }
    }

    fn row_of(seats: &[SeatId]) -> Vec<char> {
        let mut rows: Vec<char> = seats.iter().map(|s| s.as_str().chars().next().unwrap()).collect();
        rows.dedup();
        rows
    }

    #[test]
    fn the_plain_wish_is_the_old_best_available() {
        let l = big();
        for (n, class) in [(2, None), (3, Some(SeatClass::Standard)), (4, Some(SeatClass::Premium))] {
            assert_eq!(best_for(&l, |_| false, &Wish::seats(n, class)), best_available(&l, |_| false, n, class));
        }
        // Standard by default in the caller's wish: never the premium block.
        let got = best_for(&l, |_| false, &Wish::seats(3, Some(SeatClass::Standard))).unwrap();
        assert_ne!(row_of(&got), ['F']);
        assert_ne!(row_of(&got), ['G']);
        assert_ne!(row_of(&got), ['H']);
    }

    #[test]
    fn placements_move_the_block_to_the_wished_rows() {
        let l = big();
        let std = Some(SeatClass::Standard);
        let at = |p| row_of(&best_for(&l, |_| false, &wish(2, std, 0, Some(p))).unwrap());
        assert_eq!(at(Placement::LastRow), ['J']);
        assert_eq!(at(Placement::Front), ['B']);
        assert_eq!(at(Placement::Back), ['I']);
        assert_eq!(at(Placement::Middle), ['E']);
        // The last row full in the middle: still the last row (a side block).
        let middle_j: Vec<SeatId> = (5..=14).map(|n| SeatId::parse(&format!("J{n}")).unwrap()).collect();
        let got = best_for(&l, |s| middle_j.contains(s), &wish(2, std, 0, Some(Placement::LastRow))).unwrap();
        assert_eq!(row_of(&got), ['J'], "{got:?}");
        // Two taken in the middle of the last row: three more still go there,
        // even if that strands a seat.
        let pair = ids(&["J9", "J10"]);
        let got = best_for(&l, |s| pair.contains(s), &wish(3, std, 0, Some(Placement::LastRow))).unwrap();
        assert_eq!(row_of(&got), ['J'], "{got:?}");
        // The last row all taken: a wish, not a refusal.
        let got = best_for(&l, |s| s.as_str().starts_with('J'), &wish(2, std, 0, Some(Placement::LastRow))).unwrap();
        assert_eq!(row_of(&got), ['I'], "{got:?}");
    }

    #[test]
    fn an_aisle_wish_takes_a_block_beside_an_aisle() {
        let l = big();
        let got = best_for(&l, |_| false, &wish(2, Some(SeatClass::Standard), 0, Some(Placement::Aisle))).unwrap();
        let seats: Vec<&str> = got.iter().map(SeatId::as_str).collect();
        // Seat 4 and 5, 14 and 15 border an aisle (numbers skip the gaps).
        let beside = |s: &&str| ["4", "5", "14", "15"].iter().any(|n| s.ends_with(n) && s.len() == 1 + n.len());
        assert!(seats.iter().any(beside), "{seats:?}");
    }

    #[test]
    fn a_wheelchair_user_sits_beside_a_companion() {
        let l = big();
        let got = best_for(&l, |_| false, &wish(2, None, 1, None)).unwrap();
        let classes: Vec<SeatClass> = got.iter().map(|s| l.seat(s.as_str()).unwrap().class).collect();
        assert_eq!(classes.iter().filter(|c| **c == SeatClass::Wheelchair).count(), 1, "{got:?}");
        assert_eq!(classes.iter().filter(|c| **c == SeatClass::Standard).count(), 1, "{got:?}");
        assert!(got == ids(&["J2", "J3"]) || got == ids(&["J16", "J17"]), "adjacent: {got:?}");
        // A screen whose wheelchair spaces stand alone at the row ends.
        let small = layout(&[('A', "SSS_SSSS_SSS"), ('B', "WSS_SSSS_SSW")]);
        let got = best_for(&small, |_| false, &wish(2, Some(SeatClass::Standard), 1, None)).unwrap();
        assert!(got == ids(&["B1", "B2"]) || got == ids(&["B9", "B10"]), "{got:?}");
        // Two wheelchair users and a companion.
        let got = best_for(&l, |_| false, &wish(3, None, 2, None)).unwrap();
        assert!(got == ids(&["J1", "J2", "J3"]) || got == ids(&["J16", "J17", "J18"]), "{got:?}");
        // Every space taken: no fit.
        let taken = ids(&["B1", "B10"]);
        assert_eq!(best_for(&small, |s| taken.contains(s), &wish(2, None, 1, None)), None);
    }
}
