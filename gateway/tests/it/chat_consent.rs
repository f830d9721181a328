//! Consent through the real pipeline (gateway nodes, the dispatcher, Redis,
//! model-svc): the consent set's replies to a read-back confirm nothing but a
//! clear yes, on the rule-based dialogue and on the LLM path, where the
//! gateway itself refuses `confirm_booking` without consent.

use serde_json::{Value, json};
use testkit::RedisServer;

use gateway::config::Role;

use crate::chat::{assert_coherent, events_until_final, tools};
use crate::support::{Client, ModelSvc, Node, http_get};

/// One turn in conversation `conv`: sent from `desk`, read on `phone`.
async fn turn(desk: &mut Client, phone: &mut Client, conv: &str, mid: &str, text: &str) -> (Value, Vec<Value>) {
    let ok = desk.request(json!({"type": "chat", "message_id": mid, "conversation": conv, "text": text})).await;
    assert_eq!(ok["type"], "chat_accepted", "{ok}");
    let events = events_until_final(phone, mid).await;
    let (attempt, _) = assert_coherent(&events);
    let actions = events.iter().filter(|e| e["event"] == "action" && e["attempt"] == attempt).cloned().collect();
    (events.last().unwrap().clone(), actions)
}

fn confirmed(actions: &[Value]) -> bool {
    actions.iter().any(|a| a["tool"] == "confirm_booking" && a["ok"] == true)
}

/// The Matrix tomorrow, named by its clock time ("7pm").
async fn matrix_tomorrow(desk: &mut Client) -> (String, String) {
    let tomorrow = jiff::Zoned::now().in_tz("Asia/Seoul").unwrap().date().tomorrow().unwrap();
    let list = desk.request(json!({"type": "showtimes", "date": tomorrow.to_string(), "movie": "nsyn-11"})).await;
    let starts = list["showtimes"][0]["starts_at"].as_str().expect("The Matrix shows tomorrow").to_owned();
    let at: jiff::Zoned = starts.parse().unwrap();
    let (h, m) = (at.hour(), at.minute());
    let h12 = if h > 12 { h - 12 } else { h };
    let half = if h >= 12 { "pm" } else { "am" };
    let clock = if m == 0 { format!("{h12}{half}") } else { format!("{h12}:{m:02} {half}") };
    (list["showtimes"][0]["id"].as_str().unwrap().to_owned(), clock)
}

