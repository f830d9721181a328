//! The searchable corpus: movies and reviews with a lexical index for each,
//! exact (full-scan) search over movie vectors, and hybrid ranking by reciprocal rank fusion.
//!
//! One `Index` is the single source of truth for records; the service wraps
//! it in [`Store`] (a read-write lock held only for the duration of a call,
//! never across `.await`). Nothing here knows about gRPC.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::catalog::{Catalog, CatalogError, Movie, Review, validate_records};
use crate::crosslingual::{self, Lexicon};
use crate::dense::DenseIndex;
use crate::embed::Embedder;
use crate::lexical::{Bm25Index, top_k};
use crate::query::{self, Hints};

/// How many candidates each retriever contributes to fusion.
const CANDIDATES: usize = 100;
/// Shortest normalised Korean title (in characters) matched in a question.
const MIN_TITLE_CHARS_KO: usize = 2;
/// Korean titles at least this long match anywhere in a question; shorter ones
/// only as a whole word (optionally followed by a particle).
const FREE_TITLE_CHARS_KO: usize = 4;
/// Syllables a Korean title may be followed by inside one word (a particle: "타잔이랑").
const MAX_PARTICLE_CHARS: usize = 2;
/// One-word Latin titles this short ("It", "Up", "Big") count only when the
/// question capitalises them; otherwise "what is it about" names a film.
const SHORT_TITLE_CHARS_LATIN: usize = 4;
/// Reviews a Korean stem must occur in (for films with many reviews) to enter
/// the film's English review summary.
const SUMMARY_MIN_REVIEWS: usize = 2;
/// How the retrievers' evidence is combined.
///
/// Each retriever's score is first put on a 0–1 scale: lexical scores are
/// divided by the best score the query could reach (so a match of one common
/// bigram stays small even when it ranks first), dense scores are cosines.
/// The fused score is the weighted sum plus a reciprocal-rank term, so that
/// agreement between retrievers still counts when their scores are close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    /// Title of the movie spelled out in the question (0 or 1).
    pub title: f32,
    /// BM25F over movie fields, calibrated.
    pub movie_lexical: f32,
    /// Best matching review of the movie, calibrated.
    pub review_lexical: f32,
    /// Cosine of the movie vector.
    pub dense: f32,
    /// Weight of the reciprocal-rank-fusion term (k = 60) over all lists.
    pub rrf: f32,
    /// Bonus for matching a genre or year mentioned in the question (each).
    pub hint: f32,
}

impl Default for Fusion {
    fn default() -> Self {
        Self { title: 0.6, movie_lexical: 1.0, review_lexical: 0.7, dense: 0.3, rrf: 1.0, hint: 0.15 }
    }
}

/// RRF constant (the usual 60).
const RRF_K: f32 = 60.0;
/// Reviews attached to each hit as evidence.
const REVIEWS_PER_HIT: usize = 3;

/// Matching reviews per movie slot.
type Evidence = HashMap<u32, Vec<ReviewHit>>;

/// Hard filters on search results (all set ones must hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// English genre labels; a movie matches if it has any (case-insensitive).
    pub genres: Vec<String>,
    /// Minimum year (inclusive).
    pub year_min: Option<i32>,
    /// Maximum year (inclusive).
    pub year_max: Option<i32>,
    /// `ko` or `en`.
    pub language: Option<String>,
    /// Minimum rating (1–10).
    pub min_rating: Option<f32>,
}

impl Filters {
    /// True when `m` passes every set filter.
    pub fn accepts(&self, m: &Movie) -> bool {
        (self.genres.is_empty() || self.genres.iter().any(|g| m.genres.iter().any(|mg| mg.eq_ignore_ascii_case(g))))
            && self.year_min.is_none_or(|y| m.year >= y)
            && self.year_max.is_none_or(|y| m.year <= y)
            && self.language.as_deref().is_none_or(|l| m.has_language(l))
            && self.min_rating.is_none_or(|r| m.rating.is_some_and(|mr| mr >= r))
    }
}

/// Which retrievers to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Lexical (movies and reviews) and dense, fused.
    #[default]
    Hybrid,
    /// Lexical over movie fields and reviews only.
    Lexical,
    /// Dense (exact search over movie vectors) only.
    Dense,
}

/// A review with its match score.
#[derive(Debug, Clone)]
pub struct ReviewHit {
    /// The review.
    pub review: Review,
    /// BM25 score against the query.
    pub score: f32,
}

/// A ranked movie with the reviews that matched.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The movie.
    pub movie: Arc<Movie>,
    /// Fused score, higher is better.
    pub score: f32,
    /// Best-matching reviews of this movie, best first.
    pub reviews: Vec<ReviewHit>,
}

/// What reviewers think of a movie, from ratings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sentiment {
    /// Reviews counted.
    pub count: usize,
    /// Mean rating (1–10).
    pub mean: f32,
    /// Share of ratings ≥ 8.
    pub positive: f32,
    /// Share of ratings ≤ 4.
    pub negative: f32,
}

