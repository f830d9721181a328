//! The pretrained embedding models (candle) from the cache that
//! `scripts/lib.sh` (`ensure_embedding_model`, `ensure_multilingual_model`)
//! fills; a missing model fails the test with the step that installs it.

use std::path::PathBuf;

use model_svc::Config;
use model_svc::candle_embed::CandleEmbedder;
use model_svc::catalog::Catalog;
use model_svc::embed::{Embedder, dot};
use proto::v1::{EmbedRequest, SearchMode, SearchRequest};

use crate::support::TestServer;

/// The model directory named by `var`, else `~/.cache/marquee/models/<name>`.
///
/// # Panics
/// When the model is not there: the test command installs it first, so a
/// missing model is a broken set-up, not a reason to pass.
fn installed_model(var: &str, name: &str, install: &str) -> PathBuf {
    let dir = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").expect("HOME is set (the model cache is ~/.cache/marquee/models)");
        PathBuf::from(home).join(".cache/marquee/models").join(name)
    });
    assert!(
        dir.join("model.safetensors").is_file(),
        "no embedding model at {} (set {var} or install it: `source scripts/lib.sh && {install}`, which scripts/test runs first)",
        dir.display()
    );
    dir
}

fn model_dir() -> PathBuf {
    installed_model("MARQUEE_EMBED_MODEL_DIR", "all-minilm-l6-v2", "ensure_embedding_model")
}

#[test]
fn pretrained_model_embeds_by_meaning() {
    let dir = model_dir();
    let m = CandleEmbedder::load(&dir).unwrap();
    assert_eq!(m.dim(), 384);
    let v = m.embed_batch(&[
        "A man is playing a guitar.",
        "Someone plays a musical instrument.",
        "The stock market fell sharply.",
    ]);
    for x in &v {
        assert!((dot(x, x) - 1.0).abs() < 1e-3);
    }
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2, "{} vs {}", dot(&v[0], &v[1]), dot(&v[0], &v[2]));
    // Batched and single embeddings agree (padding must not change the result).
    let single = m.embed("The stock market fell sharply.");
    assert!(dot(&single, &v[2]) > 0.999);
}

#[test]
fn a_broken_model_dir_is_a_typed_error() {
    let dir = std::env::temp_dir().join(format!("marquee-no-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    assert!(CandleEmbedder::load(&dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn server_uses_the_configured_model_for_embed_and_dense_search() {
    let dir = model_dir();
    let config = Config { embed_model_dir: Some(dir), ..Config::for_tests() };
    let server = TestServer::start_ready(config, Box::pin(async { Catalog::builtin() })).await;
    let mut client = server.client().await;
    let e = client.embed(EmbedRequest { texts: vec!["a ghost calls a radio show".into()] }).await.unwrap().into_inner();
    assert_eq!(e.model, "all-minilm-l6-v2");
    assert_eq!(e.dimensions, 384);
    let req = SearchRequest {
        query: "a radio host gets phone calls from dead listeners".into(),
        limit: 3,
        mode: SearchMode::Dense.into(),
        ..Default::default()
    };
    let hits = client.search(req).await.unwrap().into_inner().hits;
    assert_eq!(hits[0].movie_id, "mq-015", "{hits:?}");
    server.stop().await;
}

fn multilingual_dir() -> PathBuf {
    installed_model("MARQUEE_EMBED_MODEL_DIR_MULTILINGUAL", "multilingual-e5-small-q4", "ensure_multilingual_model")
}

#[test]
fn converted_multilingual_model_understands_korean() {
    let dir = multilingual_dir();
    let m = CandleEmbedder::load(&dir).unwrap();
    assert_eq!((m.name(), m.dim()), ("multilingual-e5-small-q4", 384));
    let q = m.embed_query("감옥에서 탈출하는 영화");
    let prison_ko = m.embed("누명을 쓴 은행원이 교도소를 탈출한다");
    let prison_en = m.embed("A banker is sentenced to life in prison and escapes");
    let fish = m.embed("A clownfish searches the ocean for his son");
    assert!(dot(&q, &prison_ko) > dot(&q, &fish) + 0.05);
    assert!(dot(&q, &prison_en) > dot(&q, &fish), "cross-lingual: {} vs {}", dot(&q, &prison_en), dot(&q, &fish));
}

#[tokio::test]
async fn dense_search_with_the_multilingual_model_matches_korean_paraphrases() {
    let dir = multilingual_dir();
    let config = Config { embed_model_dir: Some(dir), ..Config::for_tests() };
    let server = TestServer::start_ready(config, Box::pin(async { Catalog::builtin() })).await;
    let mut client = server.client().await;
    let req = SearchRequest {
        query: "밤에 라디오 DJ한테 죽은 청취자가 전화하는 무서운 영화".into(),
        limit: 3,
        mode: SearchMode::Dense.into(),
        ..Default::default()
    };
    let hits = client.search(req).await.unwrap().into_inner().hits;
    assert_eq!(hits[0].movie_id, "mq-015", "{hits:?}");
    server.stop().await;
}
