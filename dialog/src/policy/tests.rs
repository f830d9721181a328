//! Unit tests of the turn policy: whole dialogues over the demo schedule, one turn at a time.
#![allow(clippy::unwrap_used)]
use serde_json::{Value, json};

use super::*;

fn lex() -> Lexicon {
    Lexicon::from_schedule_json(seats::demo::DEMO_JSON).unwrap()
}

fn now() -> Zoned {
    "2026-11-25T14:30:00+09:00[Asia/Seoul]".parse().unwrap()
}

fn showtimes() -> Value {
    let st = |id: &str, movie: &str, title: &str, ko: &str, at: &str| {
        json!({"id": id, "movie": movie, "theater": "gangnam", "screen": "1", "starts_at": at,
               "prices": {"standard": 15000}, "title": title, "title_ko": ko, "capacity": 180, "free": 100})
    };
    json!({"showtimes": [
        st("g1-1328-1640", "nsyn-11", "The Matrix", "매트릭스", "2026-11-28T16:40:00+09:00[Asia/Seoul]"),
        st("g1-1328-1900", "nsyn-11", "The Matrix", "매트릭스", "2026-11-28T19:00:00+09:00[Asia/Seoul]"),
        st("g1-1328-2100", "nsyn-18", "Memories of Murder", "살인의 추억", "2026-11-28T21:00:00+09:00[Asia/Seoul]"),
    ]})
}

struct Talk {
    lex: Lexicon,
    now: Zoned,
    state: State,
}

impl Talk {
    fn new() -> Talk {
        Talk { lex: lex(), now: now(), state: State::default() }
    }

    fn round(&mut self, text: &str, results: &[ToolResult]) -> Output {
        let out = step(Input {
            text,
            korean: text::has_hangul(text),
            now: &self.now,
            lexicon: &self.lex,
            state: State::from_json(&self.state.to_json()),
            tool_results: results,
            discovery: false,
            recommended: None,
            screen_showtime: None,
        });
        self.state = out.state.clone();
        out
    }
}

fn ok(name: &str, result: Value) -> ToolResult {
    ToolResult::parse(name, &result.to_string(), false).unwrap()
}

fn err(name: &str, code: &str) -> ToolResult {
    ToolResult::parse(name, &json!({"error": code, "message": code}).to_string(), true).unwrap()
}

fn hold(showtime: &str) -> Value {
    json!({"hold_id": "h0123456789abcdef", "showtime": showtime, "seats": ["F7", "F8"], "expires_at": 1,
           "extends_left": 12, "version": 3, "amount": 30000})
}

#[test]
fn korean_booking_holds_reads_back_and_confirms_only_after_yes() {
    let mut t = Talk::new();
    let out = t.round("토요일 저녁 7시 매트릭스 두 명 예매해 주세요", &[]);
    assert_eq!(out.calls.len(), 1);
    assert_eq!(out.calls[0].name(), "find_showtimes");
    assert_eq!(out.calls[0].arguments(), json!({"movie_id": "nsyn-11", "date": "2026-11-28"}));
    let out = t.round("토요일 저녁 7시 매트릭스 두 명 예매해 주세요", &[ok("find_showtimes", showtimes())]);
    assert_eq!(out.calls[0].name(), "hold_best_available");
    assert_eq!(out.calls[0].arguments(), json!({"showtime_id": "g1-1328-1900", "party_size": 2, "class": "standard"}));
    let out =
        t.round("토요일 저녁 7시 매트릭스 두 명 예매해 주세요", &[ok("hold_best_available", hold("g1-1328-1900"))]);
    assert!(out.calls.is_empty());
    assert_eq!(t.state.stage, Stage::Held);
    assert!(out.text.contains("30,000원") && out.text.contains("F7") && out.text.contains("매트릭스"), "{}", out.text);
    assert!(out.speech.contains("F열 7번"), "{}", out.speech);
    // Something unclear is not a yes.
    let out = t.round("음", &[]);
    assert!(out.calls.is_empty());
    let out = t.round("네", &[]);
    assert_eq!(out.calls[0].name(), "confirm_booking");
    assert_eq!(out.calls[0].arguments(), json!({"showtime_id": "g1-1328-1900", "hold_id": "h0123456789abcdef"}));
    let booking = json!({"booking_id": "bk1-g1-1328-1900", "showtime": "g1-1328-1900", "seats": ["F7", "F8"],
                         "amount": 30000, "status": "confirmed"});
    let out = t.round("네", &[ok("confirm_booking", booking)]);
    assert_eq!(t.state.stage, Stage::Booked);
    assert!(out.text.contains("bk1-g1-1328-1900") && !out.speech.contains("bk1"), "{} / {}", out.text, out.speech);
}

