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
    assert_eq!(out.calls[0].arguments(), json!({"showtime_id": "g1-1328-1900", "party_size": 3, "class": "standard"}));
}

#[test]
fn no_releases_and_repeat_changes_nothing() {
    let mut t = Talk::new();
    t.round("토요일 저녁 7시 매트릭스 두 명", &[]);
    t.round("x", &[ok("find_showtimes", showtimes())]);
    let read_back = t.round("x", &[ok("hold_best_available", hold("g1-1328-1900"))]);
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
    t.round("x", &[ok("find_showtimes", showtimes())]);
    t.round("x", &[ok("hold_best_available", hold("g1-1328-1900"))]);
    let out = t.round("아니요 세 명이요", &[]);
    let names: Vec<&str> = out.calls.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["hold_best_available"], "the old hold stays until the new one is held");
    assert_eq!(out.calls[0].arguments()["party_size"], 3);
    let mut new = hold("g1-1328-1900");
    new["hold_id"] = json!("hNEW");
    new["seats"] = json!(["F7", "F8", "F9"]);
    let out = t.round("x", &[ok("hold_best_available", new)]);
    assert_eq!(out.calls[0].name(), "release_hold");
    assert_eq!(out.calls[0].arguments()["hold_id"], "h0123456789abcdef");
    assert!(out.text.contains("F9"), "{}", out.text);
    t.round("x", &[ok("release_hold", json!({"seats": ["F7", "F8"], "version": 5}))]);
    assert_eq!(t.state.hold.as_ref().map(|h| h.id.as_str()), Some("hNEW"));
    assert_eq!(t.state.stage, Stage::Held);
}

#[test]
fn a_correction_that_cannot_be_held_keeps_the_old_hold() {
    let mut t = Talk::new();
    t.round("토요일 저녁 7시 매트릭스 두 명", &[]);
    t.round("x", &[ok("find_showtimes", showtimes())]);
    t.round("x", &[ok("hold_best_available", hold("g1-1328-1900"))]);
    t.round("아니요 여덟 명이요", &[]);
    let out = t.round("x", &[err("hold_best_available", "no_fit")]);
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
        t.round("x", &[ok("find_showtimes", showtimes())]);
        t.round("x", &[ok("hold_best_available", hold("g1-1328-1900"))]);
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
    t.round("x", &[ok("find_showtimes", showtimes())]);
    t.round("x", &[ok("hold_best_available", hold("g1-1328-1900"))]);
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
