//! The async-openai path against a local HTTP server that speaks the
//! streaming chat-completions protocol (SSE), including tool calls, 429/5xx
//! errors, a malformed stream and stalls.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use model_svc::Config;
use model_svc::catalog::Catalog;
use proto::v1::{AnswerRequest, Locale};
use serde_json::{Value, json};

use crate::support::{TestServer, ask};

type Requests = Arc<Mutex<Vec<Value>>>;

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let c = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {c}\n\n")
}

fn sse(chunks: Vec<String>, then_stall: bool) -> Response {
    let items = futures_util::stream::iter(chunks.into_iter().map(|c| Ok::<_, std::io::Error>(Bytes::from(c))));
    let body = if then_stall {
        Body::from_stream(items.chain(futures_util::stream::pending()))
    } else {
        Body::from_stream(items)
    };
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

/// The fake endpoint: the requested model name picks the behaviour.
async fn completions(State(requests): State<Requests>, body: String) -> Response {
    let req: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    requests.lock().unwrap().push(req.clone());
    let done = "data: [DONE]\n\n".to_owned();
    match req["model"].as_str().unwrap_or("") {
        "ok" => sse(
            vec![
                chunk(json!({"role": "assistant", "content": ""}), None),
                chunk(json!({"content": "《달빛 베이커리》를 "}), None),
                chunk(json!({"content": "추천해요."}), None),
                chunk(json!({}), Some("stop")),
                done,
            ],
            false,
        ),
        "tools" => sse(
            vec![
                chunk(json!({"role": "assistant", "content": "Let me find showtimes."}), None),
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                        "function": {"name": "find_showtimes", "arguments": ""}}]}),
                    None,
                ),
                chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"movie_id\":"}}]}), None),
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"mq-002\",\"party_size\":2}"}}]}),
                    None,
                ),
                chunk(json!({}), Some("tool_calls")),
                done,
            ],
            false,
        ),
        "rate-limited" => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":null}}"#,
        )
            .into_response(),
        "broken" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":{"message":"boom","type":"server_error","param":null,"code":null}}"#,
        )
            .into_response(),
        "malformed" => sse(vec!["data: {this is not json\n\n".to_owned(), done], false),
        "stall-first" => sse(vec![], true),
        "stall-mid" => sse(vec![chunk(json!({"role": "assistant", "content": "Half an ans"}), None)], true),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn fake_openai() -> (SocketAddr, Requests) {
    let requests: Requests = Arc::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state(requests.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, requests)
}

async fn server_with_llm(llm: SocketAddr, model: &str) -> TestServer {
    let config = Config {
        llm_base_url: Some(format!("http://{llm}/v1")),
        llm_model: model.to_owned(),
        llm_first_token_timeout_ms: 800,
        llm_idle_timeout_ms: 300,
        ..Config::for_tests()
    };
    TestServer::start_ready(config, Box::pin(async { Catalog::builtin() })).await
}

fn question(text: &str) -> AnswerRequest {
    AnswerRequest { conversation_id: "llm".into(), locale: Locale::Ko.into(), text: text.into(), ..Default::default() }
}

#[tokio::test]
async fn llm_text_is_streamed_with_passages_in_the_prompt_and_tools_declared() {
    let (llm, requests) = fake_openai().await;
    let server = server_with_llm(llm, "ok").await;
    let mut client = server.client().await;
    let mut q = question("달달한 로맨스 영화 추천해줘");
    q.recent_turns = vec![
        proto::v1::Turn { role: proto::v1::Role::User.into(), text: "안녕".into() },
        proto::v1::Turn { role: proto::v1::Role::Assistant.into(), text: "무엇을 도와드릴까요?".into() },
    ];
    let out = ask(&mut client, q).await;
    assert_eq!(out.text, "《달빛 베이커리》를 추천해요.");
    assert_eq!(out.deltas, 2);
    assert!(!out.citations.is_empty(), "citations of the prompt passages");
    let fin = out.fin.unwrap();
    assert_eq!(fin.generator, "llm:ok");
    assert_eq!(fin.speech, "달빛 베이커리를 추천해요.");

    let req = requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(req["stream"], true);
    let system = req["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("movie_id=mq-002"), "{system}");
    assert!(system.contains("Korean"));
    let roles: Vec<&str> = req["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(req["messages"][3]["content"], "달달한 로맨스 영화 추천해줘");
    let tools: Vec<&str> =
        req["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(
        tools,
        [
            "find_showtimes",
            "hold_best_available",
            "extend_hold",
            "release_hold",
            "confirm_booking",
            "cancel_booking",
            "list_bookings"
        ]
    );
    let confirm = &req["tools"][4]["function"]["parameters"]["required"];
    assert_eq!(confirm, &serde_json::json!(["showtime_id", "hold_id"]));
    server.stop().await;
}

#[tokio::test]
async fn llm_tool_calls_are_assembled_from_chunks() {
    let (llm, _) = fake_openai().await;
    let server = server_with_llm(llm, "tools").await;
    let mut client = server.client().await;
    let mut q = question("달빛 베이커리 2명 예매");
    q.dialog_state = r#"{"stage":"offered"}"#.into();
    let out = ask(&mut client, q).await;
    assert_eq!(out.text, "Let me find showtimes.");
    // The LLM path does not interpret the dialogue state; it passes it on.
    assert_eq!(out.fin.as_ref().unwrap().dialog_state, r#"{"stage":"offered"}"#);
    assert_eq!(out.tool_calls.len(), 1);
    assert_eq!(out.tool_calls[0].name, "find_showtimes");
    let args: Value = serde_json::from_str(&out.tool_calls[0].arguments_json).unwrap();
    // The call is parsed into the typed contract where it leaves the LLM:
    // the key find_showtimes does not take (the fake's "party_size") is
    // not passed on to the gateway.
    assert_eq!(args, json!({"movie_id": "mq-002"}));
    server.stop().await;
}

#[tokio::test]
async fn llm_errors_before_any_text_fall_back_to_the_composer() {
    let (llm, _) = fake_openai().await;
    for model in ["rate-limited", "broken", "malformed", "stall-first"] {
        let server = server_with_llm(llm, model).await;
        let mut client = server.client().await;
        let out = tokio::time::timeout(Duration::from_secs(20), ask(&mut client, question("가족이 볼 영화 추천해줘")))
            .await
            .unwrap_or_else(|_| panic!("{model}: the answer hung"));
        assert!(out.text.contains("골라 봤어요"), "{model}: {}", out.text);
        assert_eq!(out.fin.unwrap().generator, "composer (llm fallback)", "{model}");
        server.stop().await;
    }
}

#[tokio::test]
async fn llm_stalling_mid_answer_ends_with_unavailable_not_a_hang() {
    let (llm, _) = fake_openai().await;
    let server = server_with_llm(llm, "stall-mid").await;
    let mut client = server.client().await;
    let mut stream = client.answer(question("가족이 볼 영화 추천해줘")).await.unwrap().into_inner();
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        let mut text = String::new();
        loop {
            match stream.message().await {
                Ok(Some(proto::v1::AnswerEvent { event: Some(proto::v1::answer_event::Event::Text(t)) })) => {
                    text.push_str(&t.text);
                }
                Ok(Some(other)) => panic!("unexpected event {other:?}"),
                Ok(None) => panic!("stream ended without a status"),
                Err(status) => return (text, status),
            }
        }
    })
    .await
    .expect("the stalled answer must end");
    assert_eq!(result.0, "Half an ans");
    assert_eq!(result.1.code(), tonic::Code::Unavailable);
    server.stop().await;
}
