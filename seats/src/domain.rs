//! The showtime domain: theaters, screens and their seat layouts, movies,
//! showtimes and a whole [`Schedule`], parsed and validated once from JSON.
//!
//! This module knows nothing about seat *state* (free, held, sold): that lives
//! in the store. It must stay pure data plus validation.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::tickets::{AgeRating, Fares, TicketType};

/// The time zone every showtime is expressed in.
pub const TIME_ZONE: &str = "Asia/Seoul";
/// Longest id of a theater, screen, movie or showtime, in bytes (a showtime id
/// becomes the topic `showtime:<id>`, whose id part is limited to 64).
pub const MAX_ID_LEN: usize = bus::MAX_TOPIC_ID_LEN;
/// Most rows a screen may have (row names are `A`..`Z`).
pub const MAX_ROWS: usize = 26;
/// Most positions (seats and aisle gaps) in one row.
pub const MAX_ROW_WIDTH: usize = 60;

/// Why a schedule, layout or id was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The JSON did not have the documented shape.
    #[error("malformed schedule JSON: {0}")]
    Json(String),
    /// An id is empty, too long, or has characters outside `[A-Za-z0-9_.-]`.
    #[error("invalid id {0:?} (1-64 characters of A-Z a-z 0-9 _ . -)")]
    BadId(String),
    /// Two items of one kind share an id.
    #[error("duplicate id {0:?}")]
    Duplicate(String),
    /// A row pattern or name is invalid.
    #[error("invalid layout: {0}")]
    Layout(String),
    /// A showtime refers to a movie, theater or screen that does not exist.
    #[error("showtime {showtime:?} refers to unknown {what} {id:?}")]
    Reference {
        /// The showtime with the dangling reference.
        showtime: String,
        /// `movie`, `theater` or `screen`.
        what: &'static str,
        /// The id that was not found.
        id: String,
    },
    /// A date or time could not be built.
    #[error("invalid time: {0}")]
    Time(String),
}

/// Checks an id of the schedule: 1-64 characters of `[A-Za-z0-9_.-]`.
pub fn validate_id(id: &str) -> Result<(), ScheduleError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok { Ok(()) } else { Err(ScheduleError::BadId(id.to_owned())) }
}

/// The class of a seat; prices are per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeatClass {
    /// An ordinary seat (`S` in a row pattern).
    Standard,
    /// A premium seat (`P`).
    Premium,
    /// A wheelchair space (`W`).
    Wheelchair,
}

impl SeatClass {
    fn from_pattern(c: char) -> Option<SeatClass> {
        match c {
            'S' => Some(SeatClass::Standard),
            'P' => Some(SeatClass::Premium),
            'W' => Some(SeatClass::Wheelchair),
            _ => None,
        }
    }

    fn pattern(self) -> char {
        match self {
            SeatClass::Standard => 'S',
            SeatClass::Premium => 'P',
            SeatClass::Wheelchair => 'W',
        }
    }
}

/// A seat id such as `A7`: a row letter `A`-`Z` and a seat number 1-99
/// (no leading zero). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "A7")]
pub struct SeatId(Arc<str>);

impl SeatId {
    /// Parses `A7`.
    pub fn parse(s: &str) -> Option<SeatId> {
        let mut chars = s.chars();
        let row = chars.next()?;
        let num = chars.as_str();
        let valid = row.is_ascii_uppercase()
            && !num.is_empty()
            && num.len() <= 2
            && !num.starts_with('0')
            && num.bytes().all(|b| b.is_ascii_digit());
        valid.then(|| SeatId(s.into()))
    }

    fn from_parts(row: char, number: u16) -> SeatId {
        SeatId(format!("{row}{number}").into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SeatId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SeatId::parse(&s).ok_or_else(|| format!("invalid seat id {s:?}"))
    }
}

impl From<SeatId> for String {
    fn from(s: SeatId) -> String {
        s.0.to_string()
    }
}

impl fmt::Display for SeatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One seat of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// `A7`.
    pub id: SeatId,
    /// Index of the row, 0 = nearest the screen.
    pub row: usize,
    /// Seat number within the row (aisles do not use numbers).
    pub number: u16,
    /// Position in the row counting aisle gaps, 0 = leftmost.
    pub column: usize,
    /// The seat's class.
    pub class: SeatClass,
}