impl Sentiment {
    /// Aggregates `ratings` (1–10).
    pub fn of(ratings: impl IntoIterator<Item = u8>) -> Self {
        let (mut n, mut sum, mut pos, mut neg) = (0usize, 0u32, 0usize, 0usize);
        for r in ratings {
            n += 1;
            sum += u32::from(r);
            pos += usize::from(r >= 8);
            neg += usize::from(r <= 4);
        }
        if n == 0 {
            return Self::default();
        }
        #[allow(clippy::cast_precision_loss)]
        let nf = n as f32;
        #[allow(clippy::cast_precision_loss)]
        Self { count: n, mean: sum as f32 / nf, positive: pos as f32 / nf, negative: neg as f32 / nf }
    }
}

/// The in-memory search index. See the module docs.
pub struct Index {
    embedder: Arc<dyn Embedder>,
    /// Movie slot → movie (`None` once replaced). Slots are shared by
    /// `movie_lex` doc ids and `dense` node ids, which are always added together.
    movies: Vec<Option<Arc<Movie>>>,
    movie_slot: HashMap<String, u32>,
    reviews: Vec<Option<Review>>,
    review_slot: HashMap<String, u32>,
    reviews_of: HashMap<String, Vec<u32>>,
    movie_lex: Bm25Index,
    review_lex: Bm25Index,
    dense: DenseIndex,
    /// Normalised titles and aliases (English and Korean) → movie slots, for title matching.
    titles: Vec<(String, u32)>,
    /// Alias titles per movie id (from duplicates merged into it).
    aliases: HashMap<String, Vec<String>>,
    lexicon: Lexicon,
    /// Ids of records merged into another at ingest (duplicate → kept id).
    merged: HashMap<String, String>,
    fusion: Fusion,
}

/// Lower-case letters and digits only, accents folded: "Léon: The Professional!" → "leontheprofessional".
fn normalise_title(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).map(crosslingual::fold_accent).collect()
}

/// The names a title is asked by: itself, without a leading article, its main
/// title and its subtitle ("Léon: The Professional" → "Léon"), "&" as "and",
/// a trailing roman numeral as a digit ("Superman II" → "Superman 2"), and
/// without a leading number ("007 두번 산다" → "두번 산다").
pub fn title_forms(title: &str) -> Vec<String> {
    let mut forms = vec![title.trim().to_owned()];
    for sep in [":", " - ", " – ", " — ", "("] {
        if let Some((main, sub)) = title.split_once(sep) {
            forms.push(main.trim().to_owned());
            let sub = sub.trim_end_matches(')').trim();
            // A subtitle is a name of its own when it is more than a word
            // ("The Two Towers", "제국의 역습"), not "Part 2" or "The Professional".
            let long_words = sub.split_whitespace().filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3);
            let named = if crate::text::has_hangul(sub) {
                sub.chars().filter(|c| c.is_alphanumeric()).count() >= 3
            } else {
                long_words.filter(|w| !w.eq_ignore_ascii_case("the")).count() >= 2
            };
            if named {
                forms.push(sub.to_owned());
            }
        }
    }
    let mut more = Vec::new();
    for f in &forms {
        let lower = f.to_lowercase();
        if let Some(rest) = lower.strip_prefix("the ") {
            more.push(rest.to_owned());
        }
        if f.contains('&') {
            more.push(f.replace('&', " and "));
        }
        for (roman, digit) in [(" II", " 2"), (" III", " 3"), (" IV", " 4"), (" V", " 5"), (" VI", " 6")] {
            if let Some(stem) = f.strip_suffix(roman) {
                more.push(format!("{stem}{digit}"));
            }
        }
        if let Some((first, rest)) = f.split_once(' ')
            && first.chars().all(|c| c.is_ascii_digit())
            && rest.chars().filter(|c| c.is_alphanumeric()).count() >= 3
        {
            more.push(rest.to_owned());
        }
    }
    forms.extend(more);
    let mut seen = std::collections::HashSet::new();
    forms.retain(|f| !f.trim().is_empty() && seen.insert(normalise_title(f)));
    forms
}

/// A question prepared for title matching: its normalised characters with
/// word boundaries, and whether each word was capitalised.
struct TitleQuery {
    chars: Vec<char>,
    /// Word index of each char.
    word: Vec<u32>,
    /// Capitalised words (first letter upper-case in the question).
    capitalised: Vec<bool>,
}

