//! Search, Embed and Ingest over gRPC.

use proto::v1::{Filters, IngestRequest, Movie, Review, SearchMode, SearchRequest};

use crate::support::{TestServer, shared_data_dir, shared_loader};

fn search(query: &str) -> SearchRequest {
    SearchRequest { query: query.into(), limit: 5, ..Default::default() }
}

#[tokio::test]
async fn ingest_then_search_finds_the_new_record() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let movie = Movie {
        id: "it-new-1".into(),
        title: "The Velvet Cartographer".into(),
        title_ko: Some("벨벳 지도 제작자".into()),
        year: 2025,
        genres: vec!["Adventure".into()],
        cast: vec!["Ines Varga".into()],
        synopsis: Some("A mapmaker charts an island that moves every night.".into()),
        ..Default::default()
    };
    let review = Review {
        id: "it-rev-1".into(),
        movie_id: "it-new-1".into(),
        text: "섬이 움직이는 설정이 신선하고 지도 그리는 장면이 아름답다".into(),
        rating: 9,
        lang: "ko".into(),
    };
    let before = client.search(search("벨벳 지도 제작자")).await.unwrap().into_inner();
    assert!(before.hits.iter().all(|h| h.movie_id != "it-new-1"));

    let resp = client.ingest(IngestRequest { movies: vec![movie], reviews: vec![review] }).await.unwrap().into_inner();
    assert_eq!((resp.movies, resp.reviews), (1, 1));

    for q in ["벨벳 지도 제작자", "velvet cartographer", "island that moves every night"] {
        let hits = client.search(search(q)).await.unwrap().into_inner().hits;
        assert_eq!(hits[0].movie_id, "it-new-1", "query {q}: {hits:?}");
    }
    // The review is evidence for its movie.
    let hits = client.search(search("섬이 움직이는 설정")).await.unwrap().into_inner().hits;
    assert_eq!(hits[0].movie_id, "it-new-1");
    assert_eq!(hits[0].reviews[0].review_id, "it-rev-1");
    server.stop().await;
}

#[tokio::test]
async fn ingest_rejects_a_review_of_an_unknown_movie() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let review =
        Review { id: "x".into(), movie_id: "no-such-movie".into(), text: "good".into(), rating: 8, lang: "en".into() };
    let err = client.ingest(IngestRequest { movies: vec![], reviews: vec![review] }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test]
async fn filters_and_modes_apply_over_grpc() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let filters = Filters { genres: vec!["Horror".into()], year_min: Some(2019), ..Default::default() };
    for mode in [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Dense] {
        let req =
            SearchRequest {
                query: "무서운 영화".into(), filters: Some(filters.clone()), limit: 10, mode: mode.into()
            };
        let hits = client.search(req).await.unwrap().into_inner().hits;
        assert!(!hits.is_empty(), "{mode:?}");
        assert!(hits.iter().all(|h| h.genres.iter().any(|g| g == "Horror") && h.year >= 2019), "{mode:?}: {hits:?}");
    }
    let err = client.search(search("   ")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test]
async fn embed_returns_normalised_vectors() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let resp = client
        .embed(proto::v1::EmbedRequest { texts: vec!["무서운 영화".into(), "a scary movie".into()] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.vectors.len(), 2);
    assert_eq!(resp.dimensions, 384);
    for v in &resp.vectors {
        let norm: f32 = v.values.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-3);
    }
    server.stop().await;
}

#[tokio::test]
async fn shared_corpus_search_finds_movies_by_korean_title_actor_and_review() {
    let dir = shared_data_dir();
    let server = TestServer::start_ready(model_svc::Config::for_tests(), shared_loader(dir)).await;
    let mut client = server.client().await;
    for (q, id) in [
        ("시네마 천국", "nv10001"),
        ("마이클 J. 폭스 나오는 시간 여행 영화", "nv10002"),
        ("Back to the Future", "nv10002"),
        ("토토와 알프레도의 우정", "nv10001"),
    ] {
        let hits = client.search(search(q)).await.unwrap().into_inner().hits;
        assert!(hits.iter().take(5).any(|h| h.movie_id == id), "{q}: {hits:?}");
    }
    server.stop().await;
}

/// GETs `path` from `addr` over plain HTTP/1.1 and returns the body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    sock.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn rpc_latency_and_errors_are_served_on_the_metrics_listener() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    assert!(!client.search(search("heist thriller")).await.unwrap().into_inner().hits.is_empty());
    let err = client.search(search("  ")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let served = tokio::spawn(model_svc::metrics::serve(listener, stop.clone().cancelled_owned()));
    let text = http_get(addr, "/metrics").await;
    // Both searches were timed, the failed one too; the error is counted by kind.
    let count = text
        .lines()
        .find_map(|l| l.strip_prefix("marquee_model_rpc_seconds_count{method=\"search\"} "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(count.is_some_and(|n| n >= 2), "{text}");
    assert!(text.contains("marquee_model_rpc_seconds_bucket{method=\"search\",le=\"+Inf\"}"), "{text}");
    let errors = text
        .lines()
        .find_map(|l| l.strip_prefix("marquee_model_rpc_errors_total{kind=\"invalid_argument\"} "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(errors.is_some_and(|n| n >= 1), "{text}");
    stop.cancel();
    served.await.unwrap().unwrap();
}