#[test]
fn nine_oclock_means_the_evening_showing_that_exists() {
    let mut t = Talk::new();
    t.round("토요일 9시 두 명", &[]);
    let out = t.round("토요일 9시 두 명", &[ok("find_showtimes", showtimes())]);
    assert_eq!(out.calls[0].arguments()["showtime_id"], "g1-1328-2100");
}

#[test]
fn offers_then_pick_by_suggestion_then_party() {
    let mut t = Talk::new();
    t.round("Saturday evening, The Matrix", &[]);
    let out = t.round("Saturday evening, The Matrix", &[ok("find_showtimes", showtimes())]);
    assert!(out.calls.is_empty());
    assert_eq!(out.suggestions.len(), 1, "{:?}", out.suggestions);
    let pick = out.suggestions[0].text.clone();
    assert_eq!(out.suggestions[0].showtime_id.as_deref(), Some("g1-1328-1900"));
    let out = t.round(&pick, &[]);
    assert!(out.calls.is_empty());
    assert_eq!(t.state.stage, Stage::Chosen);
    let out = t.round("two adults and a child", &[]);
    assert_eq!(
        out.calls[0].arguments(),
        json!({"showtime_id": "g1-1328-1900", "party_size": 3, "class": "standard",
               "tickets": {"adult": 2, "child": 1}})
    );
}

/// A hold priced by the store: lines per seat and the tickets.
fn priced(showtime: &str, lines: &[(&str, &str, &str, u32)]) -> Value {
    let seats: Vec<&str> = lines.iter().map(|l| l.0).collect();
    let amount: u32 = lines.iter().map(|l| l.3).sum();
    let mut tickets = serde_json::Map::new();
    for l in lines {
        let n = tickets.get(l.2).and_then(Value::as_u64).unwrap_or(0);
        tickets.insert(l.2.to_owned(), json!(n + 1));
    }
    let lines: Vec<Value> =
        lines.iter().map(|l| json!({"seat": l.0, "class": l.1, "ticket": l.2, "price": l.3})).collect();
    json!({"hold_id": "hP", "showtime": showtime, "seats": seats, "expires_at": 1, "extends_left": 12,
           "version": 3, "amount": amount, "lines": lines, "tickets": tickets})
}

#[test]
fn a_grandchild_of_unknown_age_is_asked_about_then_the_tickets_are_held_and_read_back_by_type() {
    let mut t = Talk::new();
    t.round("토요일 저녁 7시 매트릭스", &[]);
    t.round("가", &[ok("find_showtimes", showtimes())]);
    let out = t.round("할머니랑 손주 둘이요", &[]);
    assert!(out.calls.is_empty(), "asks first: {:?}", out.calls);
    assert!(out.speech.contains("어린이") && out.speech.contains("청소년"), "{}", out.speech);
    assert_eq!(t.state.stage, Stage::Chosen);
    let out = t.round("하나는 어린이 하나는 열네 살이에요", &[]);
    assert_eq!(
        out.calls[0].arguments(),
        json!({"showtime_id": "g1-1328-1900", "party_size": 3, "class": "standard",
               "tickets": {"adult": 1, "teen": 1, "child": 1}})
    );
    let held = priced(
        "g1-1328-1900",
        &[("D4", "standard", "adult", 15000), ("D5", "standard", "teen", 12000), ("D6", "standard", "child", 9000)],
    );
    let out = t.round("가", &[ok("hold_best_available", held)]);
    // The store's total and tickets, the class named, the seats read in order.
    for want in ["36,000원", "성인 1명", "청소년 1명", "어린이 1명", "일반석", "D4, D5, D6"] {
        assert!(out.text.contains(want), "{want}: {}", out.text);
    }
    assert!(out.speech.contains("D열 4번부터 6번까지"), "{}", out.speech);
    let out = t.round("네", &[]);
    assert_eq!(out.calls[0].name(), "confirm_booking");
}

