//! Booking by conversation: the test plays the gateway's round loop against a
//! real model-svc and executes the proposed tool calls against the real
//! `seats` store (in memory, demo schedule), then checks the store. Like the
//! gateway, it sends the store's schedule names with every request.

use std::sync::Arc;
use std::time::Duration;

use bus::{BusConfig, BusEvent, Deliver, MemoryBus, Topic};
use model_svc::Config;
use model_svc::catalog::Catalog;
use proto::v1::model_service_client::ModelServiceClient;
use proto::v1::{
    AnswerRequest, IngestRequest, Locale, Movie, ScheduleName, ScheduleNames, Suggestion, ToolCall, ToolResult,
};
use seats::{BookingStatus, Clock, HoldRequest, ReleaseTarget, SeatClass, SeatError, SeatState, SeatStore};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::support::{TestServer, ask};

/// Wednesday afternoon; the demo week starts that day, so Saturday is 11/28.
const NOW: &str = "2026-11-25T14:30:00+09:00[Asia/Seoul]";
const USER: &str = "alice";
const MAX_ROUNDS: usize = 5;

struct Discard;

impl Deliver for Discard {
    fn deliver(&self, _topic: &Topic, _event: BusEvent) {}
    fn resync(&self) {}
}

/// The store's schedule names, as the gateway sends them (any stable version
/// will do here: the schedule never changes in these tests).
fn schedule_names(schedule: &seats::Schedule) -> ScheduleNames {
    let name = |id: &str, name: &str, ko: Option<&str>| ScheduleName {
        id: id.to_owned(),
        name: name.to_owned(),
        name_ko: ko.map(str::to_owned),
    };
    ScheduleNames {
        version: "demo".to_owned(),
        movies: schedule.movies().iter().map(|m| name(&m.id, &m.title, m.title_ko.as_deref())).collect(),
        theaters: schedule.theaters().iter().map(|t| name(&t.id, &t.name, t.name_ko.as_deref())).collect(),
    }
}

/// The gateway's side of a conversation.
struct Gateway {
    client: ModelServiceClient<Channel>,
    store: SeatStore,
    clock: Clock,
    state: String,
    calls: u64,
    /// Holds the ledger's SQLite file; removed when the gateway is dropped.
    _data: tempfile::TempDir,
}

/// Everything one user turn produced (all rounds).
#[derive(Debug, Default)]
struct Turn {
    text: String,
    speech: String,
    calls: Vec<(String, Value)>,
    results: Vec<(String, bool, Value)>,
    suggestions: Vec<Suggestion>,
    citations: usize,
}

impl Turn {
    fn called(&self) -> Vec<&str> {
        self.calls.iter().map(|c| c.0.as_str()).collect()
    }
}

impl Gateway {
    async fn start(server: &TestServer) -> Gateway {
        let now: jiff::Zoned = NOW.parse().unwrap();
        let schedule = seats::demo::schedule(now.date()).unwrap();
        let clock = Clock::manual(now.timestamp().as_millisecond());
        let data = tempfile::tempdir().unwrap();
        let ledger = ledger::Ledger::open_in_dir(data.path()).await.unwrap();
        let bus = MemoryBus::new(BusConfig::default(), Arc::new(Discard));
        let store = SeatStore::memory(bus, schedule, clock.clone(), ledger);
        Gateway { client: server.client().await, store, clock, state: String::new(), calls: 0, _data: data }
    }