impl TitleQuery {
    fn new(q: &str) -> Self {
        let (mut chars, mut word, mut capitalised) = (Vec::new(), Vec::new(), Vec::new());
        for (i, w) in q.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).enumerate() {
            capitalised.push(w.chars().next().is_some_and(char::is_uppercase));
            for c in w.chars().flat_map(char::to_lowercase).map(crosslingual::fold_accent) {
                chars.push(c);
                word.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        Self { chars, word, capitalised }
    }

    /// True when `title` (normalised) is named in the question under the title-word rule.
    fn names(&self, title: &[char]) -> bool {
        let n = title.len();
        if n == 0 || n > self.chars.len() {
            return false;
        }
        let hangul = title.iter().any(|&c| crate::text::is_cjk(c));
        (0..=self.chars.len() - n).any(|b| {
            if self.chars[b..b + n] != *title {
                return false;
            }
            let e = b + n;
            let starts = b == 0 || self.word[b - 1] != self.word[b];
            let rest_in_word = (e..self.chars.len()).take_while(|&i| self.word[i] == self.word[e - 1]).count();
            if hangul {
                n >= FREE_TITLE_CHARS_KO || (starts && rest_in_word <= MAX_PARTICLE_CHARS)
            } else {
                let whole = starts && rest_in_word == 0;
                let one_word = self.word[b] == self.word[e - 1];
                let short = one_word && n <= SHORT_TITLE_CHARS_LATIN && title.iter().any(|c| c.is_alphabetic());
                whole && (!short || self.capitalised.get(self.word[b] as usize).copied().unwrap_or(false))
            }
        })
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("embedder", &self.embedder.name())
            .field("movies", &self.movie_slot.len())
            .field("reviews", &self.review_slot.len())
            .finish_non_exhaustive()
    }
}

impl Index {
    /// An empty index using `embedder` for dense vectors.
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        let dim = embedder.dim();
        Self {
            embedder,
            movies: Vec::new(),
            movie_slot: HashMap::new(),
            reviews: Vec::new(),
            review_slot: HashMap::new(),
            reviews_of: HashMap::new(),
            movie_lex: Bm25Index::new(),
            review_lex: Bm25Index::new(),
            dense: DenseIndex::new(dim),
            titles: Vec::new(),
            aliases: HashMap::new(),
            lexicon: Lexicon::builtin(),
            merged: HashMap::new(),
            fusion: Fusion::default(),
        }
    }

    /// An index holding `catalog`.
    ///
    /// # Errors
    /// When a record is invalid.
    pub fn build(embedder: Arc<dyn Embedder>, catalog: Catalog) -> Result<Self, CatalogError> {
        let mut ix = Self::new(embedder);
        let merged = merge_duplicates(catalog);
        ix.merged = merged.merged;
        ix.aliases = merged.aliases;
        let mut reviews = merged.catalog.reviews;
        for r in &mut reviews {
            if let Some(kept) = ix.merged.get(&r.movie_id) {
                r.movie_id.clone_from(kept);
            }
        }
        ix.ingest(merged.catalog.movies, reviews)?;
        Ok(ix)
    }

    /// Sets the fusion weights (the evaluation tunes them).
    pub fn set_fusion(&mut self, fusion: Fusion) {
        self.fusion = fusion;
    }

    /// The embedder used for dense vectors.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The id under which the movie `id` is indexed: its own, or that of the
    /// record it was merged into at ingest.
    pub fn canonical_id<'a>(&'a self, id: &'a str) -> &'a str {
        self.merged.get(id).map_or(id, String::as_str)
    }

    /// Number of live movies.
    pub fn movie_count(&self) -> usize {
        self.movie_slot.len()
    }

    /// Number of live reviews.
    pub fn review_count(&self) -> usize {
        self.review_slot.len()
    }

    /// The movie with `id`.
    pub fn movie(&self, id: &str) -> Option<Arc<Movie>> {
        self.movie_slot.get(id).and_then(|&s| self.movies[s as usize].clone())
    }