#[test]
fn seat_wishes_and_a_wheelchair_user_with_a_companion_reach_the_hold() {
    let mut t = Talk::new();
    t.round("토요일 저녁 7시 매트릭스 휠체어석 두 명", &[]);
    let out = t.round("가", &[ok("find_showtimes", showtimes())]);
    assert_eq!(
        out.calls[0].arguments(),
        json!({"showtime_id": "g1-1328-1900", "party_size": 2, "class": "wheelchair", "wheelchair": 1})
    );
    let held = priced("g1-1328-1900", &[("J2", "wheelchair", "adult", 15000), ("J3", "standard", "adult", 15000)]);
    let out = t.round("가", &[ok("hold_best_available", held)]);
    assert!(out.text.contains("휠체어석 1석과 일반석 1석"), "{}", out.text);
    assert!(out.text.contains("성인 2명") && out.text.contains("30,000원"), "{}", out.text);

    for (say, want) in [("맨 뒷줄로 두 명", "last_row"), ("앞쪽으로 두 명", "front"), ("통로 쪽 두 자리", "aisle")]
    {
        let mut t = Talk::new();
        t.round(&format!("토요일 저녁 7시 매트릭스 {say}"), &[]);
        let out = t.round("가", &[ok("find_showtimes", showtimes())]);
        assert_eq!(out.calls[0].arguments()["position"], want, "{say}");
        assert_eq!(out.calls[0].arguments()["class"], "standard", "{say}");
    }
}

#[test]
fn an_adults_only_film_with_a_minor_is_explained_kindly() {
    let mut t = Talk::new();
    t.round("토요일 밤 9시 살인의 추억 어른 하나 청소년 하나", &[]);
    let out = t.round("가", &[ok("find_showtimes", showtimes())]);
    assert_eq!(out.calls[0].arguments()["tickets"], json!({"adult": 1, "teen": 1}));
    let out = t.round("가", &[err("hold_best_available", "age_restricted")]);
    assert!(out.calls.is_empty());
    assert!(out.text.contains("청소년관람불가") && out.text.contains("다른 영화"), "{}", out.text);
    assert!(t.state.hold.is_none());
    assert!(t.state.slots.movie.is_none(), "the film is dropped, the rest kept");
    assert!(t.state.offers.iter().all(|o| o.movie != "nsyn-18"));
}

#[test]
fn no_releases_and_repeat_changes_nothing() {
    let mut t = Talk::new();
    t.round("토요일 저녁 7시 매트릭스 두 명", &[]);
    t.round("가", &[ok("find_showtimes", showtimes())]);
    let read_back = t.round("가", &[ok("hold_best_available", hold("g1-1328-1900"))]);
    let before = t.state.clone();
    let out = t.round("다시 말해 주세요", &[]);
    assert!(out.text.contains(&read_back.text), "{}", out.text);
    assert!(out.calls.is_empty());
    assert_eq!(t.state.stage, before.stage);
    assert_eq!(t.state.hold, before.hold);
    let out = t.round("아니요", &[]);
    assert_eq!(out.calls[0].name(), "release_hold");
    assert!(t.state.hold.is_none());
}

#[test]
fn correction_of_party_while_holding_holds_anew_before_releasing_the_old_hold() {
    let mut t = Talk::new();
    t.round("토요일 저녁 7시 매트릭스 두 명", &[]);
    t.round("가", &[ok("find_showtimes", showtimes())]);
    t.round("가", &[ok("hold_best_available", hold("g1-1328-1900"))]);
    let out = t.round("아니요 세 명이요", &[]);
    let names: Vec<&str> = out.calls.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["hold_best_available"], "the old hold stays until the new one is held");
    assert_eq!(out.calls[0].arguments()["party_size"], 3);
    let mut new = hold("g1-1328-1900");
    new["hold_id"] = json!("hNEW");
    new["seats"] = json!(["F7", "F8", "F9"]);
    let out = t.round("가", &[ok("hold_best_available", new)]);
    assert_eq!(out.calls[0].name(), "release_hold");
    assert_eq!(out.calls[0].arguments()["hold_id"], "h0123456789abcdef");
    assert!(out.text.contains("F9"), "{}", out.text);
    t.round("가", &[ok("release_hold", json!({"seats": ["F7", "F8"], "version": 5}))]);
    assert_eq!(t.state.hold.as_ref().map(|h| h.id.as_str()), Some("hNEW"));
    assert_eq!(t.state.stage, Stage::Held);
}

