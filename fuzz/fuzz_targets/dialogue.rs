//! Fuzz target: one turn of the offline booking dialogue on hostile input —
//! the first line is the conversation state the client carries (JSON, may be
//! garbage), the rest is the user's message. Slot extraction and the policy
//! step must never panic, and the state they return must read back.
#![no_main]

use std::sync::OnceLock;

use dialog::policy::{self, Input, State};
use dialog::{Lexicon, Slots};
use jiff::Zoned;
use libfuzzer_sys::fuzz_target;

fn lexicon() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(Lexicon::new)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (state, message) = text.split_once('\n').unwrap_or(("", text));
    let now: Zoned = match "2026-12-02T10:00:00+09:00[Asia/Seoul]".parse() {
        Ok(now) => now,
        Err(e) => panic!("fixed time must parse: {e}"),
    };
    let lex = lexicon();
    let state = State::from_json(state);
    let u = dialog::extract(message, lex, &now, &state.slots);
    let _ = dialog::extract(message, lex, &now, &Slots::default());
    let discovery = message.len() % 2 == 0;
    let _ = policy::wants(&state, &u, discovery);
    for korean in [true, false] {
        let out = policy::step(Input {
            text: message,
            korean,
            now: &now,
            lexicon: lex,
            state: state.clone(),
            tool_results: &[],
            discovery,
            recommended: None,
            screen_showtime: None,
        });
        let json = out.state.to_json();
        assert_eq!(State::from_json(&json).to_json(), json, "the returned state reads back");
    }
});
