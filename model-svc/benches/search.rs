//! Criterion benchmarks: corpus ingestion, query embedding and search over
//! the shared corpus (`../shared/data/movies` beside the repository; the
//! built-in catalog when it is absent).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use model_svc::catalog::Catalog;
use model_svc::embed::{Embedder, HashEmbedder};
use model_svc::index::{Filters, Index, Mode};

const QUERIES: &[&str] = &[
    "1986년 베트남 전쟁 영화",
    "조디 포스터랑 안소니 홉킨스 나오는 스릴러",
    "a rat who wants to be a chef in a Paris restaurant",
    "Al Pacino and Robert De Niro heist thriller",
    "토토와 알프레도의 우정이 아름다운 영화",
    "is the silence of the lambs too scary",
];

fn catalog() -> Catalog {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/movies");
    if dir.join("movies.jsonl").is_file() {
        Catalog::load_dir(&dir).unwrap()
    } else {
        eprintln!("note: {} not found; benchmarking the built-in catalog", dir.display());
        Catalog::builtin().unwrap()
    }
}

fn benches(c: &mut Criterion) {
    let catalog = catalog();
    let records = (catalog.movies.len() + catalog.reviews.len()) as u64;
    let embedder = Arc::new(HashEmbedder::default());

    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(records));
    g.bench_function("full_corpus", |b| b.iter(|| Index::build(embedder.clone(), catalog.clone()).unwrap()));
    g.finish();

    let mut g = c.benchmark_group("embed");
    for q in [QUERIES[0], QUERIES[2]] {
        g.bench_with_input(BenchmarkId::new("query", q), q, |b, q| b.iter(|| embedder.embed(q)));
    }
    g.finish();

    let index = Index::build(embedder.clone(), catalog).unwrap();
    let mut g = c.benchmark_group("search");
    for (name, mode) in [("hybrid", Mode::Hybrid), ("lexical", Mode::Lexical), ("dense_exact", Mode::Dense)] {
        g.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % QUERIES.len();
                index.search(QUERIES[i], &Filters::default(), 10, mode)
            });
        });
    }
    let filters =
        Filters { genres: vec!["Horror".into()], year_min: Some(1980), year_max: Some(1999), ..Filters::default() };
    g.bench_function("hybrid_filtered", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % QUERIES.len();
            index.search(QUERIES[i], &filters, 10, Mode::Hybrid)
        });
    });
    g.finish();
}

criterion_group!(search, benches);
criterion_main!(search);
