//! What the WebSocket and REST surfaces share about seats: the showtime
//! listing and the translation of request fields into seat-store requests.
//! Seat state itself lives only in the `seats` crate; this module must not
//! cache or change it.

use std::time::Duration;

use seats::{HoldRequest, ReleaseTarget, Schedule, SeatError, Showtime};
use serde::Serialize;

/// One showtime as listed to clients: the schedule entry plus the movie's
/// titles and the screen's seat count.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShowtimeView<'a> {
    /// The schedule entry (`id`, `movie`, `theater`, `screen`, `starts_at`, `prices`).
    #[serde(flatten)]
    pub showtime: &'a Showtime,
    /// The movie's title.
    pub title: &'a str,
    /// The movie's Korean title, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_ko: Option<&'a str>,
    /// Seats on the screen.
    pub capacity: usize,
}

/// The showtimes of `schedule` starting on `date` (`YYYY-MM-DD`, the
/// schedule's time zone) and of `movie`, each filter optional, by start time.
pub fn list_showtimes<'a>(schedule: &'a Schedule, date: Option<&str>, movie: Option<&str>) -> Vec<ShowtimeView<'a>> {
    let mut list: Vec<ShowtimeView<'a>> = schedule
        .showtimes()
        .iter()
        .filter(|st| movie.is_none_or(|m| st.movie == m))
        .filter(|st| date.is_none_or(|d| st.starts_at.date().to_string() == d))
        .map(|st| {
            let m = schedule.movie(&st.movie);
            ShowtimeView {
                showtime: st,
                title: m.map_or("", |m| m.title.as_str()),
                title_ko: m.and_then(|m| m.title_ko.as_deref()),
                capacity: schedule.layout_of(&st.id).map_or(0, |l| l.len()),
            }
        })
        .collect();
    list.sort_by(|a, b| {
        (a.showtime.starts_at.timestamp(), &a.showtime.id).cmp(&(b.showtime.starts_at.timestamp(), &b.showtime.id))
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
) -> HoldRequest {
    HoldRequest { showtime, user: user.to_owned(), seats, ttl: ttl_secs.map(Duration::from_secs), idempotency_key }
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
    fn release_needs_exactly_one_target() {
        assert!(release_target(Some("h1".into()), None).is_ok());
        assert!(release_target(None, Some(vec![])).is_ok());
        assert!(release_target(None, None).is_err());
        assert!(release_target(Some("h1".into()), Some(vec![])).is_err());
    }
}
