//! A small HNSW (hierarchical navigable small world) index for cosine
//! similarity over L2-normalised vectors, plus exact search as the reference.
//!
//! Written here rather than taken from a crate because we need incremental
//! inserts (Ingest is visible to the next query), tombstones for replaced
//! records and a filter predicate during search, in a few hundred lines
//! without extra dependencies. Level assignment uses a seeded generator, so
//! builds are deterministic. This module knows nothing about movies.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::embed::dot;

/// HNSW tuning.
#[derive(Debug, Clone, Copy)]
pub struct HnswParams {
    /// Links per node on upper layers (layer 0 keeps `2 * m`).
    pub m: usize,
    /// Candidate list size while inserting.
    pub ef_construction: usize,
    /// Default candidate list size while searching.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self { m: 16, ef_construction: 100, ef_search: 96 }
    }
}

#[derive(Clone, Copy, PartialEq)]
struct Scored(f32, u32);

impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

/// The graph index. Node ids are dense and assigned on insert.
#[derive(Debug)]
pub struct Hnsw {
    dim: usize,
    params: HnswParams,
    vectors: Vec<f32>,
    /// `links[node][layer]` = neighbour ids.
    links: Vec<Vec<Vec<u32>>>,
    deleted: Vec<bool>,
    entry: Option<u32>,
    max_layer: usize,
    rng: u64,
}

