//! Prints each retriever's candidates and the hybrid ranking for queries over
//! the shared corpus (a tuning aid): `cargo run -p model-svc --example lists -- DIR "query" …`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use std::sync::Arc;

use model_svc::catalog::Catalog;
use model_svc::embed::HashEmbedder;
use model_svc::index::{Filters, Index, Mode};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let catalog = Catalog::load_dir(std::path::Path::new(&args[1])).unwrap();
    let ix = Index::build(Arc::new(HashEmbedder::default()), catalog).unwrap();
    for q in &args[2..] {
        println!("== {q}");
        for (name, list) in ix.candidate_lists(q, 5) {
            let shown: Vec<String> = list.iter().map(|(id, s)| format!("{id} {s:.2}")).collect();
            println!("  {name:<15} {}", shown.join(" | "));
        }
        let hits = ix.search(q, &Filters::default(), 5, Mode::Hybrid);
        let shown: Vec<String> = hits.iter().map(|h| format!("{} {:.2}", h.movie.id, h.score)).collect();
        println!("  {:<15} {}", "hybrid", shown.join(" | "));
    }
}