    async fn say(&mut self, text: &str) -> Turn {
        let mut turn = Turn::default();
        let mut results: Vec<ToolResult> = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let req = AnswerRequest {
                conversation_id: "c-1".into(),
                locale: Locale::Unspecified.into(),
                text: text.into(),
                now: NOW.into(),
                dialog_state: self.state.clone(),
                tool_results: std::mem::take(&mut results),
                schedule: Some(schedule_names(&self.store.schedule())),
                ..Default::default()
            };
            let out = ask(&mut self.client, req).await;
            let fin = out.fin.expect("every round ends with Final");
            self.state = fin.dialog_state.clone();
            turn.text.push_str(&out.text);
            if !fin.speech.is_empty() {
                turn.speech.push_str(&fin.speech);
                turn.speech.push(' ');
            }
            turn.suggestions = fin.suggestions;
            turn.citations += out.citations.len();
            if out.tool_calls.is_empty() {
                return turn;
            }
            for call in out.tool_calls {
                let args: Value = serde_json::from_str(&call.arguments_json).unwrap();
                let (ok, value) = self.execute(&call, &args).await;
                turn.calls.push((call.name.clone(), args));
                turn.results.push((call.name.clone(), ok, value.clone()));
                results.push(ToolResult {
                    call_id: call.id,
                    name: call.name,
                    result_json: value.to_string(),
                    is_error: !ok,
                });
            }
        }
        panic!("more than {MAX_ROUNDS} rounds for {text:?}");
    }

    /// Runs one tool call the way the gateway does (for the conversation's user).
    async fn execute(&mut self, call: &ToolCall, a: &Value) -> (bool, Value) {
        let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let result: Result<Value, SeatError> = match call.name.as_str() {
            "find_showtimes" => Ok(self.find_showtimes(a).await),
            "hold_best_available" => {
                let class = match a.get("class").and_then(Value::as_str) {
                    Some("premium") => Some(SeatClass::Premium),
                    Some("wheelchair") => Some(SeatClass::Wheelchair),
                    _ => None,
                };
                let n = a["party_size"].as_u64().unwrap() as usize;
                match self.store.best_available(&s("showtime_id"), n, class).await {
                    Ok(seats) => {
                        self.calls += 1;
                        let req = HoldRequest {
                            showtime: s("showtime_id"),
                            user: USER.into(),
                            seats: seats.iter().map(|x| x.to_string()).collect(),
                            ttl: None,
                            idempotency_key: format!("k{}", self.calls),
                            tickets: None,
                        };
                        self.store.hold(req).await.map(|h| self.priced_hold(h))
                    }
                    Err(e) => Err(e),
                }
            }
            "extend_hold" => {
                self.store.extend(&s("showtime_id"), USER, &s("hold_id")).await.map(|h| self.priced_hold(h))
            }
            "release_hold" => self
                .store
                .release(&s("showtime_id"), USER, ReleaseTarget::Hold(s("hold_id")))
                .await
                .map(|r| serde_json::to_value(r).unwrap()),
            "confirm_booking" => self
                .store
                .confirm(&s("showtime_id"), USER, &s("hold_id"))
                .await
                .map(|b| serde_json::to_value(b).unwrap()),
            "cancel_booking" => {
                self.store.cancel_booking(USER, &s("booking_id")).await.map(|b| serde_json::to_value(b).unwrap())
            }
            "list_bookings" => {
                self.store.my_bookings(USER).await.map(|b| json!({"bookings": serde_json::to_value(b).unwrap()}))
            }
            other => panic!("unknown tool {other}"),
        };
        match result {
            Ok(v) => (true, v),
            Err(e) => (false, json!({"error": e.code(), "message": e.to_string()})),
        }
    }

    fn priced_hold(&self, h: seats::Hold) -> Value {
        let schedule = self.store.schedule();
        let st = schedule.showtime(&h.showtime).unwrap();
        let layout = schedule.layout_of(&h.showtime).unwrap();
        let amount: u32 = h.seats.iter().map(|s| st.prices.of(layout.seat(s.as_str()).unwrap().class)).sum();
        let mut v = serde_json::to_value(&h).unwrap();
        v["amount"] = json!(amount);
        v
    }

    async fn find_showtimes(&self, a: &Value) -> Value {
        let schedule = self.store.schedule();
        let now = jiff::Timestamp::from_millisecond(self.clock.now_ms()).unwrap();
        let mut list = Vec::new();
        for st in schedule.showtimes() {
            let keep = a.get("movie_id").and_then(Value::as_str).is_none_or(|m| st.movie == m)
                && a.get("theater_id").and_then(Value::as_str).is_none_or(|t| st.theater == t)
                && a.get("date").and_then(Value::as_str).is_none_or(|d| st.starts_at.date().to_string() == d)
                && st.starts_at.timestamp() > now;
            if !keep {
                continue;
            }
            let movie = schedule.movie(&st.movie).unwrap();
            let map = self.store.snapshot(&st.id, None).await.unwrap();
            let free = map.seats.iter().filter(|s| s.state == SeatState::Free).count();
            let mut v = serde_json::to_value(st).unwrap();
            v["title"] = json!(movie.title);
            if let Some(ko) = &movie.title_ko {
                v["title_ko"] = json!(ko);
            }
            v["capacity"] = json!(map.seats.len());
            v["free"] = json!(free);
            list.push((st.starts_at.timestamp(), st.id.clone(), v));
        }
        list.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
        json!({"showtimes": list.into_iter().take(50).map(|x| x.2).collect::<Vec<_>>()})
    }

    async fn held_by_me(&self, showtime: &str) -> usize {
        let map = self.store.snapshot(showtime, Some(USER)).await.unwrap();
        map.seats.iter().filter(|s| s.state == SeatState::Held && s.mine).count()
    }

    fn dialog_state(&self) -> Value {
        serde_json::from_str(&self.state).unwrap()
    }
}