/// One row as written in JSON: a name and a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowSpec {
    /// Row name, one letter `A`-`Z`; `A` is nearest the screen.
    pub row: char,
    /// One character per position: `S` standard, `P` premium, `W` wheelchair,
    /// `_` an aisle gap. Seats are numbered from 1, left to right, skipping gaps.
    pub seats: String,
}

/// A screen's seat layout: rows of seats separated by aisles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<RowSpec>", into = "Vec<RowSpec>")]
pub struct Layout {
    rows: Vec<Vec<Option<Seat>>>,
    names: Vec<char>,
    index: HashMap<SeatId, (usize, usize)>,
    width: usize,
}

impl TryFrom<Vec<RowSpec>> for Layout {
    type Error = ScheduleError;
    fn try_from(specs: Vec<RowSpec>) -> Result<Self, Self::Error> {
        Layout::new(&specs)
    }
}

impl From<Layout> for Vec<RowSpec> {
    fn from(l: Layout) -> Vec<RowSpec> {
        l.specs()
    }
}

impl Layout {
    /// Builds a layout from row specs, checking names and patterns.
    pub fn new(specs: &[RowSpec]) -> Result<Layout, ScheduleError> {
        let bad = |m: String| ScheduleError::Layout(m);
        if specs.is_empty() || specs.len() > MAX_ROWS {
            return Err(bad(format!("a screen needs 1-{MAX_ROWS} rows")));
        }
        let mut rows = Vec::with_capacity(specs.len());
        let mut names = Vec::with_capacity(specs.len());
        let mut index = HashMap::new();
        let mut width = 0;
        for (r, spec) in specs.iter().enumerate() {
            if !spec.row.is_ascii_uppercase() || names.contains(&spec.row) {
                return Err(bad(format!("row name {:?} must be a unique letter A-Z", spec.row)));
            }
            let n = spec.seats.chars().count();
            if n == 0 || n > MAX_ROW_WIDTH {
                return Err(bad(format!("row {} needs 1-{MAX_ROW_WIDTH} positions", spec.row)));
            }
            let mut row = Vec::with_capacity(n);
            let mut number: u16 = 0;
            for (column, c) in spec.seats.chars().enumerate() {
                if c == '_' {
                    row.push(None);
                    continue;
                }
                let class = SeatClass::from_pattern(c)
                    .ok_or_else(|| bad(format!("row {}: unknown seat mark {c:?} (use S P W _)", spec.row)))?;
                number += 1;
                if number > 99 {
                    return Err(bad(format!("row {} has more than 99 seats", spec.row)));
                }
                let id = SeatId::from_parts(spec.row, number);
                index.insert(id.clone(), (r, column));
                row.push(Some(Seat { id, row: r, number, column, class }));
            }
            if number == 0 {
                return Err(bad(format!("row {} has no seats", spec.row)));
            }
            width = width.max(n);
            names.push(spec.row);
            rows.push(row);
        }
        Ok(Layout { rows, names, index, width })
    }

    /// The row specs this layout was built from.
    pub fn specs(&self) -> Vec<RowSpec> {
        self.rows
            .iter()
            .zip(&self.names)
            .map(|(row, name)| RowSpec {
                row: *name,
                seats: row.iter().map(|p| p.as_ref().map_or('_', |s| s.class.pattern())).collect(),
            })
            .collect()
    }

    /// The seat with this id.
    pub fn seat(&self, id: &str) -> Option<&Seat> {
        let id = SeatId::parse(id)?;
        let (r, c) = self.index.get(&id)?;
        self.rows.get(*r)?.get(*c)?.as_ref()
    }

    /// Every seat, row by row, left to right.
    pub fn seats(&self) -> impl Iterator<Item = &Seat> {
        self.rows.iter().flatten().flatten()
    }

    /// The rows: positions left to right, `None` for an aisle gap.
    pub fn rows(&self) -> &[Vec<Option<Seat>>] {
        &self.rows
    }

