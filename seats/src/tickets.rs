//! Ticket types, fares and age ratings: what a booking says about *who*
//! sits in each seat, and the prices the store computes from the schedule.
//!
//! A hold or booking names how many tickets of each type it wants
//! ([`Tickets`], `{"adult":2,"child":1}`); the store checks them against the
//! seats, the showtime's [`Fares`] and the movie's [`AgeRating`], gives each
//! seat a ticket ([`assign`]) and prices each [`Line`]. Clients never send a
//! price.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Layout, Prices, SeatClass, SeatId};
use crate::error::SeatError;

/// A ticket type (권종). Serialised snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketType {
    /// 성인: the full price.
    Adult,
    /// 청소년: 13-18 years.
    Teen,
    /// 경로: 65 and over.
    Senior,
    /// 우대: a registered disabled person, and one companion each.
    Disabled,
    /// 어린이: under 13.
    Child,
}

impl TicketType {
    /// Every type, in the order tickets are given to seats.
    pub const ALL: [TicketType; 5] =
        [TicketType::Adult, TicketType::Teen, TicketType::Senior, TicketType::Disabled, TicketType::Child];

    /// The wire name, `adult`.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketType::Adult => "adult",
            TicketType::Teen => "teen",
            TicketType::Senior => "senior",
            TicketType::Disabled => "disabled",
            TicketType::Child => "child",
        }
    }

    /// The Korean label, `성인`.
    pub fn label_ko(self) -> &'static str {
        match self {
            TicketType::Adult => "성인",
            TicketType::Teen => "청소년",
            TicketType::Senior => "경로",
            TicketType::Disabled => "우대",
            TicketType::Child => "어린이",
        }
    }

    /// Whether the ticket is for a minor (refused for 청소년관람불가 films).
    pub fn is_minor(self) -> bool {
        matches!(self, TicketType::Teen | TicketType::Child)
    }
}

/// How many tickets of each type: `{"adult":2,"child":1}`. Types with a
/// count of 0 are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object, example = json!({"adult": 2, "child": 1}))]
pub struct Tickets(BTreeMap<TicketType, u32>);

impl Tickets {
    /// `n` adult tickets.
    pub fn adults(n: usize) -> Tickets {
        Tickets::from_counts([(TicketType::Adult, u32::try_from(n).unwrap_or(u32::MAX))])
    }

    /// From (type, count) pairs; counts of one type add up, zeros are dropped.
    pub fn from_counts(counts: impl IntoIterator<Item = (TicketType, u32)>) -> Tickets {
        let mut m = BTreeMap::new();
        for (t, n) in counts {
            if n > 0 {
                let e: &mut u32 = m.entry(t).or_default();
                *e = e.saturating_add(n);
            }
        }
        Tickets(m)
    }

    /// The count of `t`.
    pub fn get(&self, t: TicketType) -> u32 {
        self.0.get(&t).copied().unwrap_or(0)
    }

    /// How many tickets in all.
    pub fn total(&self) -> u64 {
        self.0.values().map(|n| u64::from(*n)).sum()
    }

    /// The types with a count above 0, with their counts, in type order.
    pub fn iter(&self) -> impl Iterator<Item = (TicketType, u32)> + '_ {
        self.0.iter().filter(|(_, n)| **n > 0).map(|(t, n)| (*t, *n))
    }

    /// Without zero counts.
    pub fn normalised(&self) -> Tickets {
        Tickets::from_counts(self.iter())
    }

    /// Whether there is no ticket.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }
}

/// A movie's age rating (영상물 등급).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
pub enum AgeRating {
    /// 전체관람가: everyone.
    #[default]
    #[serde(rename = "all")]
    All,
    /// 12세이상관람가 (younger with a guardian).
    #[serde(rename = "12")]
    Twelve,
    /// 15세이상관람가 (younger with a guardian).
    #[serde(rename = "15")]
    Fifteen,
    /// 청소년관람불가: adults only (19 and over); no teen or child tickets.
    #[serde(rename = "19")]
    Adults,
}

