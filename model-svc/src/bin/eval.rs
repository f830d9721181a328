//! Retrieval evaluation: recall@5 and MRR@10 of lexical, dense and hybrid
//! retrieval over a labelled question set (the dev set `eval/questions.jsonl`
//! by default; the held-out set is `eval/heldout.jsonl`).
//!
//! Scoring is strict: a question that expects several movies counts as found
//! at rank r only when *every* expected movie is in the top r (its rank is
//! that of the last one found). Records merged at ingest count for every id
//! they were merged from.
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
use model_svc::index::{Filters, Fusion, Hit, Index, Mode};

/// Evaluate retrieval on a labelled question set.
#[derive(Debug, clap::Parser)]
struct Args {
    /// Corpus directory (movies.jsonl, reviews.jsonl).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/movies"))]
    data_dir: PathBuf,
    /// Labelled questions (JSON Lines: id, question, expected ids, lang, kind, optional crosslingual).
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
    /// The question and the text that answers it are in different languages.
    #[serde(default)]
    crosslingual: bool,
}

impl Question {
    fn is_crosslingual(&self) -> bool {
        self.crosslingual || self.kind == "crosslingual"
    }
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

/// The strict rank (0-based) of `expected` in `hits`: the position of the last
/// expected movie found, or `None` when any is missing.
fn strict_rank(index: &Index, hits: &[Hit], expected: &[String]) -> Option<usize> {
    let mut worst = 0;
    for e in expected {
        let want = index.canonical_id(e);
        let pos = hits.iter().position(|h| h.movie.id == want)?;
        worst = worst.max(pos);
    }
    Some(worst)
}

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text =
        std::fs::read_to_string(&args.questions).with_context(|| format!("reading {}", args.questions.display()))?;
    let questions: Vec<Question> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", args.questions.display(), i + 1)))
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(questions.iter().all(|q| !q.expected.is_empty()), "every question needs an expected movie");
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
        "corpus: {} movies, {} reviews, indexed in {:.2?}; {}: {} questions ({} ko, {} en, {} cross-lingual); strict scoring",
        index.movie_count(),
        index.review_count(),
        started.elapsed(),
        args.questions.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
        questions.len(),
        questions.iter().filter(|q| q.lang == "ko").count(),
        questions.iter().filter(|q| q.lang == "en").count(),
        questions.iter().filter(|q| q.is_crosslingual()).count(),
    );
    let modes = [("lexical", Mode::Lexical), ("dense", Mode::Dense), ("hybrid", Mode::Hybrid)];
    // group → per-mode score
    let mut groups: BTreeMap<String, [Score; 3]> = BTreeMap::new();
    let mut overall = [Score::default(); 3];
    let mut miss_lines = Vec::new();
    for (m, (_, mode)) in modes.iter().enumerate() {
        for q in &questions {
            let hits = index.search(&q.question, &Filters::default(), 10, *mode);
            let rank = strict_rank(&index, &hits, &q.expected);
            overall[m].add(rank);
            let mut keys = vec![format!("kind:{}", q.kind), format!("lang:{}", q.lang)];
            keys.push(if q.is_crosslingual() { "cross-lingual:yes".into() } else { "cross-lingual:no".into() });
            for k in keys {
                groups.entry(k).or_default()[m].add(rank);
            }
            if args.misses && *mode == Mode::Hybrid && rank.is_none_or(|r| r >= 5) {
                let got: Vec<&str> = hits.iter().take(3).map(|h| h.movie.title.as_str()).collect();
                miss_lines.push(format!(
                    "  miss {} [{}{}] {} -> {:?} (rank {:?})",
                    q.id,
                    q.kind,
                    if q.is_crosslingual() { ", cross" } else { "" },
                    q.question,
                    got,
                    rank.map(|r| r + 1)
                ));
            }
        }
    }
    println!("\n{:<22} {:>5} {:>15} {:>15} {:>15}", "", "n", "lexical", "dense", "hybrid");
    println!("{:<22} {:>5} {:>15} {:>15} {:>15}", "", "", "R@5   MRR@10", "R@5   MRR@10", "R@5   MRR@10");
    let row = |name: &str, s: &[Score; 3]| {
        println!(
            "{name:<22} {:>5} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
            s[0].n,
            s[0].recall5(),
            s[0].mrr10(),
            s[1].recall5(),
            s[1].mrr10(),
            s[2].recall5(),
            s[2].mrr10()
        );
    };
    row("all", &overall);
    for (k, s) in &groups {
        row(k, s);
    }
    for l in &miss_lines {
        println!("{l}");
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
    Ok(())
}