    /// Number of seats.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the layout has no seats (never true for a validated layout).
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Positions per row (seats and aisle gaps) of the widest row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The aisles: column positions (0 = leftmost, as [`Seat::column`]) where
    /// no row has a seat, between the leftmost and the rightmost seat of the
    /// hall, left to right. A gap that only some rows have (a row's seats
    /// stopping short) is not an aisle; clients draw it from the columns.
    pub fn aisles(&self) -> Vec<usize> {
        let used: HashSet<usize> = self.seats().map(|s| s.column).collect();
        let (Some(first), Some(last)) = (used.iter().min(), used.iter().max()) else {
            return Vec::new();
        };
        (*first..*last).filter(|c| !used.contains(c)).collect()
    }

    /// The screen's centre line as a column position (may be fractional).
    pub fn centre(&self) -> f64 {
        (self.width as f64 - 1.0) / 2.0
    }
}

/// A screen (auditorium) of a theater.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screen {
    /// Id unique within its theater, e.g. `1`.
    pub id: String,
    /// English name.
    pub name: String,
    /// Korean name.
    #[serde(default)]
    pub name_ko: Option<String>,
    /// Seat layout, nearest row first.
    pub rows: Layout,
}

/// A cinema with its screens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theater {
    /// Id, e.g. `gangnam`.
    pub id: String,
    /// English name.
    pub name: String,
    /// Korean name.
    #[serde(default)]
    pub name_ko: Option<String>,
    /// Street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// District (구/동 or neighbourhood) it is listed under, e.g. `강남`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// Other names of its neighbourhood a person may say (`홍대`, `Hongdae`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<String>,
    /// Where it is (WGS 84).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
    /// Its screens.
    pub screens: Vec<Screen>,
}

/// A point on Earth in degrees (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GeoPoint {
    /// Latitude, -90 to 90.
    pub lat: f64,
    /// Longitude, -180 to 180.
    pub lon: f64,
}

impl Eq for GeoPoint {}

/// A movie of the catalog (ids as in the project's movie data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movie {
    /// Catalog id, e.g. `nsyn-11`.
    pub id: String,
    /// English (or original) title.
    pub title: String,
    /// Korean release title.
    #[serde(default)]
    pub title_ko: Option<String>,
    /// Running time in minutes.
    pub runtime_min: u16,
    /// Age rating (`all`, `12`, `15`, `19`); `all` when the file has none.
    #[serde(default)]
    pub age_rating: AgeRating,
}

/// Ticket price per seat class, in Korean won.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Prices {
    /// Standard seat.
    pub standard: u32,
    /// Premium seat.
    pub premium: u32,
    /// Wheelchair space.
    pub wheelchair: u32,
}

impl Prices {
    /// The price of one seat of `class`.
    pub fn of(&self, class: SeatClass) -> u32 {
        match class {
            SeatClass::Standard => self.standard,
            SeatClass::Premium => self.premium,
            SeatClass::Wheelchair => self.wheelchair,
        }
    }
}

/// One screening of a movie on a screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Showtime {
    /// Id, e.g. `gangnam-1-20261122-2000`; the topic is `showtime:<id>`.
    pub id: String,
    /// The movie's catalog id.
    pub movie: String,
    /// The theater's id.
    pub theater: String,
    /// The screen's id within the theater.
    pub screen: String,
    /// Start, in [`TIME_ZONE`] (RFC 9557 text, e.g. `2026-11-22T20:00:00+09:00[Asia/Seoul]`).
    #[schema(value_type = String, example = "2026-11-22T20:00:00+09:00[Asia/Seoul]")]
    pub starts_at: jiff::Zoned,
    /// Prices per seat class (of an adult ticket).
    pub prices: Prices,
    /// Prices per ticket type and seat class: the types this showtime
    /// offers. `adult` is always `prices`; absent in a file: adult only.
    #[serde(default)]
    pub fares: Fares,
}

/// The schedule file: theaters, movies and showtimes (the documented format of
/// [`Schedule::from_json`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ScheduleFile {
    theaters: Vec<Theater>,
    movies: Vec<Movie>,
    showtimes: Vec<Showtime>,
}

/// A validated schedule: every reference resolves and every id is unique.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "ScheduleFile", into = "ScheduleFile")]
pub struct Schedule {
    file: ScheduleFile,
    showtime_index: HashMap<String, (usize, usize, usize)>,
}

impl TryFrom<ScheduleFile> for Schedule {
    type Error = ScheduleError;
    fn try_from(file: ScheduleFile) -> Result<Self, Self::Error> {
        Schedule::new(file.theaters, file.movies, file.showtimes)
    }
}

