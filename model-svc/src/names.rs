//! The theater and movie names the booking dialogue recognises in one
//! request: those of the schedule the gateway sent with it (the seat store's
//! current one), built into a [`Lexicon`] once per schedule version and
//! cached; or, for a request without a schedule, the service's own
//! `--schedule-file` (none: no schedule names, only catalog titles and
//! showtimes seen in the conversation). The seat store owns the schedule;
//! this module never reads seats' files.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use dialog::Lexicon;

/// Schedule versions whose lexicon is kept. More than one, so requests of
/// nodes that switch to an admin's new schedule a moment apart do not evict
/// each other's; a handful, since a schedule changes rarely.
pub const CACHED_VERSIONS: usize = 4;

/// A named thing of a schedule (movie title or theater name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// Movie or theater id.
    pub id: String,
    /// English (or original) name.
    pub name: String,
    /// Korean name, when known.
    pub name_ko: Option<String>,
}

/// The names of a schedule, as a request carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleNames {
    /// Equal versions carry equal names (the sender's promise).
    pub version: String,
    /// The schedule's movies.
    pub movies: Vec<Name>,
    /// The schedule's theaters.
    pub theaters: Vec<Name>,
}

impl ScheduleNames {
    /// The lexicon of these names.
    pub fn lexicon(&self) -> Lexicon {
        let mut lex = Lexicon::new();
        for m in &self.movies {
            lex.add_movie(&m.id, &m.name, m.name_ko.as_deref(), &[]);
        }
        for t in &self.theaters {
            lex.add_theater(&t.id, &t.name, t.name_ko.as_deref());
        }
        lex
    }
}

/// Lexicons per schedule version, and the one for requests without a schedule.
#[derive(Debug, Default)]
pub struct Names {
    fallback: Arc<Lexicon>,
    cache: Mutex<VecDeque<(String, Arc<Lexicon>)>>,
}

impl Names {
    /// Names with `fallback` (the service's own schedule file) for requests
    /// that carry no schedule.
    pub fn new(fallback: Lexicon) -> Names {
        Names { fallback: Arc::new(fallback), cache: Mutex::default() }
    }

    /// The lexicon for a request carrying `schedule`.
    pub fn for_request(&self, schedule: Option<&ScheduleNames>) -> Arc<Lexicon> {
        let Some(schedule) = schedule else { return self.fallback.clone() };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, lex)) = cache.iter().find(|(v, _)| *v == schedule.version) {
            return lex.clone();
        }
        // Built under the lock: a few dozen names take microseconds, and two
        // requests of a new version then build it once.
        let lex = Arc::new(schedule.lexicon());
        if cache.len() == CACHED_VERSIONS {
            cache.pop_front();
        }
        cache.push_back((schedule.version.clone(), lex.clone()));
        lex
    }

    /// Schedule versions cached now (oldest first).
    pub fn cached_versions(&self) -> Vec<String> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(v, _)| v.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(version: &str, theater: &str) -> ScheduleNames {
        ScheduleNames {
            version: version.to_owned(),
            movies: vec![Name {
                id: "m1".into(), name: "Spirited Away".into(), name_ko: Some("센과 치히로".into())
            }],
            theaters: vec![Name { id: "t1".into(), name: theater.into(), name_ko: None }],
        }
    }

    #[test]
    fn one_lexicon_per_version_a_bounded_few_kept() {
        let names = Names::default();
        let v1 = schedule("v1", "Gangnam");
        let a = names.for_request(Some(&v1));
        assert!(Arc::ptr_eq(&a, &names.for_request(Some(&v1))), "built once per version");
        assert!(!Arc::ptr_eq(&a, &names.for_request(None)), "no schedule: the fallback");
        for i in 2..=CACHED_VERSIONS + 1 {
            names.for_request(Some(&schedule(&format!("v{i}"), "Hongdae")));
        }
        assert_eq!(names.cached_versions().len(), CACHED_VERSIONS);
        assert!(!names.cached_versions().contains(&"v1".to_owned()), "the oldest left first");
    }
}
