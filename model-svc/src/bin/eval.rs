//! Retrieval evaluation: recall@5 and MRR@10 of lexical, dense and hybrid
//! retrieval over the labelled dev set `eval/questions.jsonl`.
//!
//! `cargo run -p model-svc --release --bin eval [-- --data-dir DIR --questions FILE]`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser as _;
use model_svc::candle_embed::CandleEmbedder;
use model_svc::catalog::Catalog;
use model_svc::embed::{Embedder, HashEmbedder};
use model_svc::index::{Filters, Fusion, Index, Mode};

/// Evaluate retrieval on the labelled dev set.
#[derive(Debug, clap::Parser)]
struct Args {
    /// Corpus directory (movies.jsonl, reviews.jsonl).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/movies"))]
    data_dir: PathBuf,
    /// Labelled questions (JSON Lines: question, expected ids, lang, kind).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/eval/questions.jsonl"))]
    questions: PathBuf,
    /// A pretrained embedding model directory for the dense retriever (n-gram hashing otherwise).
    #[arg(long, env = "MARQUEE_EMBED_MODEL_DIR")]
    embed_model_dir: Option<PathBuf>,
    /// Print every question the hybrid retriever misses at 5.
    #[arg(long)]
    misses: bool,
    /// Also measure per-query search latency (each question this many times) and print percentiles.
    #[arg(long, default_value_t = 0)]
    latency_runs: usize,
    /// Fusion weights to try instead of the defaults:
    /// title,movie_lexical,review_lexical,dense,rrf,hint (comma-separated).
    #[arg(long)]
    fusion: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct Question {
    id: String,
    lang: String,
    kind: String,
    question: String,
    expected: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Score {
    n: u32,
    hit5: u32,
    rr10: f64,
}

impl Score {
    fn add(&mut self, rank: Option<usize>) {
        self.n += 1;
        if let Some(r) = rank {
            if r < 5 {
                self.hit5 += 1;
            }
            if r < 10 {
                self.rr10 += 1.0 / (r as f64 + 1.0);
            }
        }
    }
    fn recall5(&self) -> f64 {
        f64::from(self.hit5) / f64::from(self.n.max(1))
    }
    fn mrr10(&self) -> f64 {
        self.rr10 / f64::from(self.n.max(1))
    }
}

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text =
        std::fs::read_to_string(&args.questions).with_context(|| format!("reading {}", args.questions.display()))?;
    let questions: Vec<Question> =
        text.lines().filter(|l| !l.trim().is_empty()).map(serde_json::from_str).collect::<Result<_, _>>()?;
    let started = Instant::now();
    let catalog = Catalog::load_dir(&args.data_dir).with_context(|| format!("loading {}", args.data_dir.display()))?;
    let embedder: Arc<dyn Embedder> = match &args.embed_model_dir {
        Some(dir) => Arc::new(CandleEmbedder::load(dir)?),
        None => Arc::new(HashEmbedder::default()),
    };
    println!("embedder: {} ({}-d)", embedder.name(), embedder.dim());
    let mut index = Index::build(embedder, catalog)?;
    if let Some(w) = &args.fusion {
        let v: Vec<f32> = w.split(',').map(str::parse).collect::<Result<_, _>>()?;
        anyhow::ensure!(v.len() == 6, "--fusion needs 6 numbers");
        index.set_fusion(Fusion {
            title: v[0],
            movie_lexical: v[1],
            review_lexical: v[2],
            dense: v[3],
            rrf: v[4],
            hint: v[5],
        });
    }
    println!(
        "corpus: {} movies, {} reviews, indexed in {:.2?}; {} questions ({} ko, {} en)",
        index.movie_count(),
        index.review_count(),
        started.elapsed(),
        questions.len(),
        questions.iter().filter(|q| q.lang == "ko").count(),
        questions.iter().filter(|q| q.lang == "en").count()
    );
    println!("\n{:<16} {:>9} {:>7}", "retriever", "recall@5", "MRR@10");
    let mut per_kind: BTreeMap<String, Score> = BTreeMap::new();
    let mut per_lang: BTreeMap<String, Score> = BTreeMap::new();
    let modes = [("lexical", Mode::Lexical), ("dense (exact)", Mode::Dense), ("hybrid", Mode::Hybrid)];
    for (name, mode) in modes {
        let mut score = Score::default();
        for q in &questions {
            let hits = index.search(&q.question, &Filters::default(), 10, mode);
            let rank = hits.iter().position(|h| q.expected.contains(&h.movie.id));
            score.add(rank);
            if mode == Mode::Hybrid {
                per_kind.entry(q.kind.clone()).or_default().add(rank);
                per_lang.entry(q.lang.clone()).or_default().add(rank);
                if args.misses && rank.is_none_or(|r| r >= 5) {
                    let got: Vec<&str> = hits.iter().take(3).map(|h| h.movie.title.as_str()).collect();
                    println!(
                        "  miss {} [{}] {} -> {:?} (rank {:?})",
                        q.id,
                        q.kind,
                        q.question,
                        got,
                        rank.map(|r| r + 1)
                    );
                }
            }
        }
        println!("{name:<16} {:>9.3} {:>7.3}", score.recall5(), score.mrr10());
    }
    if args.latency_runs > 0 {
        println!("\nsearch latency over {} queries x {} runs (limit 10):", questions.len(), args.latency_runs);
        for (name, mode) in modes {
            let mut us: Vec<u128> = Vec::new();
            for _ in 0..args.latency_runs {
                for q in &questions {
                    let t = Instant::now();
                    let hits = index.search(&q.question, &Filters::default(), 10, mode);
                    us.push(t.elapsed().as_micros());
                    std::hint::black_box(hits);
                }
            }
            us.sort_unstable();
            let pct = |p: f64| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
                let i = ((us.len() as f64 * p).ceil() as usize).saturating_sub(1);
                us[i.min(us.len() - 1)]
            };
            println!(
                "  {name:<14} p50 {:>6} us  p95 {:>6} us  p99 {:>6} us  max {:>6} us",
                pct(0.5),
                pct(0.95),
                pct(0.99),
                pct(1.0)
            );
        }
    }
    println!("\nhybrid by question kind:");
    for (k, s) in per_kind.iter().chain(per_lang.iter()) {
        println!("  {k:<14} n={:<3} recall@5 {:.3}  MRR@10 {:.3}", s.n, s.recall5(), s.mrr10());
    }
    Ok(())
}