impl Hnsw {
    /// An empty index for vectors of dimension `dim`.
    pub fn new(dim: usize, params: HnswParams) -> Self {
        Self {
            dim,
            params,
            vectors: Vec::new(),
            links: Vec::new(),
            deleted: Vec::new(),
            entry: None,
            max_layer: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Number of nodes ever inserted (including deleted ones).
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The stored vector of `node`.
    pub fn vector(&self, node: u32) -> &[f32] {
        let i = node as usize * self.dim;
        &self.vectors[i..i + self.dim]
    }

    /// Marks `node` deleted: it still routes searches but is never returned.
    pub fn delete(&mut self, node: u32) {
        if let Some(d) = self.deleted.get_mut(node as usize) {
            *d = true;
        }
    }

    fn next_rand(&mut self) -> f64 {
        // xorshift64*: deterministic and good enough for level draws.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        #[allow(clippy::cast_precision_loss)]
        let r = (x >> 11) as f64 / (1u64 << 53) as f64;
        r
    }

    fn random_level(&mut self) -> usize {
        #[allow(clippy::cast_precision_loss)]
        let ml = 1.0 / (self.params.m as f64).ln();
        let r = self.next_rand().max(f64::MIN_POSITIVE);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let level = (-r.ln() * ml).floor() as usize;
        level.min(16)
    }

    /// Inserts a vector (must have the index's dimension) and returns its node id.
    ///
    /// # Panics
    /// If `v.len()` differs from the index dimension (a programming error).
    pub fn insert(&mut self, v: &[f32]) -> u32 {
        assert_eq!(v.len(), self.dim, "vector dimension");
        let node = u32::try_from(self.links.len()).unwrap_or(u32::MAX);
        let level = self.random_level();
        self.vectors.extend_from_slice(v);
        self.links.push(vec![Vec::new(); level + 1]);
        self.deleted.push(false);
        let Some(mut ep) = self.entry else {
            self.entry = Some(node);
            self.max_layer = level;
            return node;
        };
        for layer in (level + 1..=self.max_layer).rev() {
            ep = self.greedy(v, ep, layer);
        }
        for layer in (0..=level.min(self.max_layer)).rev() {
            let found = self.search_layer(v, &[ep], self.params.ef_construction, layer);
            let max_links = if layer == 0 { self.params.m * 2 } else { self.params.m };
            let chosen: Vec<u32> = found.iter().take(self.params.m).map(|s| s.1).collect();
            for &n in &chosen {
                self.links[n as usize][layer].push(node);
                if self.links[n as usize][layer].len() > max_links {
                    self.shrink(n, layer, max_links);
                }
            }
            self.links[node as usize][layer] = chosen;
            if let Some(best) = found.first() {
                ep = best.1;
            }
        }
        if level > self.max_layer {
            self.max_layer = level;
            self.entry = Some(node);
        }
        node
    }

    /// Keeps the `max_links` closest neighbours of `n` on `layer`.
    fn shrink(&mut self, n: u32, layer: usize, max_links: usize) {
        let base = self.vector(n).to_vec();
        let mut scored: Vec<Scored> =
            self.links[n as usize][layer].iter().map(|&m| Scored(dot(&base, self.vector(m)), m)).collect();
        scored.sort_unstable_by(|a, b| b.cmp(a));
        scored.truncate(max_links);
        self.links[n as usize][layer] = scored.into_iter().map(|s| s.1).collect();
    }

    fn greedy(&self, q: &[f32], mut ep: u32, layer: usize) -> u32 {
        let mut best = dot(q, self.vector(ep));
        loop {
            let mut improved = false;
            for &n in self.links[ep as usize].get(layer).map_or(&[][..], Vec::as_slice) {
                let s = dot(q, self.vector(n));
                if s > best {
                    best = s;
                    ep = n;
                    improved = true;
                }
            }
            if !improved {
                return ep;
            }
        }
    }

    /// Beam search on one layer; returns up to `ef` nodes, best first.
    fn search_layer(&self, q: &[f32], entry: &[u32], ef: usize, layer: usize) -> Vec<Scored> {
        let mut visited = vec![false; self.links.len()];
        let mut candidates = BinaryHeap::new();
        let mut results: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::new();
        for &e in entry {
            visited[e as usize] = true;
            let s = Scored(dot(q, self.vector(e)), e);
            candidates.push(s);
            results.push(std::cmp::Reverse(s));
        }
        while let Some(c) = candidates.pop() {
            let worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
            if c.0 < worst && results.len() >= ef {
                break;
            }
            for &n in self.links[c.1 as usize].get(layer).map_or(&[][..], Vec::as_slice) {
                if std::mem::replace(&mut visited[n as usize], true) {
                    continue;
                }
                let s = Scored(dot(q, self.vector(n)), n);
                let worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
                if results.len() < ef || s.0 > worst {
                    candidates.push(s);
                    results.push(std::cmp::Reverse(s));
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        let mut out: Vec<Scored> = results.into_iter().map(|r| r.0).collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        out
    }

    /// Approximate top-`k` live nodes accepted by `accept`, best first, as
    /// `(node, cosine)`. May return fewer than `k` when the filter is strict;
    /// callers then fall back to [`Hnsw::exact`].
    pub fn search(&self, q: &[f32], k: usize, ef: usize, accept: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let Some(mut ep) = self.entry else {
            return Vec::new();
        };
        for layer in (1..=self.max_layer).rev() {
            ep = self.greedy(q, ep, layer);
        }
        self.search_layer(q, &[ep], ef.max(k), 0)
            .into_iter()
            .filter(|s| !self.deleted[s.1 as usize] && accept(s.1))
            .take(k)
            .map(|s| (s.1, s.0))
            .collect()
    }

    /// Exact top-`k` by scanning every live node: the reference for tests
    /// and the fallback for strict filters.
    pub fn exact(&self, q: &[f32], k: usize, accept: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = (0..self.links.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|&n| !self.deleted[n as usize] && accept(n))
            .map(|n| (n, dot(q, self.vector(n))))
            .collect();
        crate::lexical::top_k(&mut all, k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::normalize;

    fn random_vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                let mut v: Vec<f32> = (0..dim)
                    .map(|_| {
                        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                        #[allow(clippy::cast_precision_loss)]
                        let x = (s >> 40) as f32 / (1u64 << 24) as f32;
                        x - 0.5
                    })
                    .collect();
                normalize(&mut v);
                v
            })
            .collect()
    }

    #[test]
    fn hnsw_recall_against_exact_search_is_high() {
        let dim = 32;
        let data = random_vectors(2000, dim, 7);
        let mut ix = Hnsw::new(dim, HnswParams::default());
        for v in &data {
            ix.insert(v);
        }
        let queries = random_vectors(50, dim, 99);
        let mut found = 0;
        for q in &queries {
            let exact: Vec<u32> = ix.exact(q, 10, |_| true).into_iter().map(|h| h.0).collect();
            let approx: Vec<u32> = ix.search(q, 10, 96, |_| true).into_iter().map(|h| h.0).collect();
            found += approx.iter().filter(|n| exact.contains(n)).count();
        }
        let recall = f64::from(u32::try_from(found).unwrap_or(0)) / 500.0;
        assert!(recall >= 0.95, "recall@10 {recall}");
    }

    #[test]
    fn deleted_nodes_are_not_returned() {
        let data = random_vectors(100, 16, 3);
        let mut ix = Hnsw::new(16, HnswParams::default());
        for v in &data {
            ix.insert(v);
        }
        let top = ix.search(&data[5], 1, 32, |_| true);
        assert_eq!(top[0].0, 5);
        ix.delete(5);
        assert!(ix.search(&data[5], 10, 32, |_| true).iter().all(|h| h.0 != 5));
        assert!(ix.exact(&data[5], 10, |_| true).iter().all(|h| h.0 != 5));
    }
}