/// The demo schedule's movies, with enough text for retrieval to find them.
fn demo_movies() -> Vec<Movie> {
    let m = |id: &str, title: &str, ko: &str, genres: &[&str], syn: &str, syn_ko: &str| Movie {
        id: id.into(),
        title: title.into(),
        title_ko: Some(ko.into()),
        year: 2000,
        genres: genres.iter().map(|g| (*g).into()).collect(),
        synopsis: Some(syn.into()),
        synopsis_ko: Some(syn_ko.into()),
        ..Default::default()
    };
    vec![
        m(
            "nsyn-11",
            "The Matrix",
            "매트릭스",
            &["Action"],
            "A hacker learns the world is a simulation.",
            "해커가 세상이 가상 현실임을 알게 되는 액션 영화.",
        ),
        m(
            "nsyn-03",
            "Leon",
            "레옹",
            &["Crime"],
            "A hitman protects a girl.",
            "청부살인업자가 소녀를 지키는 범죄 영화.",
        ),
        m(
            "nsyn-04",
            "Spirited Away",
            "센과 치히로의 행방불명",
            &["Animation", "Family"],
            "A girl finds her way in a world of spirits; a family animation.",
            "온 가족이 함께 볼 만한 애니메이션. 소녀가 신들의 세계에서 부모를 구한다.",
        ),
        m(
            "nsyn-18",
            "Memories of Murder",
            "살인의 추억",
            &["Crime"],
            "Detectives hunt a killer.",
            "형사들이 연쇄살인범을 쫓는 범죄 영화.",
        ),
        m("nsyn-19", "3 Idiots", "세 얼간이", &["Comedy"], "Three friends at college.", "세 친구의 대학 생활 코미디."),
        m(
            "nv10002",
            "Back to the Future",
            "빽 투 더 퓨쳐",
            &["Comedy"],
            "A teenager travels in time.",
            "시간 여행 코미디.",
        ),
    ]
}

async fn start() -> (TestServer, Gateway) {
    let server = TestServer::start_ready(Config::for_tests(), Box::pin(async { Catalog::builtin() })).await;
    let mut client = server.client().await;
    client.ingest(IngestRequest { movies: demo_movies(), reviews: Vec::new() }).await.unwrap();
    let gw = Gateway::start(&server).await;
    (server, gw)
}

fn starts_at(gw: &Gateway, showtime: &str) -> jiff::Zoned {
    gw.store.schedule().showtime(showtime).unwrap().starts_at.clone()
}

