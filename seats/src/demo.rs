//! The demo schedule shipped with the crate: `data/demo.json` holds theaters,
//! screens, six movies of the project's catalog and a daily program; this
//! module expands it into a week of showtimes starting on a given day.
//!
//! It only builds a [`Schedule`]; loading it into a store is the caller's job.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::domain::{Movie, Prices, Schedule, ScheduleError, Showtime, TIME_ZONE, Theater};
use crate::tickets::Fares;

/// The demo template, compiled in.
pub const DEMO_JSON: &str = include_str!("../data/demo.json");

#[derive(Deserialize)]
struct Template {
    days: u16,
    movies: Vec<Movie>,
    theaters: Vec<Theater>,
    program: Vec<Program>,
}

/// One screen's daily program: start times and the movies rotating through them.
#[derive(Deserialize)]
struct Program {
    theater: String,
    screen: String,
    times: Vec<String>,
    movies: Vec<String>,
    prices: Prices,
    /// The other ticket types offered, with their prices.
    #[serde(default)]
    fares: Fares,
}

/// The demo schedule for the week starting on `first_day` (in Asia/Seoul).
/// Showtime ids are `<theater>-<screen>-<yyyymmdd>-<hhmm>`.
pub fn schedule(first_day: Date) -> Result<Schedule, ScheduleError> {
    let t: Template = serde_json::from_str(DEMO_JSON).map_err(|e| ScheduleError::Json(e.to_string()))?;
    let tz = TimeZone::get(TIME_ZONE).map_err(|e| ScheduleError::Time(e.to_string()))?;
    let mut showtimes = Vec::new();
    for day in 0..t.days {
        let date = first_day
            .checked_add(jiff::Span::new().days(i64::from(day)))
            .map_err(|e| ScheduleError::Time(e.to_string()))?;
        for p in &t.program {
            for (slot, hhmm) in p.times.iter().enumerate() {
                let time: Time = hhmm.parse().map_err(|e: jiff::Error| ScheduleError::Time(e.to_string()))?;
                let starts_at =
                    date.to_datetime(time).to_zoned(tz.clone()).map_err(|e| ScheduleError::Time(e.to_string()))?;
                // Rotate movies by day and slot so each day looks a little different.
                let movie = &p.movies[(usize::from(day) + slot) % p.movies.len().max(1)];
                showtimes.push(Showtime {
                    id: format!("{}-{}-{}-{}", p.theater, p.screen, date.strftime("%Y%m%d"), hhmm.replace(':', "")),
                    movie: movie.clone(),
                    theater: p.theater.clone(),
                    screen: p.screen.clone(),
                    starts_at,
                    prices: p.prices,
                    fares: p.fares.clone(),
                });
            }
        }
    }
    Schedule::new(t.theaters, t.movies, showtimes)
}

/// Today's date in Asia/Seoul.
pub fn today() -> Result<Date, ScheduleError> {
    let tz = TimeZone::get(TIME_ZONE).map_err(|e| ScheduleError::Time(e.to_string()))?;
    Ok(jiff::Timestamp::now().to_zoned(tz).date())
}

/// The demo schedule for the week starting today (Asia/Seoul).
pub fn schedule_from_today() -> Result<Schedule, ScheduleError> {
    schedule(today()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn demo_week_is_valid_and_round_trips_through_the_file_format() {
        let s = schedule(jiff::civil::date(2026, 11, 22)).unwrap();
        assert_eq!(s.movies().len(), 6);
        assert_eq!(s.theaters().len(), 2);
        assert_eq!(s.showtimes().len(), 7 * (4 + 4 + 3));
        let st = s.showtime("gangnam-1-20261122-2000").unwrap();
        assert_eq!(st.starts_at.to_string(), "2026-11-22T20:00:00+09:00[Asia/Seoul]");
        assert_eq!(s.layout_of(&st.id).unwrap().len(), 180);
        let again = Schedule::from_json(&s.to_json()).unwrap();
        assert_eq!(again.showtimes(), s.showtimes());
        assert_eq!(again.theaters(), s.theaters());
    }
}