#[test]
fn a_correction_that_cannot_be_held_keeps_the_old_hold() {
    let mut t = Talk::new();
    t.round("토요일 저녁 7시 매트릭스 두 명", &[]);
    t.round("가", &[ok("find_showtimes", showtimes())]);
    t.round("가", &[ok("hold_best_available", hold("g1-1328-1900"))]);
    t.round("아니요 여덟 명이요", &[]);
    let out = t.round("가", &[err("hold_best_available", "no_fit")]);
    assert!(out.calls.is_empty(), "nothing released");
    assert_eq!(t.state.hold.as_ref().map(|h| h.id.as_str()), Some("h0123456789abcdef"));
    assert_eq!(t.state.stage, Stage::Held);
}

#[test]
fn a_hesitant_or_questioning_yes_never_confirms_and_reads_back_again() {
    for reply in ["네 잠깐만요 우리 딸한테 물어볼게요", "네 근데 이거 얼마예요", "wait", "네요", "음", "yes?"]
    {
        let mut t = Talk::new();
        t.round("토요일 저녁 7시 매트릭스 두 명", &[]);
        t.round("가", &[ok("find_showtimes", showtimes())]);
        t.round("가", &[ok("hold_best_available", hold("g1-1328-1900"))]);
        let out = t.round(reply, &[]);
        assert!(out.calls.is_empty(), "{reply}: {:?}", out.calls);
        assert_eq!(t.state.stage, Stage::Held, "{reply}");
        assert!(out.text.contains("30,000") && out.text.contains("F7"), "{reply}: {}", out.text);
        let out = t.round("네", &[]);
        assert_eq!(out.calls[0].name(), "confirm_booking", "{reply}");
    }
}

#[test]
fn expired_hold_offers_to_hold_again() {
    let mut t = Talk::new();
    t.round("토요일 저녁 7시 매트릭스 두 명", &[]);
    t.round("가", &[ok("find_showtimes", showtimes())]);
    t.round("가", &[ok("hold_best_available", hold("g1-1328-1900"))]);
    t.round("네", &[]);
    let out = t.round("네", &[err("confirm_booking", "hold_expired")]);
    assert_eq!(t.state.stage, Stage::Rehold);
    assert!(out.calls.is_empty());
    let out = t.round("네", &[]);
    assert_eq!(out.calls[0].name(), "hold_best_available");
}

#[test]
fn garbage_state_is_a_fresh_state() {
    assert_eq!(State::from_json("{not json"), State::default());
    assert_eq!(State::from_json(""), State::default());
}

#[test]
fn speech_reads_the_offers_by_number_without_quotes_brackets_or_ids() {
    let mut t = Talk::new();
    t.round("토요일 매트릭스", &[]);
    let out = t.round("가", &[ok("find_showtimes", showtimes())]);
    assert!(out.speech.contains("첫 번째 오후 4시 40분, 두 번째 저녁 7시"), "{}", out.speech);
    assert!(out.speech.contains("몇 번째로 할까요"), "{}", out.speech);
    let out = t.round("두 번째", &[]);
    assert!(out.calls.is_empty());
    assert!(out.speech.contains("몇 분"), "{}", out.speech);
    for bad in ["'", "\"", "(", "[", "아래", "g1-", "%"] {
        assert!(!out.speech.contains(bad), "{bad}: {}", out.speech);
    }
    let words = out.speech.split_whitespace().count();
    assert!(words <= 25, "{words} words: {}", out.speech);
    assert_eq!(turn::speakable("'네' 또는 '아니요'로 (천천히)"), "네 또는 아니요로 천천히");
    assert_eq!(turn::speakable("I'd like 'two'"), "I'd like two");
}