    /// Adds or replaces (by id) movies and reviews. All are validated first:
    /// on error nothing is changed.
    ///
    /// # Errors
    /// When a record is invalid or a review names an unknown movie.
    pub fn ingest(&mut self, movies: Vec<Movie>, reviews: Vec<Review>) -> Result<(usize, usize), CatalogError> {
        let batch: std::collections::HashSet<&str> = movies.iter().map(|m| m.id.as_str()).collect();
        validate_records(&movies, &reviews, |id| batch.contains(id) || self.movie_slot.contains_key(id))?;
        let (nm, nr) = (movies.len(), reviews.len());
        let texts: Vec<String> = movies.iter().map(dense_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = self.embedder.embed_batch(&refs);
        let mut review_texts: HashMap<&str, Vec<&str>> = HashMap::new();
        for r in &reviews {
            review_texts.entry(self.canonical_id(&r.movie_id)).or_default().push(&r.text);
        }
        let summaries: Vec<String> = movies
            .iter()
            .map(|m| {
                // This batch's reviews of the movie and those already indexed.
                let mut texts: Vec<&str> = review_texts.get(m.id.as_str()).cloned().unwrap_or_default();
                for &slot in self.reviews_of.get(&m.id).map_or(&[][..], Vec::as_slice) {
                    if let Some(r) = &self.reviews[slot as usize] {
                        texts.push(&r.text);
                    }
                }
                let min = if texts.len() >= 10 { SUMMARY_MIN_REVIEWS } else { 1 };
                self.lexicon.english_summary(texts.iter().copied(), min)
            })
            .collect();
        for ((m, v), summary) in movies.into_iter().zip(vectors).zip(summaries) {
            self.put_movie(m, &v, &summary);
        }
        for r in reviews {
            self.put_review(r);
        }
        Ok((nm, nr))
    }

    fn put_movie(&mut self, m: Movie, vector: &[f32], review_summary: &str) {
        if let Some(old) = self.movie_slot.remove(&m.id) {
            self.movie_lex.remove(old);
            self.dense.delete(old);
            self.movies[old as usize] = None;
            self.titles.retain(|&(_, s)| s != old);
        }
        let year = m.year.to_string();
        let cast = format!("{} {}", m.cast.join(" "), m.cast_ko.join(" "));
        let genres = format!("{} {}", m.genres.join(" "), m.genres_ko.join(" "));
        let countries = m.countries.join(" ");
        let title_ko = m.title_ko.as_deref().unwrap_or("");
        let synopsis = m.synopsis.as_deref().unwrap_or("");
        let synopsis_ko = m.synopsis_ko.as_deref().unwrap_or("");
        let aliases = self.aliases.get(&m.id).cloned().unwrap_or_default();
        let alias_text = aliases.join(" ");
        // Korean renderings of the English synopsis' key terms (and of the genres).
        let synopsis_terms_ko = if m.lang.as_deref() == Some("en") || synopsis_ko.is_empty() {
            self.lexicon.korean_terms(&format!("{synopsis} {}", m.genres.join(" ")))
        } else {
            String::new()
        };
        // Consonant skeletons of the English cast and title, met by Korean spellings.
        let skeletons = crosslingual::latin_skeleton_terms(&format!("{} {} {alias_text}", m.cast.join(" "), m.title));
        let slot = self.movie_lex.add(&[
            (&m.title, 3.0),
            (title_ko, 3.0),
            (&alias_text, 3.0),
            (&cast, 2.0),
            (&genres, 1.5),
            (&year, 1.0),
            (&countries, 0.5),
            (synopsis, 1.0),
            (synopsis_ko, 1.0),
            (&synopsis_terms_ko, 0.8),
            (review_summary, 0.8),
            (&skeletons, 0.8),
        ]);
        let node = self.dense.insert(vector);
        debug_assert_eq!(slot, node, "movie slots of the lexical and dense indexes are in lockstep");
        for t in std::iter::once(&m.title).chain(m.title_ko.as_ref()).chain(aliases.iter()) {
            for form in title_forms(t) {
                let norm = normalise_title(&form);
                let n = norm.chars().count();
                let min = if crate::text::has_hangul(&norm) { MIN_TITLE_CHARS_KO } else { 1 };
                if n >= min
                    && norm.chars().any(char::is_alphabetic)
                    && !self.titles.iter().any(|(t, s)| *s == slot && *t == norm)
                {
                    self.titles.push((norm, slot));
                }
            }
        }
        self.movie_slot.insert(m.id.clone(), slot);
        self.movies.push(Some(Arc::new(m)));
    }

    fn put_review(&mut self, r: Review) {
        if let Some(old) = self.review_slot.remove(&r.id) {
            self.review_lex.remove(old);
            if let Some(Some(prev)) = self.reviews.get(old as usize)
                && let Some(list) = self.reviews_of.get_mut(&prev.movie_id)
            {
                list.retain(|&x| x != old);
            }
            self.reviews[old as usize] = None;
        }
        let slot = self.review_lex.add(&[(&r.text, 1.0)]);
        self.review_slot.insert(r.id.clone(), slot);
        self.reviews_of.entry(r.movie_id.clone()).or_default().push(slot);
        self.reviews.push(Some(r));
    }

    fn live_movie(&self, slot: u32) -> Option<&Arc<Movie>> {
        self.movies.get(slot as usize).and_then(Option::as_ref)
    }

    fn accepts(&self, slot: u32, filters: &Filters) -> bool {
        self.live_movie(slot).is_some_and(|m| filters.accepts(m))
    }

    /// Movies whose title is spelled out in the question, longest title first.
    fn title_matches(&self, q: &str, filters: &Filters) -> Vec<(u32, f32)> {
        let tq = TitleQuery::new(q);
        let nq: String = tq.chars.iter().collect();
        let mut hits: Vec<(u32, f32)> = Vec::new();
        for (t, slot) in &self.titles {
            if !nq.contains(t.as_str()) {
                continue;
            }
            let tc: Vec<char> = t.chars().collect();
            #[allow(clippy::cast_precision_loss)]
            let len = tc.len() as f32;
            if let Some(h) = hits.iter_mut().find(|h| h.0 == *slot) {
                if len > h.1 && tq.names(&tc) {
                    h.1 = len;
                }
            } else if tq.names(&tc) && self.accepts(*slot, filters) {
                hits.push((*slot, len));
            }
        }
        top_k(&mut hits, CANDIDATES);
        // Longest match first; the score is 1 for the longest and a little
        // less for titles contained in it ("Rocky" inside "Rocky II").
        let longest = hits.first().map_or(1.0, |h| h.1);
        for h in &mut hits {
            h.1 = 0.5 + 0.5 * h.1 / longest;
        }
        hits
    }

    /// Movies ranked by BM25 over their fields, calibrated to 0–1.
    fn movie_lexical(&self, q: &str, filters: &Filters) -> Vec<(u32, f32)> {
        // Korean words also look for English names that sound the same.
        let skeletons = crosslingual::hangul_skeleton_terms(q);
        let q = if skeletons.is_empty() { q.to_owned() } else { format!("{q} {skeletons}") };
        let q = q.as_str();
        let max = self.movie_lex.max_score(q).max(f32::EPSILON);
        let mut hits = self.movie_lex.search(q, CANDIDATES, |s| self.accepts(s, filters));
        for h in &mut hits {
            h.1 /= max;
        }
        hits
    }

    /// Review hits of accepted movies, and movies ranked by their best reviews.
    fn review_lexical(&self, q: &str, filters: &Filters) -> (Vec<(u32, f32)>, Evidence) {
        let hits = self.review_lex.search(q, CANDIDATES * 3, |r| {
            self.reviews[r as usize]
                .as_ref()
                .and_then(|rv| self.movie_slot.get(&rv.movie_id))
                .is_some_and(|&s| self.accepts(s, filters))
        });
        let max = self.review_lex.max_score(q).max(f32::EPSILON);
        let mut per_movie: HashMap<u32, Vec<ReviewHit>> = HashMap::new();
        for (r, raw) in hits {
            let score = raw / max;
            let Some(review) = self.reviews[r as usize].as_ref() else {
                continue;
            };
            let Some(&slot) = self.movie_slot.get(&review.movie_id) else {
                continue;
            };
            per_movie.entry(slot).or_default().push(ReviewHit { review: review.clone(), score });
        }
        // A movie's evidence is its best review plus a little for corroboration.
        let mut ranked: Vec<(u32, f32)> = per_movie
            .iter()
            .map(|(&slot, rs)| (slot, rs[0].score + 0.2 * rs.iter().skip(1).take(2).map(|h| h.score).sum::<f32>()))
            .collect();
        top_k(&mut ranked, CANDIDATES);
        (ranked, per_movie)
    }

    /// Movies ranked by cosine similarity of their vectors (exact search:
    /// every accepted movie is scored, so a strict filter never starves it).
    fn dense_ranked(&self, q: &str, filters: &Filters) -> Vec<(u32, f32)> {
        let qv = self.embedder.embed_query(q);
        self.dense.search(&qv, CANDIDATES, |s| self.accepts(s, filters))
    }

    /// Each retriever's candidate list for `query` (movie id, calibrated score),
    /// best first, at most `k` each: a debugging aid for tuning (`examples/lists.rs`).
    pub fn candidate_lists(&self, query: &str, k: usize) -> Vec<(&'static str, Vec<(String, f32)>)> {
        let f = Filters::default();
        let named = |list: Vec<(u32, f32)>| -> Vec<(String, f32)> {
            list.into_iter().take(k).filter_map(|(s, score)| Some((self.live_movie(s)?.id.clone(), score))).collect()
        };
        vec![
            ("title", named(self.title_matches(query, &f))),
            ("movie_lexical", named(self.movie_lexical(query, &f))),
            ("review_lexical", named(self.review_lexical(query, &f).0)),
            ("dense", named(self.dense_ranked(query, &f))),
        ]
    }

    /// Ranks movies for `query`, best first, at most `limit`.
    pub fn search(&self, query: &str, filters: &Filters, limit: usize, mode: Mode) -> Vec<Hit> {
        let hints = query::hints(query);
        let f = self.fusion;
        let mut lists: Vec<(f32, Vec<(u32, f32)>)> = Vec::new();
        let mut evidence = HashMap::new();
        if mode != Mode::Dense {
            lists.push((f.title, self.title_matches(query, filters)));
            lists.push((f.movie_lexical, self.movie_lexical(query, filters)));
            let (ranked, per_movie) = self.review_lexical(query, filters);
            lists.push((f.review_lexical, ranked));
            evidence = per_movie;
        }
        if mode != Mode::Lexical {
            lists.push((f.dense, self.dense_ranked(query, filters)));
        }
        let mut fused: HashMap<u32, f32> = HashMap::new();
        for (weight, list) in &lists {
            for (rank, &(slot, score)) in list.iter().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let r = rank as f32;
                *fused.entry(slot).or_default() += weight * score + f.rrf / (RRF_K + r + 1.0);
            }
        }
        let mut ranked: Vec<(u32, f32)> = fused
            .into_iter()
            .map(|(slot, s)| (slot, s + self.live_movie(slot).map_or(0.0, |m| f.hint * hint_matches(m, &hints))))
            .collect();
        top_k(&mut ranked, limit);
        ranked
            .into_iter()
            .filter_map(|(slot, score)| {
                let movie = self.live_movie(slot)?.clone();
                let mut reviews = evidence.remove(&slot).unwrap_or_default();
                reviews.truncate(REVIEWS_PER_HIT);
                Some(Hit { movie, score, reviews })
            })
            .collect()
    }

