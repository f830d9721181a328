//! Fuzz target: a schedule uploaded to `POST /api/admin/schedule` (or read
//! from `SCHEDULE_FILE`) and the dialogue's view of its names. Parsing must
//! never panic; a schedule that parses must survive its own round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(schedule) = seats::Schedule::from_json(text) {
        let json = schedule.to_json();
        let again = seats::Schedule::from_json(&json);
        assert!(again.is_ok(), "a parsed schedule must parse again from its own JSON: {again:?}");
    }
    let _ = dialog::Lexicon::from_schedule_json(text);
    let _ = seats::SeatId::parse(text);
});
