//! Nearby theaters: distances between points (haversine) and matching a
//! theater by a district or neighbourhood as people say it ("강남",
//! "홍대 근처", "Hongdae").

use crate::domain::{GeoPoint, Theater};

/// Mean Earth radius, km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Words that follow a place name without changing it ("홍대 근처", "강남역 주변").
const PLACE_SUFFIXES: &[&str] = &["근처", "주변", "부근", "인근", "근방", "쪽", "역", "구", "동", " near", " area"];

/// The great-circle distance between two points, in km.
pub fn distance_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Parses `lat,lon` in degrees (`37.498,127.027`).
pub fn parse_point(text: &str) -> Option<GeoPoint> {
    let (lat, lon) = text.split_once(',')?;
    let lat: f64 = lat.trim().parse().ok()?;
    let lon: f64 = lon.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some(GeoPoint { lat, lon })
}

/// A place name reduced to its core: lower case, without spaces and
/// without trailing words such as 근처, 역 or 구 ("강남역 근처" → "강남").
pub fn normalise_place(text: &str) -> String {
    let mut s = text.trim().to_lowercase();
    loop {
        let before = s.len();
        for suffix in PLACE_SUFFIXES {
            if let Some(rest) = s.strip_suffix(suffix)
                && rest.trim_end().chars().count() >= 2
            {
                s = rest.trim_end().to_owned();
            }
        }
        if s.len() == before {
            break;
        }
    }
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether `theater` is in the place a person named: its district, one of
/// its areas, or its names, compared after [`normalise_place`].
pub fn in_district(theater: &Theater, query: &str) -> bool {
    let q = normalise_place(query);
    if q.chars().count() < 2 {
        return false;
    }
    let names = theater
        .district
        .iter()
        .chain(&theater.areas)
        .chain(theater.name_ko.iter())
        .chain(std::iter::once(&theater.name))
        .map(|n| normalise_place(n));
    names.into_iter().any(|n| n == q || n.split(|c: char| !c.is_alphanumeric()).any(|w| w == q) || n.ends_with(&q))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn distances_and_points() {
        let gangnam = GeoPoint { lat: 37.4979, lon: 127.0276 };
        let hongdae = GeoPoint { lat: 37.5572, lon: 126.9245 };
        let d = distance_km(gangnam, hongdae);
        assert!((11.0..12.5).contains(&d), "{d}");
        assert_eq!(distance_km(gangnam, gangnam), 0.0);
        assert_eq!(parse_point(" 37.5, 127 "), Some(GeoPoint { lat: 37.5, lon: 127.0 }));
        assert_eq!(parse_point("91,0"), None);
        assert_eq!(parse_point("abc"), None);
    }

    #[test]
    fn districts_as_people_say_them() {
        let t: Theater = serde_json::from_str(
            r#"{"id":"hongdae","name":"Marquee Hongdae","name_ko":"마키 홍대","district":"마포","areas":["홍대입구","합정"],"screens":[]}"#,
        )
        .unwrap();
        for q in ["홍대 근처", "홍대", "마포구", "합정역 주변", "hongdae", "Hongdae area", "홍대입구역"]
        {
            assert!(in_district(&t, q), "{q}");
        }
        for q in ["강남", "", "근처", "대"] {
            assert!(!in_district(&t, q), "{q}");
        }
    }
}
