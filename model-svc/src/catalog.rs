//! The corpus as domain types: movies and reviews, and loading them from JSON Lines.
//!
//! This module only parses and validates records; it knows nothing about
//! indexes, gRPC or answers. The built-in catalog (`model-svc/data/`) is
//! compiled into the binary so the service always starts with some data.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The project's own small catalog, used when no data directory is configured.
const BUILTIN_MOVIES: &str = include_str!("../data/movies.jsonl");
/// Reviews of the built-in catalog.
const BUILTIN_REVIEWS: &str = include_str!("../data/reviews.jsonl");

/// A movie, as in `movies.jsonl` (fields we do not use are ignored).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Movie {
    /// Stable id, e.g. `nv10001` or `wp-Heat_(1995_film)`.
    pub id: String,
    /// English (or original) title.
    pub title: String,
    /// Korean release title.
    #[serde(default)]
    pub title_ko: Option<String>,
    /// Release year (0 when unknown).
    #[serde(default)]
    pub year: i32,
    /// English genre labels.
    #[serde(default)]
    pub genres: Vec<String>,
    /// Korean genre labels.
    #[serde(default)]
    pub genres_ko: Vec<String>,
    /// Cast in English/original spelling.
    #[serde(default)]
    pub cast: Vec<String>,
    /// Cast in Korean.
    #[serde(default)]
    pub cast_ko: Vec<String>,
    /// Countries of production.
    #[serde(default)]
    pub countries: Vec<String>,
    /// Mean user rating, 1–10.
    #[serde(default)]
    pub rating: Option<f32>,
    /// Synopsis (English when `lang` is `en`, otherwise Korean).
    #[serde(default)]
    pub synopsis: Option<String>,
    /// Language of `synopsis`.
    #[serde(default)]
    pub lang: Option<String>,
    /// A Korean synopsis when `synopsis` is English.
    #[serde(default)]
    pub synopsis_ko: Option<String>,
    /// The Wikipedia article the synopsis comes from (CC BY-SA attribution).
    #[serde(default)]
    pub wiki_url: Option<String>,
}

impl Movie {
    /// True when the movie has text (title or synopsis) in language `lang` (`ko`/`en`).
    pub fn has_language(&self, lang: &str) -> bool {
        match lang {
            "ko" => self.title_ko.is_some() || self.synopsis_ko.is_some() || self.lang.as_deref() == Some("ko"),
            "en" => self.lang.as_deref() == Some("en") || self.title.is_ascii(),
            _ => false,
        }
    }

    /// The title to show in `locale` (`ko` prefers the Korean title).
    pub fn display_title(&self, korean: bool) -> &str {
        match (&self.title_ko, korean) {
            (Some(ko), true) => ko,
            _ => &self.title,
        }
    }

    /// The attribution to show with a quoted synopsis, if the licence needs one.
    pub fn attribution(&self) -> String {
        match &self.wiki_url {
            Some(url) => format!(
                "Text from Wikipedia, the free encyclopedia, by Wikipedia contributors, licensed CC BY-SA 4.0; source: {url}"
            ),
            None => String::new(),
        }
    }
}

/// A user review, as in `reviews.jsonl`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Review {
    /// Stable id, e.g. `nsmc-10275182`.
    pub id: String,
    /// The movie reviewed.
    pub movie_id: String,
    /// Review text.
    pub text: String,
    /// Rating 1–10.
    pub rating: u8,
    /// `ko` or `en`.
    #[serde(default = "default_lang")]
    pub lang: String,
}

fn default_lang() -> String {
    "ko".to_owned()
}

