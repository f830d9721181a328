//! The slot-filling evaluation: reads the labelled set (`data/slots.jsonl`),
//! extracts every line and scores per slot, overall and by exact match, for
//! all lines and for the held-out tail separately. Used by the `slot-eval`
//! binary and by the test that holds the quality bar.

use std::collections::BTreeMap;

use jiff::Zoned;
use serde::Deserialize;
use serde_json::Value;

use crate::lexicon::Lexicon;
use crate::slots::{self, Slots, Utterance};

/// The labelled set, compiled in.
pub const SLOTS_JSONL: &str = include_str!("../data/slots.jsonl");
/// The schedule whose movies and theaters the set names: the seat store's
/// demo file, read at run time (the seat store owns it; this crate does not
/// depend on `seats`).
pub const DEMO_SCHEDULE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../seats/data/demo.json");
/// The last fifth of the set is held out: not looked at while tuning the rules.
pub const HELD_OUT_FRACTION: f64 = 0.2;
/// The slots scored, in print order.
pub const FIELDS: &[&str] = &["movie", "date", "time", "theater", "party", "detail", "class", "position", "act"];

/// The evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A line is not valid.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The schedule names could not be read.
    #[error(transparent)]
    Lexicon(#[from] crate::lexicon::LexiconError),
}

#[derive(Deserialize)]
struct Row {
    id: String,
    now: String,
    text: String,
    expect: BTreeMap<String, Value>,
    #[serde(default)]
    prior: Option<BTreeMap<String, Value>>,
}

/// Scores of one part of the set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Score {
    /// Lines.
    pub lines: usize,
    /// Lines with every slot right.
    pub exact: usize,
    /// Per slot: (right, scored). A slot is scored on a line when it is
    /// expected or predicted there, so a spurious slot counts as an error.
    pub per_field: BTreeMap<&'static str, (usize, usize)>,
}

impl Score {
    /// Right slots over scored slots, all fields together.
    pub fn slot_accuracy(&self) -> f64 {
        let (r, n) = self.per_field.values().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        if n == 0 { 1.0 } else { r as f64 / n as f64 }
    }

    /// Lines with every slot right, over lines.
    pub fn exact_match(&self) -> f64 {
        if self.lines == 0 { 1.0 } else { self.exact as f64 / self.lines as f64 }
    }
}

/// One line that was not exactly right.
#[derive(Debug, Clone)]
pub struct Miss {
    /// Line id.
    pub id: String,
    /// The utterance.
    pub text: String,
    /// (field, expected, predicted) for each wrong field.
    pub wrong: Vec<(&'static str, String, String)>,
}

/// The result: all lines, the tuning part and the held-out part.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every line.
    pub all: Score,
    /// The first 80%.
    pub tuning: Score,
    /// The last 20%.
    pub held_out: Score,
    /// Misses in the tuning part (held-out misses are not listed, on purpose).
    pub tuning_misses: Vec<Miss>,
}

/// Runs the evaluation over `jsonl` with the names of `schedule_json`.
///
/// # Errors
/// When a line or the schedule is malformed.
pub fn run(jsonl: &str, schedule_json: &str) -> Result<Report, EvalError> {
    let lex = Lexicon::from_schedule_json(schedule_json)?;
    let lines: Vec<&str> = jsonl.lines().filter(|l| !l.trim().is_empty()).collect();
    let held_from = lines.len() - (lines.len() as f64 * HELD_OUT_FRACTION).round() as usize;
    let mut report = Report::default();
    for (n, line) in lines.iter().enumerate() {
        let bad = |message: String| EvalError::Line { line: n + 1, message };
        let row: Row = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let now: Zoned = row.now.parse().map_err(|e: jiff::Error| bad(e.to_string()))?;
        let prior = match &row.prior {
            Some(p) => labels_to_slots(p).map_err(bad)?,
            None => Slots::default(),
        };
        let u = slots::extract(&row.text, &lex, &now, &prior);
        let predicted = labels(&u);
        let mut wrong = Vec::new();
        let mut parts: [&mut Score; 2] = if n >= held_from {
            [&mut report.all, &mut report.held_out]
        } else {
            [&mut report.all, &mut report.tuning]
        };
        for f in FIELDS {
            let e = row.expect.get(*f).map(render);
            let p = predicted.get(*f).cloned();
            if e.is_none() && p.is_none() {
                continue;
            }
            let ok = e == p;
            if !ok {
                wrong.push((*f, e.unwrap_or_default(), p.unwrap_or_default()));
            }
            for s in parts.iter_mut() {
                let entry = s.per_field.entry(f).or_default();
                entry.0 += usize::from(ok);
                entry.1 += 1;
            }
        }
        for s in parts {
            s.lines += 1;
            s.exact += usize::from(wrong.is_empty());
        }
        if !wrong.is_empty() && n < held_from {
            report.tuning_misses.push(Miss { id: row.id, text: row.text, wrong });
        }
    }
    Ok(report)
}

fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The labels of an extraction, in the set's notation.
pub fn labels(u: &Utterance) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let s = &u.slots;
    if let Some(m) = &s.movie {
        out.insert("movie", m.clone());
    }
    if let Some(d) = s.date {
        out.insert("date", d.to_string());
    }
    if let Some(t) = s.time {
        out.insert("time", t.to_string());
    }
    if let Some(t) = &s.theater {
        out.insert("theater", t.clone());
    }
    if let Some(p) = s.party {
        out.insert("party", p.total.to_string());
        if let (Some(a), Some(c)) = (p.adults, p.children) {
            out.insert("detail", format!("{a}+{c}"));
        }
    }
    if let Some(c) = s.class {
        out.insert("class", c.as_str().to_owned());
    }
    if let Some(p) = s.position {
        // The sets' notation has no last row: it is a back wish.
        let p = if p == crate::Position::LastRow { crate::Position::Back } else { p };
        out.insert("position", render(&serde_json::to_value(p).unwrap_or_default()));
    }
    if let Some(a) = u.act {
        out.insert("act", render(&serde_json::to_value(a).unwrap_or_default()));
    }
    out
}

fn labels_to_slots(p: &BTreeMap<String, Value>) -> Result<Slots, String> {
    let mut v = serde_json::Map::new();
    for (k, x) in p {
        if k == "party" {
            v.insert("party".into(), serde_json::json!({"total": x}));
        } else {
            v.insert(k.clone(), x.clone());
        }
    }
    serde_json::from_value(Value::Object(v)).map_err(|e| format!("prior: {e}"))
}