    /// Reviews of `movie_id` best matching `query` (most recent first when
    /// nothing matches), and the sentiment of all its reviews.
    pub fn reviews_for(&self, movie_id: &str, query: &str, k: usize) -> (Vec<ReviewHit>, Sentiment) {
        let Some(slots) = self.reviews_of.get(movie_id) else {
            return (Vec::new(), Sentiment::default());
        };
        let live: Vec<&Review> = slots.iter().filter_map(|&s| self.reviews[s as usize].as_ref()).collect();
        let sentiment = Sentiment::of(live.iter().map(|r| r.rating));
        let mut hits: Vec<ReviewHit> = self
            .review_lex
            .search(query, k, |r| self.reviews[r as usize].as_ref().is_some_and(|rv| rv.movie_id == movie_id))
            .into_iter()
            .filter_map(|(r, score)| Some(ReviewHit { review: self.reviews[r as usize].clone()?, score }))
            .collect();
        if hits.is_empty() {
            hits = live.iter().take(k).map(|r| ReviewHit { review: (*r).clone(), score: 0.0 }).collect();
        }
        (hits, sentiment)
    }
}

/// The text a movie's dense vector is computed from.
fn dense_text(m: &Movie) -> String {
    format!(
        "{} {} {} {} {} {} {} {} {}",
        m.title,
        m.title_ko.as_deref().unwrap_or(""),
        m.genres.join(" "),
        m.genres_ko.join(" "),
        m.year,
        m.cast.join(" "),
        m.cast_ko.join(" "),
        m.synopsis.as_deref().unwrap_or(""),
        m.synopsis_ko.as_deref().unwrap_or("")
    )
}

