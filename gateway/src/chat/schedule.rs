//! The schedule names sent with every Answer request: the theaters and
//! movies of the seat store's current schedule (the gateway's SCHEDULE_FILE,
//! the demo week or an admin upload) as `marquee.v1.ScheduleNames`, so the
//! model service's booking dialogue names exactly what the seat store books.
//! The seat store owns the schedule; this module only reads it.

use std::sync::{Arc, Mutex, PoisonError};

use proto::v1 as pb;
use seats::Schedule;

/// The names of the schedule seen last. The seat store hands out the same
/// `Arc<Schedule>` until the schedule changes, so the names (and their
/// fingerprint) are built once per schedule, not once per request.
#[derive(Default)]
pub struct NamesCache {
    last: Mutex<Option<(Arc<Schedule>, pb::ScheduleNames)>>,
}

impl NamesCache {
    /// The names of `schedule`.
    pub fn names(&self, schedule: Arc<Schedule>) -> pb::ScheduleNames {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((seen, names)) = last.as_ref()
            && Arc::ptr_eq(seen, &schedule)
        {
            return names.clone();
        }
        let names = names_of(&schedule);
        *last = Some((schedule, names.clone()));
        names
    }
}

/// The theaters and movies of `schedule`, with a fingerprint of them as the
/// version: equal names give equal versions on every node and across
/// restarts, which is what lets the model service cache per version.
pub fn names_of(schedule: &Schedule) -> pb::ScheduleNames {
    let movies: Vec<pb::ScheduleName> = schedule
        .movies()
        .iter()
        .map(|m| pb::ScheduleName { id: m.id.clone(), name: m.title.clone(), name_ko: m.title_ko.clone() })
        .collect();
    let theaters: Vec<pb::ScheduleName> = schedule
        .theaters()
        .iter()
        .map(|t| pb::ScheduleName { id: t.id.clone(), name: t.name.clone(), name_ko: t.name_ko.clone() })
        .collect();
    let mut hash = Fnv1a::default();
    for (kind, list) in [(b'm', &movies), (b't', &theaters)] {
        for n in list {
            hash.write(&[kind]);
            for field in [Some(n.id.as_str()), Some(n.name.as_str()), n.name_ko.as_deref()] {
                // Length-prefixed (absent: u64::MAX), so field boundaries cannot shift.
                let bytes = field.map_or(&[][..], str::as_bytes);
                let len = field.map_or(u64::MAX, |f| f.len() as u64);
                hash.write(&len.to_le_bytes());
                hash.write(bytes);
            }
        }
    }
    pb::ScheduleNames { version: format!("fnv1a64:{:016x}", hash.0), movies, theaters }
}

/// 64-bit FNV-1a: a fixed, documented function (unlike `DefaultHasher`,
/// whose output may change between Rust releases), so versions stay equal
/// across nodes built by different toolchains.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_follows_the_names_only() {
        let demo = seats::demo::schedule_from_today().expect("demo schedule");
        let a = names_of(&demo);
        assert_eq!(a.movies.len(), demo.movies().len());
        assert_eq!(a.theaters.len(), demo.theaters().len());
        assert_eq!(names_of(&demo).version, a.version, "deterministic");
        // FNV-1a's published test vector: the function is the documented one.
        let mut h = Fnv1a::default();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);

        let mut json: serde_json::Value = serde_json::from_str(&demo.to_json()).expect("json");
        json["theaters"][0]["name"] = "Somewhere Else".into();
        let renamed = Schedule::from_json(&json.to_string()).expect("still a schedule");
        assert_ne!(names_of(&renamed).version, a.version, "a renamed theater is a new version");

        let cache = NamesCache::default();
        let shared = Arc::new(demo);
        assert_eq!(cache.names(shared.clone()), a);
        assert_eq!(cache.names(Arc::new(renamed)).theaters[0].name, "Somewhere Else");
    }
}
