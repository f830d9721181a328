//! Text embeddings behind one trait, and the weight-free default embedder.
//!
//! `HashEmbedder` hashes words, Latin character trigrams and Hangul
//! syllable bigrams/unigrams into a fixed number of signed buckets
//! ("feature hashing") and L2-normalises the result. It needs no model
//! files, handles Korean and English alike, and is deterministic across
//! runs and machines. This module must not know about indexes.

use crate::text::{self, is_cjk};

/// Turns texts into L2-normalised vectors of a fixed dimension.
pub trait Embedder: Send + Sync + 'static {
    /// A short name for logs and the Embed RPC, e.g. `hash-ngram-384`.
    fn name(&self) -> &str;
    /// The vector dimension.
    fn dim(&self) -> usize;
    /// Embeds one text. The result has `dim()` entries and norm 1 (or is all
    /// zeros for text without any feature).
    fn embed(&self, text: &str) -> Vec<f32>;
    /// Embeds many documents (models batch them; the default loops).
    fn embed_batch(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        texts.iter().map(|t| self.embed(t)).collect()
    }
    /// Embeds a search query (models such as E5 prefix queries differently
    /// from documents; the default is [`Embedder::embed`]).
    fn embed_query(&self, text: &str) -> Vec<f32> {
        self.embed(text)
    }
}

/// Weight-free feature-hashing embedder over character n-grams.
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dim: usize,
    name: String,
}

/// Default dimension of [`HashEmbedder`] (the same as small sentence models).
pub const DEFAULT_DIM: usize = 384;

impl Default for HashEmbedder {
    fn default() -> Self {
        Self::new(DEFAULT_DIM)
    }
}

impl HashEmbedder {
    /// An embedder with `dim` buckets (at least 8).
    pub fn new(dim: usize) -> Self {
        let dim = dim.max(8);
        Self { dim, name: format!("hash-ngram-{dim}") }
    }

    fn add(&self, v: &mut [f32], feature: &[u8], salt: u8, weight: f32) {
        let h = fnv1a(feature, salt);
        #[allow(clippy::cast_possible_truncation)]
        let idx = (h % self.dim as u64) as usize;
        let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
        v[idx] += sign * weight;
    }
}

impl Embedder for HashEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, input: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dim];
        let mut buf = [0u8; 16];
        for word in text::words(input) {
            let chars: Vec<char> = word.chars().collect();
            if chars.iter().any(|&c| is_cjk(c)) {
                for &c in &chars {
                    self.add(&mut v, c.encode_utf8(&mut buf).as_bytes(), 1, 0.5);
                }
                for pair in chars.windows(2) {
                    let s: String = pair.iter().collect();
                    self.add(&mut v, s.as_bytes(), 2, 1.0);
                }
            } else {
                if crate::text::terms(&word, true).is_empty() {
                    continue; // a stopword
                }
                self.add(&mut v, word.as_bytes(), 3, 1.0);
                let padded: Vec<char> = std::iter::once('#').chain(chars).chain(std::iter::once('#')).collect();
                for tri in padded.windows(3) {
                    let s: String = tri.iter().collect();
                    self.add(&mut v, s.as_bytes(), 4, 0.35);
                }
            }
        }
        // Sub-linear term frequency: long synopses must not drown short titles.
        for x in &mut v {
            *x = x.signum() * x.abs().sqrt();
        }
        normalize(&mut v);
        v
    }
}

/// Scales `v` to unit length (leaves an all-zero vector as is).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}

/// Dot product; the cosine similarity of two normalised vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn fnv1a(bytes: &[u8], salt: u8) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(salt);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Final avalanche so that the top (sign) bit depends on every byte.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_normalised_and_deterministic() {
        let e = HashEmbedder::default();
        let a = e.embed("쇼생크 탈출 The Shawshank Redemption");
        assert_eq!(a.len(), DEFAULT_DIM);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-4);
        assert_eq!(a, e.embed("쇼생크 탈출 The Shawshank Redemption"));
    }

    #[test]
    fn similar_texts_are_closer_than_unrelated_ones() {
        let e = HashEmbedder::default();
        let q = e.embed("감옥 탈출 영화");
        let near = e.embed("감옥에서 탈출하는 남자의 이야기");
        let far = e.embed("우주 로봇 전쟁과 외계인");
        assert!(dot(&q, &near) > dot(&q, &far));
    }
}
