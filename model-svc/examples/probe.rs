//! Prints hybrid/lexical/dense hits for a query (a debugging aid).
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use std::sync::Arc;

use model_svc::catalog::Catalog;
use model_svc::embed::HashEmbedder;
use model_svc::index::{Filters, Index, Mode};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let catalog = match args.get(2) {
        Some(dir) => Catalog::load_dir(std::path::Path::new(dir)).unwrap(),
        None => Catalog::builtin().unwrap(),
    };
    let ix = Index::build(Arc::new(HashEmbedder::default()), catalog).unwrap();
    let hits = ix.search(&args[1], &Filters::default(), 5, Mode::Lexical);
    for h in &hits {
        for r in &h.reviews {
            println!("    review {} {:.2} {}", h.movie.id, r.score, r.review.text);
        }
    }
    let (rv, s) = ix.reviews_for("nv10001", &args[1], 3);
    println!("nv10001 {s:?}");
    for r in rv {
        println!("    {:.2} {}", r.score, r.review.text);
    }
    for mode in [Mode::Lexical, Mode::Dense, Mode::Hybrid] {
        let hits = ix.search(&args[1], &Filters::default(), 5, mode);
        println!("{mode:?}");
        for h in hits {
            println!("  {:.4} {} {} / {:?}", h.score, h.movie.id, h.movie.title, h.movie.title_ko);
        }
    }
}

#[allow(dead_code)]
fn unused() {}