/// A catalog with duplicate records merged, and what was merged.
struct Merged {
    catalog: Catalog,
    /// Dropped id → kept id.
    merged: HashMap<String, String>,
    /// Kept id → titles of the records merged into it.
    aliases: HashMap<String, Vec<String>>,
}

/// The source family of an id (`nv`, `nsyn`, `wp`, …): records of one source
/// are never duplicates of each other.
fn source_of(id: &str) -> &str {
    id.split(|c: char| c == '-' || c.is_ascii_digit()).next().unwrap_or(id)
}

/// Which of two duplicates is kept: the one with reviews (Naver), then the
/// one with a Korean title, then the first.
fn keep_rank(m: &Movie) -> u8 {
    match source_of(&m.id) {
        "nv" => 0,
        "nsyn" => 1,
        _ => 2,
    }
}

/// Merges records of one film from different sources: same year and the same
/// main title (accents, case, punctuation and subtitles ignored), e.g. `nsyn-03`
/// "Leon" and `wp-Léon:_The_Professional`. The kept record takes what it lacks
/// from the other (English synopsis, cast, Korean title, link) and its title as an alias.
fn merge_duplicates(catalog: Catalog) -> Merged {
    let mut out = Merged { catalog: Catalog::default(), merged: HashMap::new(), aliases: HashMap::new() };
    let mut by_key: HashMap<(String, i32), usize> = HashMap::new();
    let main_title = |t: &str| normalise_title(t.split([':', '(']).next().unwrap_or(t));
    for m in catalog.movies {
        let key = (main_title(&m.title), m.year);
        let dup = (!key.0.is_empty() && m.year != 0)
            .then(|| by_key.get(&key).copied())
            .flatten()
            .filter(|&i| source_of(&out.catalog.movies[i].id) != source_of(&m.id));
        let Some(i) = dup else {
            by_key.insert(key, out.catalog.movies.len());
            out.catalog.movies.push(m);
            continue;
        };
        let existing = &mut out.catalog.movies[i];
        let (mut kept, other) =
            if keep_rank(&m) < keep_rank(existing) { (m, existing.clone()) } else { (existing.clone(), m) };
        absorb(&mut kept, &other);
        // Anything already merged into the dropped record now points at the kept one.
        for v in out.merged.values_mut() {
            if *v == other.id {
                v.clone_from(&kept.id);
            }
        }
        let mut names = out.aliases.remove(&other.id).unwrap_or_default();
        names.push(other.title.clone());
        out.aliases.entry(kept.id.clone()).or_default().extend(names);
        out.merged.insert(other.id.clone(), kept.id.clone());
        out.catalog.movies[i] = kept;
    }
    out.catalog.reviews = catalog.reviews;
    out
}

