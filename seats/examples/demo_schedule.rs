//! Writes the demo schedule for the week starting today (Asia/Seoul), or on
//! the date given as the first argument (`2026-11-22`), as a schedule file:
//! `cargo run -p seats --example demo_schedule > week.json`.

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let first_day = match std::env::args().nth(1) {
        Some(d) => d.parse()?,
        None => seats::demo::today()?,
    };
    let schedule = seats::demo::schedule(first_day)?;
    let mut out = std::io::stdout().lock();
    out.write_all(schedule.to_json().as_bytes())?;
    out.write_all(b"\n")?;
    Ok(())
}