impl AgeRating {
    /// The wire name: `all`, `12`, `15`, `19`.
    pub fn as_str(self) -> &'static str {
        match self {
            AgeRating::All => "all",
            AgeRating::Twelve => "12",
            AgeRating::Fifteen => "15",
            AgeRating::Adults => "19",
        }
    }

    /// The Korean label, `청소년관람불가`.
    pub fn label_ko(self) -> &'static str {
        match self {
            AgeRating::All => "전체관람가",
            AgeRating::Twelve => "12세이상관람가",
            AgeRating::Fifteen => "15세이상관람가",
            AgeRating::Adults => "청소년관람불가",
        }
    }

    /// Whether a ticket of type `t` may be sold for a film of this rating.
    pub fn admits(self, t: TicketType) -> bool {
        !(self == AgeRating::Adults && t.is_minor())
    }
}

/// The prices a showtime offers: per ticket type, per seat class, in won
/// (`{"adult":{"standard":15000,..},"child":{..}}`). `adult` is always
/// there (the showtime's `prices`); a type that is absent is not offered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object, example = json!({"adult": {"standard": 15000, "premium": 19000, "wheelchair": 15000}, "child": {"standard": 9000, "premium": 13000, "wheelchair": 9000}}))]
pub struct Fares(BTreeMap<TicketType, Prices>);

impl Fares {
    /// The fares of a showtime: `fares` with `adult` set to `prices`.
    pub(crate) fn with_adult(mut self, prices: Prices) -> Fares {
        self.0.insert(TicketType::Adult, prices);
        self
    }

    /// From (type, prices) pairs.
    pub fn from_prices(list: impl IntoIterator<Item = (TicketType, Prices)>) -> Fares {
        Fares(list.into_iter().collect())
    }

    /// The prices of `t`, when offered.
    pub fn of(&self, t: TicketType) -> Option<&Prices> {
        self.0.get(&t)
    }

    /// The offered types with their prices.
    pub fn iter(&self) -> impl Iterator<Item = (TicketType, &Prices)> {
        self.0.iter().map(|(t, p)| (*t, p))
    }
}

/// One seat of a hold or booking: its class, its ticket and its unit price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Line {
    /// `A7`.
    pub seat: SeatId,
    /// The seat's class.
    pub class: SeatClass,
    /// The ticket type of whoever sits there.
    pub ticket: TicketType,
    /// Its price in won (the showtime's fare for this type and class).
    pub price: u32,
}

/// Gives each of `seats` (sorted) a ticket of `tickets` and prices it from
/// `fares`: 우대 (disabled) tickets go to wheelchair spaces first, then the
/// rest in type order (adult, teen, senior, disabled, child) to the remaining
/// seats in seat order. Fails with `ticket_count_mismatch` when the counts do
/// not add up to the seats, `ticket_not_offered` for a type the showtime does
/// not offer and `age_restricted` for a minor's ticket to an adults-only film.
pub fn assign(
    layout: &Layout,
    fares: &Fares,
    rating: AgeRating,
    seats: &[SeatId],
    tickets: &Tickets,
) -> Result<Vec<Line>, SeatError> {
    if tickets.total() != seats.len() as u64 {
        return Err(SeatError::TicketCountMismatch { tickets: tickets.total(), seats: seats.len() });
    }
    if let Some((t, _)) = tickets.iter().find(|(t, _)| !rating.admits(*t)) {
        return Err(SeatError::AgeRestricted { ticket: t, rating });
    }
    if let Some((t, _)) = tickets.iter().find(|(t, _)| fares.of(*t).is_none()) {
        return Err(SeatError::TicketNotOffered(t));
    }
    let classes: Vec<SeatClass> = seats
        .iter()
        .map(|s| {
            layout.seat(s.as_str()).map(|seat| seat.class).ok_or_else(|| SeatError::UnknownSeats(vec![s.to_string()]))
        })
        .collect::<Result<_, _>>()?;
    let mut given: Vec<Option<TicketType>> = vec![None; seats.len()];
    let mut disabled = tickets.get(TicketType::Disabled);
    for (slot, class) in given.iter_mut().zip(&classes) {
        if disabled > 0 && *class == SeatClass::Wheelchair {
            *slot = Some(TicketType::Disabled);
            disabled -= 1;
        }
    }
    let mut rest = tickets.iter().flat_map(|(t, n)| {
        let n = if t == TicketType::Disabled { disabled } else { n };
        std::iter::repeat_n(t, n as usize)
    });
    for slot in given.iter_mut().filter(|s| s.is_none()) {
        *slot = rest.next();
    }
    seats
        .iter()
        .zip(classes)
        .zip(given)
        .map(|((seat, class), ticket)| {
            let ticket = ticket.unwrap_or(TicketType::Adult);
            let price = fares.of(ticket).map(|p| p.of(class)).ok_or(SeatError::TicketNotOffered(ticket))?;
            Ok(Line { seat: seat.clone(), class, ticket, price })
        })
        .collect()
}

