//! What the WebSocket and REST surfaces share about seats: the showtime
//! listing and the translation of request fields into seat-store requests.
//! Seat state itself lives only in the `seats` crate; this module must not
//! cache or change it.

use std::time::Duration;

use seats::{AgeRating, GeoPoint, HoldRequest, ReleaseTarget, Schedule, SeatError, Showtime, Tickets};
use serde::Serialize;

/// One showtime as listed to clients: the schedule entry plus the movie's
/// titles, rating and runtime, the theater's place and the screen's seat count.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShowtimeView<'a> {
    /// The schedule entry (`id`, `movie`, `theater`, `screen`, `starts_at`,
    /// `prices`, `fares`).
    #[serde(flatten)]
    pub showtime: &'a Showtime,
    /// The movie's title.
    pub title: &'a str,
    /// The movie's Korean title, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_ko: Option<&'a str>,
    /// The movie's age rating: `all`, `12`, `15` or `19` (청소년관람불가).
    pub age_rating: AgeRating,
    /// The movie's running time in minutes.
    pub runtime_min: u16,
    /// Seats on the screen.
    pub capacity: usize,
    /// The theater's district, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<&'a str>,
    /// Distance from the `near` point of the request, in km (rounded to
    /// 10 m); only when the request gave one and the theater has a location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

/// What a showtime listing may be narrowed and ordered by.
#[derive(Debug, Clone, Default)]
pub struct ShowtimeFilter<'q> {
    /// Only showtimes starting on this day (`YYYY-MM-DD`, the schedule's time zone).
    pub date: Option<&'q str>,
    /// Only this movie id.
    pub movie: Option<&'q str>,
    /// Only theaters in this district or neighbourhood ("강남", "홍대 근처").
    pub district: Option<&'q str>,
    /// Order by the theater's distance from here (nearest first), then by start.
    pub near: Option<GeoPoint>,
}

impl<'q> ShowtimeFilter<'q> {
    /// The filter of a request's fields; `near` is `lat,lon` (invalid_request otherwise).
    pub fn new(
        date: Option<&'q str>,
        movie: Option<&'q str>,
        district: Option<&'q str>,
        near: Option<&str>,
    ) -> Result<ShowtimeFilter<'q>, SeatError> {
        let near = match near {
            None => None,
            Some(text) => Some(seats::nearby::parse_point(text).ok_or_else(|| {
                SeatError::Invalid("`near` must be `lat,lon` in degrees, e.g. `37.498,127.028`".into())
            })?),
        };
        Ok(ShowtimeFilter { date, movie, district, near })
    }
}

/// The showtimes of `schedule` starting on `date` (`YYYY-MM-DD`, the
/// schedule's time zone) and of `movie`, each filter optional, by start time.
pub fn list_showtimes<'a>(schedule: &'a Schedule, date: Option<&str>, movie: Option<&str>) -> Vec<ShowtimeView<'a>> {
    list_showtimes_by(schedule, &ShowtimeFilter { date, movie, ..ShowtimeFilter::default() })
}

/// The showtimes of `schedule` that pass `filter`, by start time, or with
/// `near` by distance first (theaters without a location last).
pub fn list_showtimes_by<'a>(schedule: &'a Schedule, filter: &ShowtimeFilter<'_>) -> Vec<ShowtimeView<'a>> {
    let mut list: Vec<ShowtimeView<'a>> = schedule
        .showtimes()
        .iter()
        .filter(|st| filter.movie.is_none_or(|m| st.movie == m))
        .filter(|st| filter.date.is_none_or(|d| st.starts_at.date().to_string() == d))
        .filter_map(|st| {
            let theater = schedule.theaters().iter().find(|t| t.id == st.theater);
            if let Some(q) = filter.district
                && !theater.is_some_and(|t| seats::nearby::in_district(t, q))
            {
                return None;
            }
            let m = schedule.movie(&st.movie);
            let distance_km = filter
                .near
                .zip(theater.and_then(|t| t.location))
                .map(|(a, b)| (seats::nearby::distance_km(a, b) * 100.0).round() / 100.0);
            Some(ShowtimeView {
                showtime: st,
                title: m.map_or("", |m| m.title.as_str()),
                title_ko: m.and_then(|m| m.title_ko.as_deref()),
                age_rating: m.map(|m| m.age_rating).unwrap_or_default(),
                runtime_min: m.map_or(0, |m| m.runtime_min),
                capacity: schedule.layout_of(&st.id).map_or(0, |l| l.len()),
                district: theater.and_then(|t| t.district.as_deref()),
                distance_km,
            })
        })
        .collect();
    list.sort_by(|a, b| {
        let far = |v: &ShowtimeView<'_>| if filter.near.is_some() { v.distance_km.unwrap_or(f64::MAX) } else { 0.0 };
        far(a)
            .total_cmp(&far(b))
            .then_with(|| a.showtime.starts_at.timestamp().cmp(&b.showtime.starts_at.timestamp()))
            .then_with(|| a.showtime.id.cmp(&b.showtime.id))
    });
    list
}

