//! Best-available seat selection: a pure function of a layout and which seats
//! are taken. It proposes seats; it never holds them (the caller does, and a
//! race lost at that point is an ordinary `seats_unavailable`).

use crate::domain::{Layout, SeatClass, SeatId};

/// Penalty that makes a block leaving a single orphan seat lose to any block
/// that leaves none (used only when nothing else fits).
const ORPHAN_PENALTY: f64 = 1000.0;
/// Weight of the distance from the preferred row, against the distance from
/// the centre line (1.0 per seat width).
const ROW_WEIGHT: f64 = 0.5;
/// The preferred row, as a fraction of the way from the screen to the back.
const PREFERRED_ROW: f64 = 0.6;

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
    if n == 0 {
        return None;
    }
    let centre = layout.centre();
    let rows = layout.rows();
    let preferred = (rows.len().saturating_sub(1)) as f64 * PREFERRED_ROW;
    let mut best: Option<(f64, Vec<SeatId>)> = None;
    for (r, row) in rows.iter().enumerate() {
        // Segments: maximal runs of seats between aisle gaps.
        for segment in row.split(|p| p.is_none()) {
            let seats: Vec<_> = segment.iter().flatten().collect();
            let free: Vec<bool> = seats.iter().map(|s| !is_taken(&s.id)).collect();
            if seats.len() < n {
                continue;
            }
            for start in 0..=seats.len() - n {
                let window = &seats[start..start + n];
                if !free[start..start + n].iter().all(|f| *f) {
                    continue;
                }
                if class.is_some_and(|c| window.iter().any(|s| s.class != c)) {
                    continue;
                }
                let left_free = free[..start].iter().rev().take_while(|f| **f).count();
                let right_free = free[start + n..].iter().take_while(|f| **f).count();
                let orphan = left_free == 1 || right_free == 1;
                let mid = (window[0].column + window[n - 1].column) as f64 / 2.0;
                let score = (mid - centre).abs()
                    + ROW_WEIGHT * (r as f64 - preferred).abs()
                    + if orphan { ORPHAN_PENALTY } else { 0.0 };
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
}