#[tokio::test]
async fn korean_dialogue_from_a_family_question_to_a_confirmed_booking() {
    let (server, mut gw) = start().await;

    let t = gw.say("토요일 저녁에 가족이랑 볼 만한 영화 있어?").await;
    assert_eq!(t.calls.first().map(|c| c.0.as_str()), Some("find_showtimes"), "{t:?}");
    assert_eq!(t.calls[0].1, json!({"date": "2026-11-28"}));
    assert!(t.text.contains("센과 치히로의 행방불명"), "{}", t.text);
    assert!(t.citations > 0, "the recommendation cites its records");
    assert!(!t.suggestions.is_empty());
    for s in &t.suggestions {
        let at = starts_at(&gw, s.showtime_id.as_deref().unwrap());
        assert_eq!(at.date().to_string(), "2026-11-28");
        assert!((17..22).contains(&at.hour()), "{} is in the evening", s.label);
    }
    let pick = t
        .suggestions
        .iter()
        .find(|s| gw.store.schedule().showtime(s.showtime_id.as_deref().unwrap()).unwrap().movie == "nsyn-04")
        .expect("Spirited Away is offered")
        .clone();
    let showtime = pick.showtime_id.clone().unwrap();

    let t = gw.say(&pick.text).await;
    assert!(t.calls.is_empty(), "asks for the party first: {t:?}");
    assert!(t.text.contains("몇 분"), "{}", t.text);

    // A child of unknown age: a child's or a teen's ticket? Asked before holding.
    let t = gw.say("어른 둘 아이 하나").await;
    assert!(t.calls.is_empty(), "{t:?}");
    assert!(t.text.contains("어린이") && t.text.contains("청소년"), "{}", t.text);
    let t = gw.say("어린이요").await;
    assert_eq!(t.called(), ["hold_best_available"]);
    assert_eq!(
        t.calls[0].1,
        json!({"showtime_id": showtime, "party_size": 3, "class": "standard", "tickets": {"adult": 2, "child": 1}})
    );
    assert_eq!(gw.held_by_me(&showtime).await, 3);
    assert!(t.text.contains("원") && t.text.contains("확정할까요"), "read back: {}", t.text);
    assert!(!t.speech.contains(&showtime), "no ids in speech: {}", t.speech);
    assert!(gw.store.my_bookings(USER).await.unwrap().is_empty(), "nothing is booked before yes");

    let t = gw.say("네").await;
    assert_eq!(t.called(), ["confirm_booking"]);
    let bookings = gw.store.my_bookings(USER).await.unwrap();
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0].showtime, showtime);
    assert_eq!(bookings[0].seats.len(), 3);
    assert_eq!(bookings[0].status, BookingStatus::Confirmed);
    assert!(t.text.contains(&bookings[0].booking_id));
    assert_eq!(gw.dialog_state()["stage"], "booked");
    server.stop().await;
}

#[tokio::test]
async fn english_dialogue_books_the_named_showing() {
    let (server, mut gw) = start().await;
    let t = gw.say("I'd like two tickets for The Matrix on Saturday at 8pm").await;
    assert_eq!(t.called(), ["find_showtimes", "hold_best_available"]);
    assert_eq!(t.calls[0].1, json!({"movie_id": "nsyn-11", "date": "2026-11-28"}));
    let showtime = t.calls[1].1["showtime_id"].as_str().unwrap().to_owned();
    let at = starts_at(&gw, &showtime);
    assert_eq!((at.hour(), at.minute()), (20, 0));
    assert_eq!(gw.held_by_me(&showtime).await, 2);
    assert!(t.text.contains("won") && t.text.contains("Shall I confirm"), "{}", t.text);
    assert!(t.suggestions.iter().any(|s| s.text == "yes"));

    let t = gw.say("yes").await;
    assert_eq!(t.called(), ["confirm_booking"]);
    let bookings = gw.store.my_bookings(USER).await.unwrap();
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0].seats.len(), 2);
    assert!(t.text.contains("confirmed"), "{}", t.text);
    server.stop().await;
}

