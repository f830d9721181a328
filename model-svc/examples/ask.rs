//! Prints the composed answer for a question (a debugging aid):
//! `cargo run -p model-svc --example ask -- "question" [data-dir] [movie-id]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use std::sync::Arc;

use model_svc::answer::{AnswerRequest, Event, Stats, StreamOptions};
use model_svc::catalog::Catalog;
use model_svc::embed::HashEmbedder;
use model_svc::index::{Index, Store};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let catalog = match args.get(2).filter(|s| !s.is_empty()) {
        Some(dir) => Catalog::load_dir(std::path::Path::new(dir)).unwrap(),
        None => Catalog::builtin().unwrap(),
    };
    let embedder = Arc::new(HashEmbedder::default());
    let store = Store::new(embedder.clone());
    store.install(Index::build(embedder, catalog).unwrap());
    let req = AnswerRequest { text: args[1].clone(), movie_id: args.get(3).cloned(), ..Default::default() };
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let task = tokio::spawn(model_svc::answer::run(
        store,
        req,
        tx,
        StreamOptions::default(),
        Arc::new(Stats::default()),
        tokio_util::sync::CancellationToken::new(),
    ));
    while let Some(ev) = rx.recv().await {
        match ev.unwrap() {
            Event::Text(t) => print!("{t}"),
            Event::Citation(c) => {
                print!(" [{}{}]", c.movie_id, c.review_id.map(|r| format!("/{r}")).unwrap_or_default())
            }
            Event::ToolCall { call, .. } => print!("\n<tool {} {}>", call.name(), call.arguments_json()),
            Event::Final(f) => println!("\n--- speech: {}\n--- {:?}", f.speech, f.timings),
        }
    }
    task.await.unwrap();
}
