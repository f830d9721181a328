//! Prints the median and 90th-percentile length, in words, of the `speech`
//! of one turn: every utterance of `data/slots.jsonl` and `data/fresh.jsonl`
//! is said as the first turn of a conversation; the rounds of its turn are
//! answered with a fixed list of three showtimes (The Matrix at 16:40 and
//! 19:00, Memories of Murder at 21:00, Saturday 2026-11-28) and a two-seat
//! hold, as the gateway would, and the turn's speech is the rounds' speech
//! joined. `--file PATH` reads another file of the same format.

use booking_tools::ToolResult;
use dialog::lexicon::Lexicon;
use dialog::policy::{self, Input, State};

const SHOWTIMES: &str = r#"{"showtimes": [
 {"id": "g1-1328-1640", "movie": "nsyn-11", "theater": "gangnam", "screen": "1", "starts_at": "2026-11-28T16:40:00+09:00[Asia/Seoul]", "prices": {"standard": 15000}, "title": "The Matrix", "title_ko": "매트릭스", "capacity": 180, "free": 100},
 {"id": "g1-1328-1900", "movie": "nsyn-11", "theater": "gangnam", "screen": "1", "starts_at": "2026-11-28T19:00:00+09:00[Asia/Seoul]", "prices": {"standard": 15000}, "title": "The Matrix", "title_ko": "매트릭스", "capacity": 180, "free": 100},
 {"id": "g1-1328-2100", "movie": "nsyn-18", "theater": "gangnam", "screen": "1", "starts_at": "2026-11-28T21:00:00+09:00[Asia/Seoul]", "prices": {"standard": 15000}, "title": "Memories of Murder", "title_ko": "살인의 추억", "capacity": 180, "free": 100}]}"#;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let sets = match args.iter().position(|a| a == "--file").and_then(|i| args.get(i + 1)) {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => vec![t],
            Err(e) => {
                eprintln!("speech-words: {e}");
                return std::process::ExitCode::FAILURE;
            }
        },
        None => vec![dialog::eval::SLOTS_JSONL.to_owned(), include_str!("../../data/fresh.jsonl").to_owned()],
    };
    let schedule = match std::fs::read_to_string(dialog::eval::DEMO_SCHEDULE_PATH) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("speech-words: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let Ok(lex) = Lexicon::from_schedule_json(&schedule) else {
        eprintln!("speech-words: bad schedule");
        return std::process::ExitCode::FAILURE;
    };
    let mut words: Vec<usize> = Vec::new();
    for line in sets.iter().flat_map(|s| s.lines()).filter(|l| !l.trim().is_empty()) {
        let Ok(row) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let (Some(text), Some(now)) = (row["text"].as_str(), row["now"].as_str()) else { continue };
        let Ok(now) = now.parse::<jiff::Zoned>() else { continue };
        let korean = text.chars().any(|c| ('가'..='힣').contains(&c));
        let mut state = State::default();
        let mut results: Vec<ToolResult> = Vec::new();
        let mut speech = Vec::new();
        for _ in 0..5 {
            let out = policy::step(Input {
                text,
                korean,
                now: &now,
                lexicon: &lex,
                state: state.clone(),
                tool_results: &results,
                discovery: false,
                recommended: None,
                screen_showtime: None,
            });
            speech.push(out.speech.clone());
            state = out.state;
            results = out
                .calls
                .iter()
                .filter_map(|c| {
                    let json = match c.name() {
                        "find_showtimes" => SHOWTIMES.to_owned(),
                        "hold_best_available" => format!(
                            r#"{{"hold_id": "h1", "showtime": {}, "seats": ["F7", "F8"], "expires_at": 1, "extends_left": 2, "version": 1, "amount": 30000}}"#,
                            c.arguments()["showtime_id"]
                        ),
                        _ => return None,
                    };
                    ToolResult::parse(c.name(), &json, false).ok()
                })
                .collect();
            if results.is_empty() {
                break;
            }
        }
        words.push(speech.join(" ").split_whitespace().count());
    }
    words.sort_unstable();
    let at = |q: f64| words.get(((words.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
    eprintln!(
        "turns: {}  speech words per turn: median {}, p90 {}, max {}",
        words.len(),
        at(0.5),
        at(0.9),
        words.last().copied().unwrap_or(0)
    );
    std::process::ExitCode::SUCCESS
}
