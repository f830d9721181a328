//! Streaming answers: Korean and English, citations, tool calls, cancellation.

use std::sync::atomic::Ordering;
use std::time::Duration;

use model_svc::Config;
use model_svc::catalog::Catalog;
use proto::v1::{AnswerRequest, Locale, ScreenContext, ToolResult};

use crate::support::{TestServer, ask};

fn req(text: &str, locale: Locale) -> AnswerRequest {
    AnswerRequest { conversation_id: "c1".into(), locale: locale.into(), text: text.into(), ..Default::default() }
}

#[tokio::test]
async fn korean_answer_streams_in_deltas_with_citations_and_a_final_event() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let out = ask(&mut client, req("아이랑 같이 볼 따뜻한 애니메이션 추천해줘", Locale::Ko)).await;
    assert!(out.deltas > 5, "streamed in small deltas: {}", out.deltas);
    assert!(out.text.contains("《종이 등불》"), "{}", out.text);
    assert!(out.text.contains("골라 봤어요"), "{}", out.text);
    assert!(!out.citations.is_empty());
    assert!(out.citations.iter().all(|c| !c.snippet.is_empty() && c.movie_id.starts_with("mq-")));
    let fin = out.fin.unwrap();
    assert_eq!(fin.locale(), Locale::Ko);
    assert!(!fin.speech.contains('《') && !fin.speech.contains('\n'));
    let t = fin.timings.unwrap();
    assert!(t.first_token_us > 0 && t.total_us >= t.first_token_us && t.retrieval_us > 0);
    assert!(out.tool_calls.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn english_answer_about_reviews_quotes_reviews_of_the_right_movie() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let out = ask(&mut client, req("Is The Quiet Floor scary?", Locale::En)).await;
    assert!(out.text.contains("The Quiet Floor"), "{}", out.text);
    assert!(out.text.contains("average rating"), "{}", out.text);
    let review_cites: Vec<_> = out.citations.iter().filter(|c| c.review_id.is_some()).collect();
    assert!(!review_cites.is_empty(), "{:?}", out.citations);
    assert!(review_cites.iter().all(|c| c.movie_id == "mq-003"), "{review_cites:?}");
    assert_eq!(out.fin.unwrap().locale(), Locale::En);
    server.stop().await;
}

#[tokio::test]
async fn korean_question_about_the_ending_of_the_movie_on_screen() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut r = req("결말 어때?", Locale::Unspecified);
    r.context = Some(ScreenContext { movie_id: Some("mq-008".into()), showtime_id: None });
    let out = ask(&mut client, r).await;
    assert!(out.text.contains("《서울 미제사건》"), "{}", out.text);
    assert!(out.text.contains("결말"), "{}", out.text);
    assert!(out.citations.iter().any(|c| c.review_id.is_some() && c.snippet.contains("결말")), "{:?}", out.citations);
    assert_eq!(out.fin.unwrap().locale(), Locale::Ko);
    server.stop().await;
}

#[tokio::test]
async fn booking_requests_propose_tool_calls() {
    let server = TestServer::start().await;
    let mut client = server.client().await;

    // A catalog title (not in the schedule file) is matched through retrieval.
    let out = ask(&mut client, req("달빛 베이커리 2명 예매하고 싶어", Locale::Ko)).await;
    assert_eq!(out.tool_calls.len(), 1, "{}", out.text);
    assert_eq!(out.tool_calls[0].name, "find_showtimes");
    let args: serde_json::Value = serde_json::from_str(&out.tool_calls[0].arguments_json).unwrap();
    assert_eq!(args, serde_json::json!({"movie_id": "mq-002"}));
    let fin = out.fin.unwrap();
    assert!(!fin.dialog_state.is_empty());

    // The showtime on screen and a party size: hold seats there.
    let mut r = req("Book three seats please", Locale::En);
    r.context = Some(ScreenContext { showtime_id: Some("st-42".into()), movie_id: Some("mq-002".into()) });
    let out = ask(&mut client, r).await;
    assert_eq!(out.tool_calls[0].name, "hold_best_available");
    let args: serde_json::Value = serde_json::from_str(&out.tool_calls[0].arguments_json).unwrap();
    assert_eq!(args, serde_json::json!({"showtime_id": "st-42", "party_size": 3, "class": "standard"}));
    server.stop().await;
}

#[tokio::test]
async fn malformed_tool_result_is_invalid_argument() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut r = req("ok", Locale::En);
    r.tool_results = vec![ToolResult {
        call_id: "x".into(),
        name: "find_showtimes".into(),
        result_json: "{nope".into(),
        is_error: false,
    }];
    let err = client.answer(r).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test]
async fn cancelling_a_stream_stops_generation() {
    let config = Config { delta_interval_ms: 50, ..Config::for_tests() };
    let server = TestServer::start_ready(config, Box::pin(async { Catalog::builtin() })).await;
    let mut client = server.client().await;
    let mut stream = client.answer(req("가족이 볼 영화 추천해줘", Locale::Ko)).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    drop(stream);
    testkit::eventually(Duration::from_secs(10), "the answer task notices the cancel", || async {
        (server.stats.cancelled.load(Ordering::Relaxed) == 1).then_some(())
    })
    .await;
    assert_eq!(server.stats.completed.load(Ordering::Relaxed), 0);
    assert_eq!(server.stats.started.load(Ordering::Relaxed), 1);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_ends_streams_in_progress() {
    let config = Config { delta_interval_ms: 200, ..Config::for_tests() };
    let server = TestServer::start_ready(config, Box::pin(async { Catalog::builtin() })).await;
    let mut client = server.client().await;
    let mut stream = client.answer(req("가족이 볼 영화 추천해줘", Locale::Ko)).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    let stopped = tokio::time::timeout(Duration::from_secs(10), server.stop()).await;
    assert!(stopped.is_ok(), "server stopped within the grace period");
    // The stream ends (with an error status or cleanly), it does not hang.
    let end =
        tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = stream.message().await {} }).await;
    assert!(end.is_ok());
}
