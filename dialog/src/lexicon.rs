//! The names the extractor can recognise: bookable movies (titles, Korean
//! titles, aliases) and theaters. Built by the caller from what it knows (the
//! schedule file's `movies`/`theaters`, `find_showtimes` results, a movie
//! catalog); nothing here is hard-coded, and no schedule file is read here
//! (the seat store owns the schedule). Matching is on a compact, phonetic
//! form so spacing and spelling variants ("센과치히로", "백 투 더 퓨처") match.

use serde::Deserialize;

use crate::text;

/// A named thing (movie or theater) and the keys that recognise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its id (movie id or theater id).
    pub id: String,
    /// Display names: English first, Korean second when known.
    pub title: String,
    /// Korean display name, when known.
    pub title_ko: Option<String>,
    /// Compact phonetic keys with a weight (longer and full names weigh more).
    keys: Vec<(Vec<char>, u32)>,
}

impl Entry {
    /// The name to show in the given language.
    pub fn display(&self, korean: bool) -> &str {
        if korean { self.title_ko.as_deref().unwrap_or(&self.title) } else { &self.title }
    }
}

/// Movies and theaters that can be named in a booking.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    movies: Vec<Entry>,
    theaters: Vec<Entry>,
}

/// The parts of a schedule file (`seats/data/demo.json` shape) we read.
#[derive(Deserialize)]
struct ScheduleNames {
    #[serde(default)]
    movies: Vec<NamedJson>,
    #[serde(default)]
    theaters: Vec<TheaterJson>,
}

#[derive(Deserialize)]
struct NamedJson {
    id: String,
    title: String,
    #[serde(default)]
    title_ko: Option<String>,
}

#[derive(Deserialize)]
struct TheaterJson {
    id: String,
    name: String,
    #[serde(default)]
    name_ko: Option<String>,
}