impl From<Schedule> for ScheduleFile {
    fn from(s: Schedule) -> ScheduleFile {
        s.file
    }
}

impl Schedule {
    /// Validates and indexes a schedule.
    pub fn new(
        theaters: Vec<Theater>,
        movies: Vec<Movie>,
        showtimes: Vec<Showtime>,
    ) -> Result<Schedule, ScheduleError> {
        let mut seen = HashSet::new();
        for m in &movies {
            validate_id(&m.id)?;
            if !seen.insert(("m", m.id.clone())) {
                return Err(ScheduleError::Duplicate(m.id.clone()));
            }
        }
        for t in &theaters {
            validate_id(&t.id)?;
            if !seen.insert(("t", t.id.clone())) {
                return Err(ScheduleError::Duplicate(t.id.clone()));
            }
            for s in &t.screens {
                validate_id(&s.id)?;
                if !seen.insert(("s", format!("{}/{}", t.id, s.id))) {
                    return Err(ScheduleError::Duplicate(format!("{}/{}", t.id, s.id)));
                }
            }
        }
        let mut showtimes = showtimes;
        for st in &mut showtimes {
            if let Some(adult) = st.fares.of(TicketType::Adult)
                && *adult != st.prices
            {
                return Err(ScheduleError::Json(format!("showtime {:?}: fares.adult must equal prices", st.id)));
            }
            st.fares = std::mem::take(&mut st.fares).with_adult(st.prices);
        }
        let mut showtime_index = HashMap::with_capacity(showtimes.len());
        for (i, st) in showtimes.iter().enumerate() {
            validate_id(&st.id)?;
            let reference = |what: &'static str, id: &str| ScheduleError::Reference {
                showtime: st.id.clone(),
                what,
                id: id.into(),
            };
            if !movies.iter().any(|m| m.id == st.movie) {
                return Err(reference("movie", &st.movie));
            }
            let t =
                theaters.iter().position(|t| t.id == st.theater).ok_or_else(|| reference("theater", &st.theater))?;
            let s = theaters[t]
                .screens
                .iter()
                .position(|s| s.id == st.screen)
                .ok_or_else(|| reference("screen", &st.screen))?;
            if showtime_index.insert(st.id.clone(), (i, t, s)).is_some() {
                return Err(ScheduleError::Duplicate(st.id.clone()));
            }
        }
        Ok(Schedule { file: ScheduleFile { theaters, movies, showtimes }, showtime_index })
    }

    /// An empty schedule.
    pub fn empty() -> Schedule {
        Schedule {
            file: ScheduleFile { theaters: vec![], movies: vec![], showtimes: vec![] },
            showtime_index: HashMap::new(),
        }
    }

    /// Parses the schedule format (see `docs/protocol.md`, *Seats*):
    /// `{"theaters": [...], "movies": [...], "showtimes": [...]}`.
    pub fn from_json(text: &str) -> Result<Schedule, ScheduleError> {
        serde_json::from_str(text).map_err(|e| ScheduleError::Json(e.to_string()))
    }

    /// Reads and parses a schedule file.
    pub fn load(path: &std::path::Path) -> Result<Schedule, ScheduleError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ScheduleError::Json(format!("{}: {e}", path.display())))?;
        Schedule::from_json(&text)
    }

    /// The schedule as JSON text (the format [`Schedule::from_json`] reads).
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(&self.file).unwrap_or_default()
    }

    /// All theaters.
    pub fn theaters(&self) -> &[Theater] {
        &self.file.theaters
    }

    /// All movies.
    pub fn movies(&self) -> &[Movie] {
        &self.file.movies
    }

    /// All showtimes, in file order.
    pub fn showtimes(&self) -> &[Showtime] {
        &self.file.showtimes
    }

    /// A movie by id.
    pub fn movie(&self, id: &str) -> Option<&Movie> {
        self.file.movies.iter().find(|m| m.id == id)
    }

    /// A showtime by id.
    pub fn showtime(&self, id: &str) -> Option<&Showtime> {
        let (i, _, _) = self.showtime_index.get(id)?;
        self.file.showtimes.get(*i)
    }

    /// The screen a showtime plays on.
    pub fn screen_of(&self, showtime: &str) -> Option<&Screen> {
        let (_, t, s) = self.showtime_index.get(showtime)?;
        self.file.theaters.get(*t)?.screens.get(*s)
    }

    /// The seat layout of a showtime's screen.
    pub fn layout_of(&self, showtime: &str) -> Option<&Layout> {
        self.screen_of(showtime).map(|s| &s.rows)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(row: char, seats: &str) -> RowSpec {
        RowSpec { row, seats: seats.into() }
    }

    #[test]
    fn layout_numbers_seats_skipping_aisles() {
        let l = Layout::new(&[spec('A', "SS_PPW"), spec('B', "SSSSS")]).unwrap();
        assert_eq!(l.len(), 10);
        let a3 = l.seat("A3").unwrap();
        assert_eq!((a3.row, a3.number, a3.column, a3.class), (0, 3, 3, SeatClass::Premium));
        assert_eq!(l.seat("A5").unwrap().class, SeatClass::Wheelchair);
        assert!(l.seat("A6").is_none());
        assert!(l.seat("C1").is_none());
        assert!(l.seat("a1").is_none());
        assert_eq!(l.centre(), 2.5);
        assert_eq!(Layout::new(&l.specs()).unwrap(), l);
        // Column 2 has a seat in row B: a gap in row A only, not an aisle.
        assert_eq!((l.width(), l.aisles()), (6, vec![]));
        let hall = Layout::new(&[spec('A', "SS_SSSS_SS"), spec('B', "S__SSSS_SS"), spec('C', "_S_SSSS_S")]).unwrap();
        assert_eq!((hall.width(), hall.aisles()), (10, vec![2, 7]));
    }

    #[test]
    fn bad_layouts_and_ids_are_rejected() {
        assert!(Layout::new(&[spec('A', "SX")]).is_err());
        assert!(Layout::new(&[spec('A', "S"), spec('A', "S")]).is_err());
        assert!(Layout::new(&[spec('A', "__")]).is_err());
        assert!(Layout::new(&[]).is_err());
        assert!(SeatId::parse("A0").is_none());
        assert!(SeatId::parse("A07").is_none());
        assert!(SeatId::parse("A100").is_none());
        assert!(SeatId::parse("7").is_none());
        assert!(validate_id("ok-1.2_x").is_ok());
        assert!(validate_id("no way").is_err());
    }

    #[test]
    fn schedules_with_dangling_references_or_duplicates_are_rejected() {
        let base = r#"{"theaters": [{"id": "t", "name": "T", "screens": [{"id": "1", "name": "S", "rows": [{"row": "A", "seats": "SS"}]}]}],
            "movies": [{"id": "m", "title": "M", "runtime_min": 90}],
            "showtimes": [{"id": "s1", "movie": "MOVIE", "theater": "THEATER", "screen": "SCREEN",
                "starts_at": "2027-01-15T19:30:00+09:00[Asia/Seoul]", "prices": {"standard": 1, "premium": 2, "wheelchair": 1}}]}"#;
        let with = |m: &str, t: &str, s: &str| base.replace("MOVIE", m).replace("THEATER", t).replace("SCREEN", s);
        let ok = Schedule::from_json(&with("m", "t", "1")).unwrap();
        assert_eq!(ok.layout_of("s1").unwrap().len(), 2);
        assert_eq!(ok.showtime("s1").unwrap().starts_at.time_zone().iana_name(), Some(TIME_ZONE));
        assert!(
            matches!(Schedule::from_json(&with("x", "t", "1")), Err(ScheduleError::Json(e)) if e.contains("movie"))
        );
        assert!(
            matches!(Schedule::from_json(&with("m", "x", "1")), Err(ScheduleError::Json(e)) if e.contains("theater"))
        );
        assert!(
            matches!(Schedule::from_json(&with("m", "t", "9")), Err(ScheduleError::Json(e)) if e.contains("screen"))
        );
        let dup = with("m", "t", "1").replace(
            r#""movies": [{"id": "m""#,
            r#""movies": [{"id": "m", "title": "M", "runtime_min": 1}, {"id": "m""#,
        );
        assert!(Schedule::from_json(&dup).is_err());
        assert!(Schedule::from_json("{").is_err());
        assert!(Schedule::from_json(&with("m", "t", "1").replace("SS", "SQ")).is_err());
    }
}