/// Fills what `kept` lacks from `other` (a record of the same film).
fn absorb(kept: &mut Movie, other: &Movie) {
    if kept.title_ko.is_none() {
        kept.title_ko.clone_from(&other.title_ko);
    }
    let kept_en = kept.lang.as_deref() == Some("en");
    if !kept_en && other.lang.as_deref() == Some("en") {
        if kept.lang.as_deref() == Some("ko") && kept.synopsis_ko.is_none() {
            kept.synopsis_ko = kept.synopsis.take();
        }
        kept.synopsis.clone_from(&other.synopsis);
        kept.lang.clone_from(&other.lang);
        kept.wiki_url.clone_from(&other.wiki_url);
    } else if kept.synopsis.is_none() {
        kept.synopsis.clone_from(&other.synopsis);
        kept.lang.clone_from(&other.lang);
    }
    if kept.synopsis_ko.is_none() {
        kept.synopsis_ko.clone_from(&other.synopsis_ko);
    }
    if kept.wiki_url.is_none() {
        kept.wiki_url.clone_from(&other.wiki_url);
    }
    for (mine, theirs) in [
        (&mut kept.cast, &other.cast),
        (&mut kept.cast_ko, &other.cast_ko),
        (&mut kept.genres, &other.genres),
        (&mut kept.genres_ko, &other.genres_ko),
        (&mut kept.countries, &other.countries),
    ] {
        for x in theirs {
            if !mine.contains(x) {
                mine.push(x.clone());
            }
        }
    }
    if kept.rating.is_none() {
        kept.rating = other.rating;
    }
}

/// How many of the question's hints (a genre, a year range) `m` matches: 0, 1 or 2.
fn hint_matches(m: &Movie, hints: &Hints) -> f32 {
    let genre = hints.genres.iter().any(|g| m.genres.iter().any(|mg| mg == g));
    let year = hints.years.is_some_and(|(lo, hi)| (lo..=hi).contains(&m.year));
    f32::from(u8::from(genre) + u8::from(year))
}

/// The shared handle to the index: readiness flag plus a lock held only
/// for the duration of one search or ingest (never across `.await`).
#[derive(Clone)]
pub struct Store {
    index: Arc<RwLock<Index>>,
    ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("ready", &self.is_ready()).finish_non_exhaustive()
    }
}