/// Movies and reviews, before indexing.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// All movies.
    pub movies: Vec<Movie>,
    /// All reviews.
    pub reviews: Vec<Review>,
}

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not a valid record.
    #[error("{file}:{line}: invalid record: {source}")]
    Parse {
        /// The file (or `builtin`).
        file: String,
        /// 1-based line number.
        line: usize,
        /// The cause.
        source: serde_json::Error,
    },
    /// A record breaks a rule (empty id, rating out of range, unknown movie).
    #[error("invalid record {id}: {reason}")]
    Invalid {
        /// The record id.
        id: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Catalog {
    /// The catalog compiled into the binary.
    ///
    /// # Errors
    /// Only if the shipped files are broken (a test guards against that).
    pub fn builtin() -> Result<Self, CatalogError> {
        let catalog = Self {
            movies: parse_jsonl(BUILTIN_MOVIES, "builtin movies.jsonl")?,
            reviews: parse_jsonl(BUILTIN_REVIEWS, "builtin reviews.jsonl")?,
        };
        catalog.validate()?;
        Ok(catalog)
    }

    /// Loads `movies.jsonl` and (if present) `reviews.jsonl` from `dir`.
    ///
    /// # Errors
    /// When a file cannot be read or a record is invalid.
    pub fn load_dir(dir: &Path) -> Result<Self, CatalogError> {
        let movies_path = dir.join("movies.jsonl");
        let movies = read(&movies_path)?;
        let reviews_path = dir.join("reviews.jsonl");
        let reviews = if reviews_path.exists() { read(&reviews_path)? } else { String::new() };
        let catalog = Self {
            movies: parse_jsonl(&movies, &movies_path.display().to_string())?,
            reviews: parse_jsonl(&reviews, &reviews_path.display().to_string())?,
        };
        catalog.validate()?;
        Ok(catalog)
    }

    /// Checks ids and ratings. Reviews of unknown movies are an error here;
    /// at ingest time they may refer to movies already in the index.
    fn validate(&self) -> Result<(), CatalogError> {
        let ids: std::collections::HashSet<&str> = self.movies.iter().map(|m| m.id.as_str()).collect();
        validate_records(&self.movies, &self.reviews, |id| ids.contains(id))
    }
}

/// Validates records; `movie_known` says whether a review's movie exists.
pub(crate) fn validate_records(
    movies: &[Movie],
    reviews: &[Review],
    movie_known: impl Fn(&str) -> bool,
) -> Result<(), CatalogError> {
    for m in movies {
        if m.id.trim().is_empty() || m.title.trim().is_empty() {
            return Err(CatalogError::Invalid { id: m.id.clone(), reason: "movie needs an id and a title" });
        }
        if let Some(r) = m.rating
            && !(0.0..=10.0).contains(&r)
        {
            return Err(CatalogError::Invalid { id: m.id.clone(), reason: "rating must be within 0-10" });
        }
    }
    for r in reviews {
        if r.id.trim().is_empty() {
            return Err(CatalogError::Invalid { id: r.id.clone(), reason: "review needs an id" });
        }
        if !(1..=10).contains(&r.rating) {
            return Err(CatalogError::Invalid { id: r.id.clone(), reason: "review rating must be within 1-10" });
        }
        if !movie_known(&r.movie_id) {
            return Err(CatalogError::Invalid { id: r.id.clone(), reason: "review of an unknown movie" });
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(path).map_err(|source| CatalogError::Io { path: path.to_owned(), source })
}

fn parse_jsonl<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<Vec<T>, CatalogError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| CatalogError::Parse { file: file.to_owned(), line: i + 1, source })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builtin_catalog_loads_and_has_korean_titles_and_reviews() {
        let c = Catalog::builtin().unwrap();
        assert!(c.movies.len() >= 20);
        assert!(c.movies.iter().filter(|m| m.title_ko.is_some()).count() >= 10);
        assert!(c.reviews.iter().any(|r| r.lang == "ko"));
        assert!(c.reviews.iter().any(|r| r.lang == "en"));
    }

    #[test]
    fn review_of_unknown_movie_is_rejected() {
        let r = Review { id: "r1".into(), movie_id: "nope".into(), text: "x".into(), rating: 5, lang: "en".into() };
        assert!(validate_records(&[], &[r], |_| false).is_err());
    }
}
