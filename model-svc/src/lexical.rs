//! BM25F-style lexical index over character-bigram/word terms (see `text`).
//!
//! Hand-written instead of tantivy: the corpus is small (≈30k short
//! documents), we need Korean bigrams, per-field boosts and in-place
//! replacement, and tantivy would add a long build on CI's 2 cores for
//! features we do not use. Documents are dense `u32` ids chosen by the index;
//! mapping them to movie/review ids is the caller's job.

use std::collections::HashMap;

use crate::text::{self, Term};

/// BM25 term-frequency saturation.
const K1: f32 = 1.2;
/// BM25 length normalisation.
const B: f32 = 0.75;

/// One weighted field of a document: its text and its boost.
pub type Field<'a> = (&'a str, f32);

/// An inverted index with BM25 scoring; fields are merged with boosts (BM25F).
#[derive(Debug, Default)]
pub struct Bm25Index {
    postings: HashMap<Term, Vec<(u32, f32)>>,
    doc_len: Vec<f32>,
    doc_terms: Vec<Vec<Term>>,
    live: Vec<bool>,
    total_len: f64,
    live_docs: usize,
}

impl Bm25Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of documents ever added (live or removed); the id space.
    pub fn capacity(&self) -> usize {
        self.live.len()
    }

    /// Adds a document made of boosted fields and returns its id.
    pub fn add(&mut self, fields: &[Field<'_>]) -> u32 {
        let doc = u32::try_from(self.live.len()).unwrap_or(u32::MAX);
        let mut tf: HashMap<Term, f32> = HashMap::new();
        let mut len = 0.0;
        for (txt, boost) in fields {
            for term in text::terms(txt, false) {
                *tf.entry(term).or_default() += boost;
                len += boost;
            }
        }
        let mut terms = Vec::with_capacity(tf.len());
        for (term, f) in tf {
            self.postings.entry(term.clone()).or_default().push((doc, f));
            terms.push(term);
        }
        self.doc_len.push(len);
        self.doc_terms.push(terms);
        self.live.push(true);
        self.total_len += f64::from(len);
        self.live_docs += 1;
        doc
    }

    /// Removes a document (its id is never reused).
    pub fn remove(&mut self, doc: u32) {
        let d = doc as usize;
        if !self.live.get(d).copied().unwrap_or(false) {
            return;
        }
        for term in std::mem::take(&mut self.doc_terms[d]) {
            if let Some(list) = self.postings.get_mut(&term) {
                list.retain(|&(id, _)| id != doc);
                if list.is_empty() {
                    self.postings.remove(&term);
                }
            }
        }
        self.live[d] = false;
        self.total_len -= f64::from(self.doc_len[d]);
        self.live_docs -= 1;
    }

    /// The highest BM25 score any document could reach for `query` (every
    /// indexed query term saturated in a short document). Dividing by it
    /// puts scores of different queries and indexes on one 0–1 scale.
    pub fn max_score(&self, query: &str) -> f32 {
        let mut qterms: HashMap<Term, f32> = HashMap::new();
        for t in text::terms(query, true) {
            *qterms.entry(t).or_default() += 1.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let n = self.live_docs as f32;
        qterms
            .iter()
            .filter_map(|(term, qtf)| {
                #[allow(clippy::cast_precision_loss)]
                let df = self.postings.get(term)?.len() as f32;
                Some(qtf.sqrt() * (1.0 + (n - df + 0.5) / (df + 0.5)).ln() * (K1 + 1.0))
            })
            .sum()
    }

    /// Scores every live document matching `query` and returns the best `k`
    /// accepted by `accept`, best first.
    pub fn search(&self, query: &str, k: usize, accept: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let mut qterms: HashMap<Term, f32> = HashMap::new();
        for t in text::terms(query, true) {
            *qterms.entry(t).or_default() += 1.0;
        }
        if qterms.is_empty() || self.live_docs == 0 {
            return Vec::new();
        }
        #[allow(clippy::cast_precision_loss)]
        let n = self.live_docs as f32;
        #[allow(clippy::cast_possible_truncation)]
        let avg_len = (self.total_len / self.live_docs as f64).max(1.0) as f32;
        // A dense accumulator: common Korean bigrams have long posting lists,
        // and hashing every posting was the largest cost of a query.
        let mut scores = vec![0.0f32; self.live.len()];
        let mut touched: Vec<u32> = Vec::new();
        for (term, qtf) in &qterms {
            let Some(list) = self.postings.get(term) else { continue };
            #[allow(clippy::cast_precision_loss)]
            let df = list.len() as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            let w = qtf.sqrt() * idf * (K1 + 1.0);
            for &(doc, tf) in list {
                let len = self.doc_len[doc as usize];
                let slot = &mut scores[doc as usize];
                if *slot == 0.0 {
                    touched.push(doc);
                }
                *slot += w * tf / (tf + K1 * (1.0 - B + B * len / avg_len));
            }
        }
        let mut hits: Vec<(u32, f32)> =
            touched.into_iter().filter(|&d| accept(d)).map(|d| (d, scores[d as usize])).collect();
        top_k(&mut hits, k);
        hits
    }
}

/// Keeps the `k` highest-scoring pairs, sorted best first (ties by id for determinism).
pub fn top_k(hits: &mut Vec<(u32, f32)>, k: usize) {
    let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if hits.len() > k && k > 0 {
        hits.select_nth_unstable_by(k - 1, cmp);
        hits.truncate(k);
    }
    hits.sort_unstable_by(cmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_query_matches_inflected_text_and_boosts_count() {
        let mut ix = Bm25Index::new();
        let a = ix.add(&[("쇼생크 탈출", 3.0), ("감옥에서 탈출하는 이야기", 1.0)]);
        let b = ix.add(&[("시네마 천국", 3.0), ("영화관과 소년의 우정", 1.0)]);
        let hits = ix.search("탈출하는 영화", 10, |_| true);
        assert_eq!(hits[0].0, a);
        let hits = ix.search("소년과 영화관", 10, |_| true);
        assert_eq!(hits[0].0, b);
    }

    #[test]
    fn removed_documents_are_not_found() {
        let mut ix = Bm25Index::new();
        let a = ix.add(&[("space robots", 1.0)]);
        ix.remove(a);
        assert!(ix.search("robots", 10, |_| true).is_empty());
        let b = ix.add(&[("space robots again", 1.0)]);
        assert_eq!(ix.search("robots", 10, |_| true)[0].0, b);
    }
}