#[tokio::test]
async fn corrections_change_the_search_and_the_hold() {
    let (server, mut gw) = start().await;
    let t = gw.say("내일 매트릭스 두 명").await;
    assert_eq!(t.calls[0].1, json!({"movie_id": "nsyn-11", "date": "2026-11-26"}));
    let t = gw.say("아니 내일 말고 모레").await;
    assert_eq!(t.called(), ["find_showtimes"]);
    assert_eq!(t.calls[0].1, json!({"movie_id": "nsyn-11", "date": "2026-11-27"}));
    assert!(!t.suggestions.is_empty());
    assert!(t.suggestions.iter().all(|s| s.showtime_id.as_deref().unwrap().contains("20261127")));

    // Pick by ordinal, hold two, then change to three: hold three, then release the two.
    let t = gw.say("첫 번째 걸로 할게요").await;
    assert_eq!(t.called(), ["hold_best_available"]);
    let showtime = t.calls[0].1["showtime_id"].as_str().unwrap().to_owned();
    assert_eq!(gw.held_by_me(&showtime).await, 2);
    let t = gw.say("아니요 세 명이요").await;
    assert_eq!(t.called(), ["hold_best_available", "release_hold"], "the old hold goes only once the new one is held");
    assert_eq!(t.calls[0].1["party_size"], 3);
    assert_eq!(gw.held_by_me(&showtime).await, 3);
    let t = gw.say("예").await;
    assert_eq!(t.called(), ["confirm_booking"]);
    assert_eq!(gw.store.my_bookings(USER).await.unwrap()[0].seats.len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn ambiguous_clock_time_resolves_to_the_showing_that_exists() {
    let (server, mut gw) = start().await;
    // Saturday's only 8:30 showing of Spirited Away is at 20:30.
    let t = gw.say("토요일 8시 반 센과 치히로 두 명").await;
    assert_eq!(t.called(), ["find_showtimes", "hold_best_available"]);
    let showtime = t.calls[1].1["showtime_id"].as_str().unwrap().to_owned();
    let at = starts_at(&gw, &showtime);
    assert_eq!((at.hour(), at.minute()), (20, 30));
    server.stop().await;
}

#[tokio::test]
async fn repeat_extend_and_cancel_while_holding() {
    let (server, mut gw) = start().await;
    let read_back = gw.say("토요일 저녁 8시 매트릭스 두 명").await;
    let showtime = read_back.calls[1].1["showtime_id"].as_str().unwrap().to_owned();
    let state_before = gw.state.clone();

    let t = gw.say("다시 말해 주세요").await;
    assert!(t.calls.is_empty());
    assert!(t.text.contains("확정할까요"), "{}", t.text);
    let before: Value = serde_json::from_str(&state_before).unwrap();
    assert_eq!(gw.dialog_state()["hold"], before["hold"], "repeat changes nothing");

    // The user asks for more time a few minutes later (as after the gateway's warning).
    gw.clock.advance(Duration::from_secs(5 * 60));
    let t = gw.say("연장해 주세요").await;
    assert_eq!(t.called(), ["extend_hold"]);
    assert!(t.results[0].1, "extended: {:?}", t.results[0]);
    assert_eq!(t.results[0].2["extends_left"], seats::MAX_EXTENDS - 1);

    let t = gw.say("취소").await;
    assert_eq!(t.called(), ["release_hold"]);
    assert_eq!(gw.held_by_me(&showtime).await, 0);
    assert!(gw.store.my_bookings(USER).await.unwrap().is_empty());
    assert_eq!(gw.dialog_state()["stage"], "idle");
    server.stop().await;
}

#[tokio::test]
async fn cancel_a_confirmed_booking_after_asking() {
    let (server, mut gw) = start().await;
    gw.say("토요일 저녁 8시 매트릭스 두 명").await;
    gw.say("네").await;
    let t = gw.say("예매 취소해 주세요").await;
    assert!(t.calls.is_empty(), "asks first: {t:?}");
    let t = gw.say("네").await;
    assert_eq!(t.called(), ["cancel_booking"]);
    let b = gw.store.my_bookings(USER).await.unwrap();
    assert_eq!(b[0].status, BookingStatus::Cancelled);
    server.stop().await;
}

#[tokio::test]
async fn an_expired_hold_is_explained_and_held_again_on_yes() {
    let (server, mut gw) = start().await;
    let t = gw.say("Saturday 8pm The Matrix for two").await;
    let showtime = t.calls[1].1["showtime_id"].as_str().unwrap().to_owned();
    gw.clock.advance(Duration::from_secs(11 * 60));
    let t = gw.say("yes").await;
    assert_eq!(t.called(), ["confirm_booking"]);
    assert!(!t.results[0].1);
    assert_eq!(t.results[0].2["error"], "hold_expired");
    assert!(t.text.contains("hold ran out"), "{}", t.text);
    assert!(gw.store.my_bookings(USER).await.unwrap().is_empty());

    let t = gw.say("yes").await;
    assert_eq!(t.called(), ["hold_best_available"]);
    assert_eq!(gw.held_by_me(&showtime).await, 2);
    let t = gw.say("yes").await;
    assert_eq!(t.called(), ["confirm_booking"]);
    assert_eq!(gw.store.my_bookings(USER).await.unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn no_fit_offers_another_showing() {
    let (server, mut gw) = start().await;
    // Saturday's Matrix showings: 10:00 and 20:00 (screen 1, no 10 wheelchair seats).
    let t = gw.say("토요일 매트릭스 휠체어석 열 명").await;
    assert_eq!(t.called(), ["find_showtimes"]);
    let pick = t.suggestions[0].text.clone();
    let t = gw.say(&pick).await;
    assert_eq!(t.called(), ["hold_best_available"]);
    assert_eq!(t.results[0].2["error"], "no_fit");
    assert!(t.text.contains("자리가 남아 있지 않아요"), "{}", t.text);
    assert!(!t.suggestions.is_empty(), "another showing is offered");
    assert!(gw.store.my_bookings(USER).await.unwrap().is_empty());
    server.stop().await;
}