/// A schedule document could not be read.
#[derive(Debug, thiserror::Error)]
#[error("schedule names: {0}")]
pub struct LexiconError(#[from] serde_json::Error);

/// English words never used alone as a movie key (they are too common).
const COMMON_WORDS: &[&str] = &["the", "of", "and", "to", "a", "an", "in", "on", "at", "for", "back", "away", "three"];
/// Korean particles stripped from the end of a title word for partial keys.
const PARTICLES: &[char] = &['의', '과', '와'];

impl Lexicon {
    /// An empty lexicon.
    pub fn new() -> Lexicon {
        Lexicon::default()
    }

    /// Movies and theaters of a schedule file (`{"movies": [...], "theaters": [...]}`,
    /// the shape of `seats/data/demo.json` and of the admin schedule upload).
    ///
    /// # Errors
    /// When the document is not that shape.
    pub fn from_schedule_json(json: &str) -> Result<Lexicon, LexiconError> {
        let names: ScheduleNames = serde_json::from_str(json)?;
        let mut lex = Lexicon::new();
        for m in names.movies {
            lex.add_movie(&m.id, &m.title, m.title_ko.as_deref(), &[]);
        }
        for t in names.theaters {
            lex.add_theater(&t.id, &t.name, t.name_ko.as_deref());
        }
        Ok(lex)
    }

    /// Adds a movie, or more names for a movie already known by `id`.
    pub fn add_movie(&mut self, id: &str, title: &str, title_ko: Option<&str>, aliases: &[&str]) {
        let mut names: Vec<&str> = vec![title];
        names.extend(title_ko);
        names.extend(aliases.iter().copied());
        let mut keys = Vec::new();
        for n in names {
            movie_keys(n, &mut keys);
        }
        upsert(&mut self.movies, id, title, title_ko, keys);
    }

    /// Adds a movie recognised only by its whole names (no partial titles):
    /// for large catalogs, whose many short title fragments would otherwise
    /// match ordinary words.
    pub fn add_movie_whole(&mut self, id: &str, title: &str, title_ko: Option<&str>) {
        let keys = std::iter::once(title)
            .chain(title_ko)
            .map(text::compact)
            .filter(|k| k.len() >= 2)
            .map(|k| {
                let w = 100 + k.len() as u32;
                (k, w)
            })
            .collect();
        upsert(&mut self.movies, id, title, title_ko, keys);
    }

    /// Adds a theater; words shared by every theater's name (the brand) are
    /// not keys on their own.
    pub fn add_theater(&mut self, id: &str, name: &str, name_ko: Option<&str>) {
        let mut keys = vec![(text::compact(id), 10)];
        for n in std::iter::once(name).chain(name_ko) {
            keys.push((text::compact(n), 20));
            for w in n.split_whitespace() {
                let c = text::compact(w);
                if c.len() >= 2 {
                    keys.push((c, 10));
                }
            }
        }
        upsert(&mut self.theaters, id, name, name_ko, keys);
        // Brand words: present in every theater (only meaningful with two or more).
        if self.theaters.len() >= 2 {
            let firsts: Vec<Vec<Vec<char>>> =
                self.theaters.iter().map(|t| t.keys.iter().map(|k| k.0.clone()).collect()).collect();
            for t in &mut self.theaters {
                t.keys.retain(|(k, w)| *w > 10 || !firsts.iter().all(|ks| ks.contains(k)));
            }
        }
    }

    /// The movies.
    pub fn movies(&self) -> &[Entry] {
        &self.movies
    }

    /// The theaters.
    pub fn theaters(&self) -> &[Entry] {
        &self.theaters
    }

    /// A movie by id.
    pub fn movie(&self, id: &str) -> Option<&Entry> {
        self.movies.iter().find(|m| m.id == id)
    }

    /// A theater by id.
    pub fn theater(&self, id: &str) -> Option<&Entry> {
        self.theaters.iter().find(|t| t.id == id)
    }
}

fn upsert(list: &mut Vec<Entry>, id: &str, title: &str, title_ko: Option<&str>, keys: Vec<(Vec<char>, u32)>) {
    if let Some(e) = list.iter_mut().find(|e| e.id == id) {
        if e.title_ko.is_none() {
            e.title_ko = title_ko.map(str::to_owned);
        }
        for k in keys {
            if !e.keys.contains(&k) {
                e.keys.push(k);
            }
        }
    } else {
        list.push(Entry { id: id.to_owned(), title: title.to_owned(), title_ko: title_ko.map(str::to_owned), keys });
    }
}

/// Keys for one movie name: the whole name, runs of its words, and (for
/// Korean) prefixes of the whole name.
fn movie_keys(name: &str, keys: &mut Vec<(Vec<char>, u32)>) {
    let mut push = |k: Vec<char>, w: u32| {
        if !k.is_empty() && !keys.iter().any(|(x, _)| *x == k) {
            keys.push((k, w));
        }
    };
    let full = text::compact(name);
    push(full.clone(), 100 + full.len() as u32);
    let words: Vec<Vec<char>> = name
        .split(|c: char| c.is_whitespace() || c == ':' || c == '-')
        .map(|w| text::compact(&number_word(w)))
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > 1 || number_word(name) != name {
        push(words.concat(), 100 + full.len() as u32);
    }
    for i in 0..words.len() {
        for j in i + 1..=words.len() {
            let gram: Vec<char> = words[i..j].concat();
            let hangul = gram.iter().any(|c| text::is_hangul(*c));
            let plain: String = gram.iter().collect();
            let ok = if hangul {
                gram.len() >= 2
            } else if j - i == 1 {
                gram.len() >= 5 && !COMMON_WORDS.contains(&plain.as_str())
            } else {
                gram.len() >= 6
                    && !words[i..j].iter().all(|w| COMMON_WORDS.contains(&w.iter().collect::<String>().as_str()))
            };
            if ok {
                push(gram.clone(), gram.len() as u32 * 2);
            }
            if hangul
                && let Some(last) = gram.last()
                && PARTICLES.contains(last)
                && gram.len() >= 3
            {
                push(gram[..gram.len() - 1].to_vec(), gram.len() as u32 * 2 - 1);
            }
        }
    }
    if full.iter().any(|c| text::is_hangul(*c)) {
        for n in 3..full.len() {
            push(full[..n].to_vec(), n as u32 * 2);
        }
    }
}

/// Spells out a small number ("3 Idiots" is also "three idiots").
fn number_word(w: &str) -> String {
    const EN: &[&str] = &["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
    match w.parse::<usize>() {
        Ok(n) if n < EN.len() => EN[n].to_owned(),
        _ => w.to_owned(),
    }
}

/// A match of an entry in an utterance: the entry's index, where it ends in
/// the compact text (for "the last one named wins") and the matched span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub index: usize,
    pub start: usize,
    pub end: usize,
    pub weight: u32,
}

/// Non-overlapping matches of `entries` in the compact text `hay`, heaviest first.
pub(crate) fn find(entries: &[Entry], hay: &[char]) -> Vec<Found> {
    let mut all = Vec::new();
    for (index, e) in entries.iter().enumerate() {
        for (k, w) in &e.keys {
            if k.len() > hay.len() {
                continue;
            }
            for start in 0..=hay.len() - k.len() {
                if hay[start..start + k.len()] == k[..] {
                    all.push(Found { index, start, end: start + k.len(), weight: *w });
                }
            }
        }
    }
    all.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.start.cmp(&b.start)));
    let mut taken: Vec<Found> = Vec::new();
    for f in all {
        if taken.iter().all(|t| f.end <= t.start || f.start >= t.end) {
            taken.push(f);
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Lexicon {
        let mut l = Lexicon::new();
        l.add_movie("m1", "Spirited Away", Some("센과 치히로의 행방불명"), &[]);
        l.add_movie("m2", "Back to the Future", Some("빽 투 더 퓨쳐"), &[]);
        l.add_movie("m3", "3 Idiots", Some("세 얼간이"), &[]);
        l.add_theater("gangnam", "Marquee Gangnam", Some("마키 강남"));
        l.add_theater("hongdae", "Marquee Hongdae", Some("마키 홍대"));
        l
    }

    fn first(entries: &[Entry], s: &str) -> Option<String> {
        find(entries, &text::compact(s)).first().map(|f| entries[f.index].id.clone())
    }

    #[test]
    fn partial_and_respelled_titles_match() {
        let l = demo();
        assert_eq!(first(l.movies(), "센과 치히로 두 장").as_deref(), Some("m1"));
        assert_eq!(first(l.movies(), "백투더퓨처 내일").as_deref(), Some("m2"));
        assert_eq!(first(l.movies(), "three idiots please").as_deref(), Some("m3"));
        assert_eq!(first(l.movies(), "somewhere in the back"), None);
        assert_eq!(first(l.movies(), "세 명이요"), None);
    }

    #[test]
    fn brand_words_alone_do_not_name_a_theater() {
        let l = demo();
        assert_eq!(first(l.theaters(), "마키 홍대에서").as_deref(), Some("hongdae"));
        assert_eq!(first(l.theaters(), "Gangnam please").as_deref(), Some("gangnam"));
        assert_eq!(first(l.theaters(), "마키에서"), None);
    }
}