impl Store {
    /// An empty, not-ready store.
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        Self { index: Arc::new(RwLock::new(Index::new(embedder))), ready: Arc::new(AtomicBool::new(false)) }
    }

    /// True once the initial catalog is loaded.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Replaces the index with a fully built one and marks the store ready.
    pub fn install(&self, index: Index) {
        *self.index.write().unwrap_or_else(std::sync::PoisonError::into_inner) = index;
        self.ready.store(true, Ordering::Release);
    }

    /// Runs `f` with shared access to the index.
    pub fn read<T>(&self, f: impl FnOnce(&Index) -> T) -> T {
        f(&self.index.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Runs `f` with exclusive access to the index.
    pub fn write<T>(&self, f: impl FnOnce(&mut Index) -> T) -> T {
        f(&mut self.index.write().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::embed::HashEmbedder;

    fn builtin() -> Index {
        Index::build(Arc::new(HashEmbedder::default()), Catalog::builtin().unwrap()).unwrap()
    }

    fn movie(id: &str, title: &str, year: i32) -> Movie {
        serde_json::from_value(serde_json::json!({"id": id, "title": title, "year": year})).unwrap()
    }

    #[test]
    fn ingest_replaces_by_id_and_is_searchable() {
        let mut ix = builtin();
        let before = ix.movie_count();
        ix.ingest(vec![movie("x1", "Zanzibar Moonlight Express", 2001)], vec![]).unwrap();
        assert_eq!(ix.search("zanzibar moonlight", &Filters::default(), 3, Mode::Hybrid)[0].movie.id, "x1");
        ix.ingest(vec![movie("x1", "Quokka Harbour Nights", 2002)], vec![]).unwrap();
        assert_eq!(ix.movie_count(), before + 1);
        let hits = ix.search("zanzibar moonlight", &Filters::default(), 3, Mode::Lexical);
        assert!(hits.iter().all(|h| h.movie.id != "x1" || h.movie.title.starts_with("Quokka")));
        assert_eq!(ix.search("quokka harbour", &Filters::default(), 3, Mode::Hybrid)[0].movie.id, "x1");
    }

    #[test]
    fn filters_hold_for_every_hit_in_every_mode() {
        let ix = builtin();
        let f = Filters { year_min: Some(2015), min_rating: Some(7.0), ..Filters::default() };
        for mode in [Mode::Hybrid, Mode::Lexical, Mode::Dense] {
            let hits = ix.search("영화 movie", &f, 20, mode);
            assert!(hits.iter().all(|h| f.accepts(&h.movie)), "{mode:?}");
        }
    }

    fn movie_json(v: serde_json::Value) -> Movie {
        serde_json::from_value(v).unwrap()
    }

    fn index_of(movies: Vec<Movie>, reviews: Vec<Review>) -> Index {
        Index::build(Arc::new(HashEmbedder::default()), Catalog { movies, reviews }).unwrap()
    }

    #[test]
    fn title_forms_cover_subtitles_articles_numerals_and_ampersands() {
        let f = title_forms("Léon: The Professional");
        assert!(f.contains(&"Léon".to_owned()));
        assert!(!f.iter().any(|t| t == "The Professional"), "a one-word subtitle is no name: {f:?}");
        assert!(title_forms("Superman II").contains(&"Superman 2".to_owned()));
        assert!(title_forms("Thelma & Louise").iter().any(|t| normalise_title(t) == "thelmaandlouise"));
        assert!(title_forms("007 두번 산다").contains(&"두번 산다".to_owned()));
        assert!(title_forms("The Lord of the Rings: The Two Towers").contains(&"The Two Towers".to_owned()));
        assert!(!title_forms("Harry Potter – Part 2").iter().any(|t| t == "Part 2"));
    }

    #[test]
    fn a_title_counts_only_as_whole_words_and_short_ones_only_capitalised() {
        let tq = TitleQuery::new("what is it about, the Big one");
        assert!(!tq.names(&['i', 't']), "lower-case 'it' is not the film It");
        assert!(tq.names(&['b', 'i', 'g']), "capitalised 'Big' is");
        let tq = TitleQuery::new("is Heatwave good");
        assert!(!tq.names(&['h', 'e', 'a', 't']), "a title inside a longer word is not named");
        let tq = TitleQuery::new("타잔이랑 오멘 보고 싶어");
        assert!(tq.names(&['타', '잔']), "a Korean title followed by a particle");
        assert!(tq.names(&['오', '멘']));
        let tq = TitleQuery::new("사랑과영혼");
        assert!(!tq.names(&['영', '혼']), "a short Korean title must start a word");
        assert!(tq.names(&['사', '랑', '과', '영', '혼']));
    }

    #[test]
    fn duplicates_from_two_sources_merge_into_one_film_with_both_names() {
        let ix = index_of(
            vec![
                movie_json(serde_json::json!({"id": "nsyn-03", "title": "Leon", "title_ko": "레옹", "year": 1994,
                    "synopsis": "킬러가 소녀를 지킨다", "lang": "ko"})),
                movie_json(serde_json::json!({"id": "wp-Léon", "title": "Léon: The Professional", "year": 1994,
                    "synopsis": "A hitman takes in a girl.", "lang": "en", "cast": ["Jean Reno"]})),
                movie_json(serde_json::json!({"id": "wp-Leon_2", "title": "Leon", "year": 2011})),
            ],
            vec![],
        );
        assert_eq!(ix.movie_count(), 2, "same title and year from two sources is one film; another year is not");
        assert_eq!(ix.canonical_id("wp-Léon"), "nsyn-03");
        let m = ix.movie("nsyn-03").unwrap();
        assert_eq!(m.lang.as_deref(), Some("en"));
        assert_eq!(m.synopsis_ko.as_deref(), Some("킬러가 소녀를 지킨다"));
        assert_eq!(m.cast, vec!["Jean Reno".to_owned()]);
        for q in ["레옹 보고 싶어", "Léon: The Professional showtimes", "hitman takes in a girl"] {
            assert_eq!(ix.search(q, &Filters::default(), 3, Mode::Lexical)[0].movie.id, "nsyn-03", "{q}");
        }
    }

    #[test]
    fn korean_questions_reach_english_synopses_and_english_questions_korean_reviews() {
        let review = |id: &str, movie: &str, text: &str| Review {
            id: id.into(),
            movie_id: movie.into(),
            text: text.into(),
            rating: 9,
            lang: "ko".into(),
        };
        let ix = index_of(
            vec![
                movie_json(serde_json::json!({"id": "a", "title": "Harbor Lights", "year": 1990, "lang": "en",
                    "synopsis": "A prison guard befriends a dinosaur.", "cast": ["Kevin Costner"]})),
                movie_json(serde_json::json!({"id": "b", "title": "Quiet Fields", "year": 1991, "lang": "en",
                    "synopsis": "Two farmers argue about rain."})),
                movie_json(serde_json::json!({"id": "c", "title_ko": "고요", "title": "Goyo", "year": 1992})),
            ],
            vec![review("r1", "c", "너무 무서워서 잠을 못 잤다"), review("r2", "c", "무서운 장면이 많다")],
        );
        let top = |q: &str| ix.search(q, &Filters::default(), 3, Mode::Lexical)[0].movie.id.clone();
        assert_eq!(top("교도소 공룡 영화"), "a", "Korean renderings of the English synopsis");
        assert_eq!(top("케빈 코스트너 나오는 영화"), "a", "a Korean spelling of an English cast name");
        assert_eq!(top("the one reviewers found scary"), "c", "the English summary of Korean reviews");
    }

    #[test]
    fn sentiment_aggregates_ratings() {
        let s = Sentiment::of([10, 9, 2, 6]);
        assert_eq!(s.count, 4);
        assert!((s.mean - 6.75).abs() < 1e-6);
        assert!((s.positive - 0.5).abs() < 1e-6);
        assert!((s.negative - 0.25).abs() < 1e-6);
    }
}