/// The total of `lines`, in won.
pub fn amount(lines: &[Line]) -> u32 {
    lines.iter().fold(0u32, |a, l| a.saturating_add(l.price))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::RowSpec;

    fn prices(s: u32, p: u32, w: u32) -> Prices {
        Prices { standard: s, premium: p, wheelchair: w }
    }

    #[test]
    fn tickets_are_json_objects_by_type() {
        let t: Tickets = serde_json::from_str(r#"{"adult":2,"child":1,"teen":0}"#).unwrap();
        assert_eq!(t.normalised(), Tickets::from_counts([(TicketType::Adult, 2), (TicketType::Child, 1)]));
        assert_eq!(serde_json::to_string(&t.normalised()).unwrap(), r#"{"adult":2,"child":1}"#);
        assert!(serde_json::from_str::<Tickets>(r#"{"pensioner":1}"#).is_err());
        assert_eq!(serde_json::to_string(&AgeRating::Adults).unwrap(), r#""19""#);
        assert_eq!(TicketType::Disabled.label_ko(), "우대");
    }

    #[test]
    fn seats_get_tickets_and_prices() {
        let layout = Layout::new(&[RowSpec { row: 'A', seats: "SSPW".into() }]).unwrap();
        let fares = Fares::from_prices([
            (TicketType::Adult, prices(15000, 19000, 15000)),
            (TicketType::Child, prices(9000, 13000, 9000)),
            (TicketType::Disabled, prices(5000, 5000, 5000)),
        ]);
        let seats: Vec<SeatId> = ["A1", "A2", "A3", "A4"].iter().map(|s| SeatId::parse(s).unwrap()).collect();
        let t = Tickets::from_counts([(TicketType::Adult, 2), (TicketType::Child, 1), (TicketType::Disabled, 1)]);
        let lines = assign(&layout, &fares, AgeRating::All, &seats, &t).unwrap();
        let got: Vec<(TicketType, u32)> = lines.iter().map(|l| (l.ticket, l.price)).collect();
        assert_eq!(
            got,
            [
                (TicketType::Adult, 15000),
                (TicketType::Adult, 15000),
                (TicketType::Child, 13000),
                (TicketType::Disabled, 5000)
            ]
        );
        assert_eq!(amount(&lines), 48000);
        let err = assign(&layout, &fares, AgeRating::Adults, &seats, &t).unwrap_err();
        assert_eq!(err.code(), "age_restricted");
        let err = assign(&layout, &fares, AgeRating::All, &seats, &Tickets::adults(3)).unwrap_err();
        assert_eq!(err.code(), "ticket_count_mismatch");
        let teen = Tickets::from_counts([(TicketType::Adult, 3), (TicketType::Teen, 1)]);
        assert_eq!(assign(&layout, &fares, AgeRating::All, &seats, &teen).unwrap_err().code(), "ticket_not_offered");
    }
}
