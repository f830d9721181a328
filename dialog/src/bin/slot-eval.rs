//! Prints the slot-filling evaluation: per-slot, overall and exact-match
//! accuracy over `dialog/data/slots.jsonl`, all lines and the held-out part.
//! `--misses` also lists the wrong lines of the tuning part; `--file PATH`
//! scores another file of the same format instead; `--schedule PATH` names
//! another schedule's movies and theaters (default: the seat store's
//! `seats/data/demo.json`, read at run time).

use std::process::ExitCode;

use dialog::eval::{self, Score};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let show_misses = args.iter().any(|a| a == "--misses");
    let file = args.iter().position(|a| a == "--file").and_then(|i| args.get(i + 1));
    let set = match file.map(std::fs::read_to_string) {
        None => eval::SLOTS_JSONL.to_owned(),
        Some(Ok(text)) => text,
        Some(Err(e)) => {
            eprintln!("slot-eval: {e}");
            return ExitCode::FAILURE;
        }
    };
    let schedule_path = args.iter().position(|a| a == "--schedule").and_then(|i| args.get(i + 1));
    let schedule = match std::fs::read_to_string(schedule_path.map_or(eval::DEMO_SCHEDULE_PATH, String::as_str)) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("slot-eval: schedule: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = match eval::run(&set, &schedule) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("slot-eval: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = String::new();
    out.push_str(&format!("{:<10} {:>16} {:>16} {:>16}\n", "slot", "all", "tuning (80%)", "held-out (20%)"));
    let cell = |s: &Score, f: &str| {
        s.per_field.get(f).map_or("-".to_owned(), |(r, n)| format!("{:.3} ({r}/{n})", *r as f64 / *n as f64))
    };
    for f in eval::FIELDS {
        out.push_str(&format!(
            "{:<10} {:>16} {:>16} {:>16}\n",
            f,
            cell(&report.all, f),
            cell(&report.tuning, f),
            cell(&report.held_out, f)
        ));
    }
    let line = |name: &str, g: fn(&Score) -> f64| {
        format!("{:<10} {:>16.3} {:>16.3} {:>16.3}\n", name, g(&report.all), g(&report.tuning), g(&report.held_out))
    };
    out.push_str(&line("SLOTS", Score::slot_accuracy));
    out.push_str(&line("EXACT", Score::exact_match));
    out.push_str(&format!(
        "lines: {} (tuning {}, held-out {})\n",
        report.all.lines, report.tuning.lines, report.held_out.lines
    ));
    if show_misses {
        for m in &report.tuning_misses {
            out.push_str(&format!("{} {:?}:", m.id, m.text));
            for (f, e, p) in &m.wrong {
                out.push_str(&format!(" {f}: want {e:?} got {p:?};"));
            }
            out.push('\n');
        }
    }
    eprint!("{out}");
    ExitCode::SUCCESS
}
