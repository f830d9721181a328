//! Prints cosine similarities between texts under a model directory (a debugging aid):
//! `cargo run -p model-svc --example embed_probe -- MODEL-DIR "text a" "text b" ...`
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use model_svc::candle_embed::CandleEmbedder;
use model_svc::embed::{Embedder, dot};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let m = CandleEmbedder::load(std::path::Path::new(&args[0])).unwrap();
    let q = m.embed_query(&args[1]);
    for t in &args[2..] {
        println!("{:.3}  {t}", dot(&q, &m.embed(t)));
    }
}