/// A hold request for the authenticated `user` (never a user named by the client).
pub fn hold_request(
    showtime: String,
    user: &str,
    seats: Vec<String>,
    ttl_secs: Option<u64>,
    idempotency_key: String,
    tickets: Option<Tickets>,
) -> HoldRequest {
    HoldRequest {
        showtime,
        user: user.to_owned(),
        seats,
        ttl: ttl_secs.map(Duration::from_secs),
        idempotency_key,
        tickets,
    }
}

/// What a release names: exactly one of a hold id or a list of seats.
pub fn release_target(hold_id: Option<String>, seats: Option<Vec<String>>) -> Result<ReleaseTarget, SeatError> {
    match (hold_id, seats) {
        (Some(h), None) => Ok(ReleaseTarget::Hold(h)),
        (None, Some(s)) => Ok(ReleaseTarget::Seats(s)),
        _ => Err(SeatError::Invalid("give exactly one of `hold_id` or `seats`".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_by_day_and_movie() {
        let schedule = seats::demo::schedule_from_today().expect("demo");
        let all = list_showtimes(&schedule, None, None);
        assert_eq!(all.len(), schedule.showtimes().len());
        let first = all[0].showtime.starts_at.date().to_string();
        let day = list_showtimes(&schedule, Some(&first), None);
        assert!(!day.is_empty() && day.len() < all.len());
        assert!(day.iter().all(|v| v.showtime.id.contains(&first.replace('-', ""))));
        let movie = &all[0].showtime.movie;
        assert!(list_showtimes(&schedule, None, Some(movie)).iter().all(|v| &v.showtime.movie == movie));
        assert!(list_showtimes(&schedule, Some("not-a-date"), None).is_empty());
        let json = serde_json::to_value(&day[0]).expect("serializes");
        assert!(json["id"].is_string() && json["title"].is_string() && json["capacity"].as_u64() > Some(0));
    }

    #[test]
    fn lists_by_district_and_distance() {
        let schedule = seats::demo::schedule_from_today().expect("demo");
        let by = |district: Option<&str>, near: Option<&str>| {
            let f = ShowtimeFilter::new(None, None, district, near).expect("filter");
            list_showtimes_by(&schedule, &f).iter().map(|v| v.showtime.theater.clone()).collect::<Vec<_>>()
        };
        let hongdae = by(Some("홍대 근처"), None);
        assert!(!hongdae.is_empty() && hongdae.iter().all(|t| t == "hongdae"));
        assert!(by(Some("강남"), None).iter().all(|t| t == "gangnam"));
        assert!(by(Some("부산"), None).is_empty());
        // From 합정: Hongdae's showtimes first, then Gangnam's.
        let near = by(None, Some("37.5495,126.9139"));
        let first_gangnam = near.iter().position(|t| t == "gangnam").expect("gangnam");
        assert!(first_gangnam > 0 && near[first_gangnam..].iter().all(|t| t == "gangnam"));
        assert!(ShowtimeFilter::new(None, None, None, Some("north")).is_err());
    }

    #[test]
    fn release_needs_exactly_one_target() {
        assert!(release_target(Some("h1".into()), None).is_ok());
        assert!(release_target(None, Some(vec![])).is_ok());
        assert!(release_target(None, None).is_err());
        assert!(release_target(Some("h1".into()), Some(vec![])).is_err());
    }
}