#[tokio::test]
async fn chat_consent_set_through_the_pipeline_confirms_only_on_a_clear_yes() {
    let redis = RedisServer::start();
    let model = ModelSvc::start(0).await;
    // Two gateways and a dispatcher on one Redis, started one after the other
    // (each opens the shared ledger file); the set is
    // long, so one connection may say it quickly.
    let a = Node::start(Some(&redis), "a", |c| {
        c.role = Role::Gateway;
        c.chat_rate = 1000;
    })
    .await;
    let mut desk = Client::connect(&a, "halmeoni").await;
    let b = Node::start(Some(&redis), "b", |c| c.role = Role::Gateway).await;
    let mut phone = Client::connect(&b, "halmeoni").await;
    let url = model.url.clone();
    let d = Node::start(Some(&redis), "d", move |c| {
        c.role = Role::Dispatcher;
        c.model_svc_url = Some(url);
    })
    .await;
    // The dispatcher serves HTTP once it runs (an answer of any status).
    assert!(http_get(d.addr, "/healthz").await.0 > 0);
    phone.subscribe("user:halmeoni").await;
    let (_, clock) = matrix_tomorrow(&mut desk).await;
    let setup = format!("I'd like two tickets for The Matrix tomorrow at {clock}");
    let set: Vec<(&str, &str)> = booking_tools::consent::CONSENT_SET
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .collect();
    assert!(set.len() >= 60);
    let (mut conv, mut n, mut held, mut yes) = (0, 0, false, 0);
    let mut wrong = Vec::new();
    for (act, reply) in &set {
        if !held {
            conv += 1;
            n += 1;
            let (fin, actions) = turn(&mut desk, &mut phone, &format!("k{conv}"), &format!("m{n}"), &setup).await;
            assert_eq!(tools(&actions), ["find_showtimes", "hold_best_available"], "{fin}");
        }
        n += 1;
        let (fin, actions) = turn(&mut desk, &mut phone, &format!("k{conv}"), &format!("m{n}"), reply).await;
        let booked = confirmed(&actions);
        if *act == "yes" {
            yes += 1;
            if !booked {
                wrong.push(format!("{reply:?} (a clear yes) did not confirm: {}", fin["text"]));
            }
        } else {
            // The rule that must never break.
            assert!(!booked, "{reply:?} ({act}) confirmed a booking: {fin}");
            if *act == "hesitant" || *act == "question" || *act == "other" {
                assert!(tools(&actions).is_empty(), "{reply:?}: {actions:?}");
                let text = fin["text"].as_str().unwrap();
                assert!(text.contains("30,000") || text.contains("원") || text.contains("won"), "asked again: {fin}");
            }
        }
        // A booking, a release or a change ends this hold: the next reply gets a fresh read-back.
        held = !booked && !tools(&actions).iter().any(|t| *t == "release_hold" || *t == "hold_best_available");
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let bookings = desk.request(json!({"type": "my_bookings"})).await;
    assert_eq!(bookings["bookings"].as_array().unwrap().len(), yes, "one booking per clear yes and no other");
}

/// A chat-completions server that books as an LLM would if nothing held it
/// back: a new user turn proposes `hold_best_available` (first) or
/// `confirm_booking` of the hold it saw (after); a tool result is read back
/// (seats and total) and asked about.
async fn booking_llm(showtime: String) -> std::net::SocketAddr {
    use axum::body::{Body, Bytes};
    use axum::extract::State;
    use axum::http::header;
    use axum::response::IntoResponse;
    #[derive(Default)]
    struct Fake {
        showtime: String,
        hold: Option<Value>,
        n: u32,
    }
    type Shared = std::sync::Arc<std::sync::Mutex<Fake>>;
    fn chunk(delta: Value, finish: Option<&str>) -> String {
        let c = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    }
    fn won(n: u64) -> String {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
    async fn completions(State(fake): State<Shared>, body: String) -> axum::response::Response {
        let req: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let last = req["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or(Value::Null);
        let mut f = fake.lock().unwrap();
        f.n += 1;
        let call = |name: &str, args: Value, n: u32| {
            vec![
                chunk(json!({"role": "assistant", "content": "One moment. "}), None),
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": format!("call_{n}"), "type": "function",
                        "function": {"name": name, "arguments": args.to_string()}}]}),
                    None,
                ),
                chunk(json!({}), Some("tool_calls")),
            ]
        };
        let mut chunks = if last["role"] == "tool" {
            let result: Value = serde_json::from_str(last["content"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
            if result["hold_id"].is_string() {
                f.hold = Some(result.clone());
            }
            let text = match (&f.hold, result["booking_id"].as_str(), result["error"].as_str()) {
                (_, Some(id), _) => format!("Booked, number {id}."),
                (Some(h), None, err) => {
                    let seats: Vec<&str> = h["seats"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
                    let head = if err.is_some() { "I need your clear yes first. " } else { "" };
                    format!(
                        "{head}Seats {}, {} won in total. Shall I confirm?",
                        seats.join(", "),
                        won(h["amount"].as_u64().unwrap_or(0))
                    )
                }
                (None, None, _) => "Sorry.".to_owned(),
            };
            vec![chunk(json!({"role": "assistant", "content": text}), None), chunk(json!({}), Some("stop"))]
        } else {
            match f.hold.clone() {
                None => call("hold_best_available", json!({"showtime_id": f.showtime, "party_size": 2}), f.n),
                Some(h) => call("confirm_booking", json!({"showtime_id": h["showtime"], "hold_id": h["hold_id"]}), f.n),
            }
        };
        chunks.push("data: [DONE]\n\n".to_owned());
        let body = Body::from_stream(futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        ));
        ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
    }
    let shared: Shared = std::sync::Arc::new(std::sync::Mutex::new(Fake { showtime, ..Fake::default() }));
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(completions)).with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn chat_on_the_llm_path_the_gateway_refuses_a_confirm_the_user_did_not_consent_to() {
    // The showtime the fake LLM holds: The Matrix tomorrow, from a node of its own.
    let probe = Node::start(None, "probe", |_| {}).await;
    let mut c = Client::connect(&probe, "carol").await;
    let (showtime, _) = matrix_tomorrow(&mut c).await;
    drop(c);
    let llm = booking_llm(showtime.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{llm}/v1");
    let model =
        ModelSvc::start_with(listener, 0, &["--llm-base-url", &base, "--llm-model", "fake", "--llm-api-key", "k"])
            .await;
    let url = model.url.clone();
    let node = Node::start(None, "solo", move |c| c.model_svc_url = Some(url)).await;
    let mut me = Client::connect(&node, "carol").await;
    me.subscribe("user:carol").await;
    let mut phone = Client::connect(&node, "carol").await;
    phone.subscribe("user:carol").await;

    let (fin, actions) = turn(&mut me, &mut phone, "c1", "l1", "Book two seats for The Matrix tomorrow").await;
    assert_eq!(tools(&actions), ["hold_best_available"], "{fin}");
    assert_eq!(actions[0]["ok"], true, "{actions:?}");
    assert!(fin["text"].as_str().unwrap().contains("won in total"), "{fin}");
    // Hesitant and questioning yeses: the LLM proposes confirm, the gateway refuses.
    for (i, reply) in
        ["yes, wait a second", "네 근데 이거 얼마예요", "yes?", "네 잠깐만요 우리 딸한테 물어볼게요", "please"]
            .iter()
            .enumerate()
    {
        let (fin, actions) = turn(&mut me, &mut phone, "c1", &format!("l{}", i + 2), reply).await;
        assert_eq!(tools(&actions), ["confirm_booking"], "{reply}: {fin}");
        assert_eq!(actions[0]["ok"], false, "{reply}: {actions:?}");
        assert_eq!(actions[0]["result"]["error"], "consent_required", "{reply}: {actions:?}");
    }
    let none = me.request(json!({"type": "my_bookings"})).await;
    assert!(none["bookings"].as_array().unwrap().is_empty(), "{none}");
    // A clear yes to the read-back the user just heard confirms.
    let (fin, actions) = turn(&mut me, &mut phone, "c1", "l9", "yes, book it").await;
    assert_eq!(tools(&actions), ["confirm_booking"], "{fin}");
    assert_eq!(actions[0]["ok"], true, "{actions:?}");
    let one = me.request(json!({"type": "my_bookings"})).await;
    assert_eq!(one["bookings"].as_array().unwrap().len(), 1, "{one}");
}

#[tokio::test]
async fn chat_a_yes_without_a_read_back_before_it_confirms_nothing() {
    let probe = Node::start(None, "probe", |_| {}).await;
    let mut c = Client::connect(&probe, "dave").await;
    let (showtime, _) = matrix_tomorrow(&mut c).await;
    drop(c);
    let llm = booking_llm(showtime).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{llm}/v1");
    let model =
        ModelSvc::start_with(listener, 0, &["--llm-base-url", &base, "--llm-model", "fake", "--llm-api-key", "k"])
            .await;
    let url = model.url.clone();
    let node = Node::start(None, "solo", move |c| c.model_svc_url = Some(url)).await;
    let mut me = Client::connect(&node, "dave").await;
    me.subscribe("user:dave").await;
    let mut phone = Client::connect(&node, "dave").await;
    phone.subscribe("user:dave").await;
    turn(&mut me, &mut phone, "c1", "l1", "Book two seats for The Matrix tomorrow").await;
    // A new conversation: its previous bot turn read nothing back.
    let (fin, actions) = turn(&mut me, &mut phone, "c2", "l2", "yes").await;
    assert_eq!(tools(&actions), ["confirm_booking"], "{fin}");
    assert_eq!(actions[0]["result"]["error"], "consent_required", "{actions:?}");
    let none = me.request(json!({"type": "my_bookings"})).await;
    assert!(none["bookings"].as_array().unwrap().is_empty(), "{none}");
}
