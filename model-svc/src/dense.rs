//! Exact top-k search by cosine similarity over L2-normalised vectors: one
//! contiguous matrix, a full scan with a filter predicate, tombstones for
//! replaced records. At this corpus size (a few thousand movies) a scan is
//! faster than an approximate index and has perfect recall; revisit with a
//! maintained ANN crate if the corpus grows by orders of magnitude
//! (BENCHMARKS.md has the numbers). This module knows nothing about movies.

use crate::lexical::top_k;

/// The vectors, row `id` at `vectors[id * dim..][..dim]`. Ids are dense and
/// assigned on insert.
#[derive(Debug)]
pub struct DenseIndex {
    dim: usize,
    vectors: Vec<f32>,
    deleted: Vec<bool>,
}

impl DenseIndex {
    /// An empty index for vectors of dimension `dim`.
    pub fn new(dim: usize) -> Self {
        Self { dim, vectors: Vec::new(), deleted: Vec::new() }
    }

    /// Number of vectors ever inserted (including deleted ones).
    pub fn len(&self) -> usize {
        self.deleted.len()
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.deleted.is_empty()
    }

    /// Inserts a vector and returns its id.
    ///
    /// # Panics
    /// If `v.len()` differs from the index dimension (a programming error).
    pub fn insert(&mut self, v: &[f32]) -> u32 {
        assert_eq!(v.len(), self.dim, "vector dimension");
        let id = u32::try_from(self.deleted.len()).unwrap_or(u32::MAX);
        self.vectors.extend_from_slice(v);
        self.deleted.push(false);
        id
    }

    /// Marks `id` deleted: it is never returned again.
    pub fn delete(&mut self, id: u32) {
        if let Some(d) = self.deleted.get_mut(id as usize) {
            *d = true;
        }
    }

    /// The `k` live vectors most similar to `q` (dot product, which is the
    /// cosine for normalised vectors) that `accept` lets through, best first;
    /// ties go to the lower id.
    pub fn search(&self, q: &[f32], k: usize, accept: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        if q.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        let mut hits: Vec<(u32, f32)> = self
            .vectors
            .chunks_exact(self.dim)
            .zip(&self.deleted)
            .zip(0u32..)
            .filter(|&((_, &deleted), id)| !deleted && accept(id))
            .map(|((row, _), id)| (id, dot(q, row)))
            .collect();
        top_k(&mut hits, k);
        hits
    }
}

/// Dot product with eight independent partial sums, so that the compiler can
/// keep them in SIMD lanes (a single running sum is a dependency chain that
/// float rules forbid reordering).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (xa, xb) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += xa[i] * xb[i];
        }
    }
    acc.iter().sum::<f32>() + tail
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
    fn returns_the_true_top_k_in_order() {
        let dim = 37; // not a multiple of the lane count: the tail counts too
        let data = random_vectors(500, dim, 7);
        let mut ix = DenseIndex::new(dim);
        for v in &data {
            ix.insert(v);
        }
        for q in random_vectors(20, dim, 99) {
            let mut want: Vec<(u32, f32)> = data
                .iter()
                .zip(0u32..)
                .map(|(v, id)| (id, v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>()))
                .collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1));
            let got = ix.search(&q, 10, |_| true);
            assert_eq!(got.len(), 10);
            let ids = |v: &[(u32, f32)]| v.iter().map(|h| h.0).collect::<Vec<_>>();
            assert_eq!(ids(&got), ids(&want[..10]));
            for (g, w) in got.iter().zip(&want) {
                assert!((g.1 - w.1).abs() < 1e-5, "{g:?} vs {w:?}");
            }
        }
    }

    #[test]
    fn deleted_and_filtered_vectors_are_not_returned() {
        let data = random_vectors(100, 16, 3);
        let mut ix = DenseIndex::new(16);
        for v in &data {
            ix.insert(v);
        }
        assert_eq!(ix.search(&data[5], 1, |_| true)[0].0, 5);
        ix.delete(5);
        assert!(ix.search(&data[5], 100, |_| true).iter().all(|h| h.0 != 5));
        assert_eq!(ix.search(&data[5], 100, |_| true).len(), 99);
        ix.delete(6);
        let even = ix.search(&data[8], 100, |id| id % 2 == 0);
        assert_eq!(even.len(), 49, "50 even ids, one of them (6) deleted");
        assert!(even.iter().all(|h| h.0 % 2 == 0));
        assert!(ix.search(&[1.0; 3], 10, |_| true).is_empty(), "a query of another dimension finds nothing");
    }
}
