//! One Answer: retrieve, compose, and stream the result as small events.
//!
//! Without an LLM, booking turns (and booking continuations: an active
//! dialogue state or tool results) go to the `dialog` crate's policy, which
//! returns the reply, the tool calls and the next dialogue state; discovery
//! and opinion questions keep the retrieval answer with citations. A
//! discovery question naming a date or time first asks for that day's
//! showtimes and then recommends among the movies actually showing.
//!
//! The generation task owns the sending half of a bounded channel. When the
//! client goes away tonic drops the receiving half, the next send (or the
//! `closed()` check between deltas) fails, and the task stops: a cancelled
//! stream costs no further work. The task also stops on server shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::catalog::Movie;
use dialog::Lexicon;
use dialog::policy;

use crate::compose::{self, Citation, Focus, Input, Part, ToolCall, ToolOutcome};
use crate::error::ModelError;
use crate::index::{Filters, Hit, Mode, Store};
use crate::intent::{self, Intent};
use crate::llm::{self, Llm, LlmError, LlmEvent, LlmStream};
use crate::names::{Names, ScheduleNames};
use crate::query;
use crate::text;

/// Movies retrieved for an answer.
const RETRIEVED: usize = 5;
/// Movies searched when recommending among those showing at a time.
const SHOWING_POOL: usize = 100;
/// Reviews quoted for the movie in focus.
const FOCUS_REVIEWS: usize = 3;
/// Earlier turns read for context.
const MAX_TURNS: usize = 8;
/// A text delta carries about this many characters (whole words).
const DELTA_CHARS: usize = 12;
/// Capacity of the per-answer event channel (backpressure towards generation).
pub const CHANNEL_CAPACITY: usize = 16;

/// One earlier turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// True for the user, false for the assistant.
    pub from_user: bool,
    /// What was said.
    pub text: String,
}

/// An Answer request in domain terms.
#[derive(Debug, Clone)]
pub struct AnswerRequest {
    /// Conversation id (used in tool call ids and logs).
    pub conversation_id: String,
    /// `Some(true)` for Korean, `Some(false)` for English, `None` to detect from the text.
    pub korean: Option<bool>,
    /// Earlier turns, oldest first.
    pub recent_turns: Vec<Turn>,
    /// The user's message.
    pub text: String,
    /// Showtime on screen.
    pub showtime_id: Option<String>,
    /// Movie on screen.
    pub movie_id: Option<String>,
    /// Results of tools the gateway ran.
    pub tool_results: Vec<ToolOutcome>,
    /// The cinema's local time (relative dates resolve against it).
    pub now: jiff::Zoned,
    /// The dialogue state from the conversation's last Final (empty at the start).
    pub dialog_state: String,
    /// The seat store's current schedule names; `None`: the service's own.
    pub schedule: Option<ScheduleNames>,
}

impl Default for AnswerRequest {
    /// An empty request at the current time in Asia/Seoul.
    fn default() -> Self {
        let now = jiff::Zoned::now();
        AnswerRequest {
            conversation_id: String::new(),
            korean: None,
            recent_turns: Vec::new(),
            text: String::new(),
            showtime_id: None,
            movie_id: None,
            tool_results: Vec::new(),
            now: now.in_tz("Asia/Seoul").unwrap_or(now),
            dialog_state: String::new(),
            schedule: None,
        }
    }
}

/// Timings of one answer, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Retrieval.
    pub retrieval_us: u64,
    /// Request to first text delta.
    pub first_token_us: u64,
    /// Request to final event.
    pub total_us: u64,
}

/// The last event of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Final {
    /// Timings.
    pub timings: Timings,
    /// Plain-text answer for read-aloud.
    pub speech: String,
    /// True when the answer is Korean.
    pub korean: bool,
    /// `composer` (or `llm:<model>`).
    pub generator: String,
    /// The dialogue state for the next request of this conversation.
    pub dialog_state: String,
    /// Quick replies.
    pub suggestions: Vec<policy::Suggestion>,
}

/// One streamed event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A piece of text.
    Text(String),
    /// A record the text relies on.
    Citation(Citation),
    /// A tool the gateway should run.
    ToolCall {
        /// Unique id for the result to refer to.
        id: String,
        /// The tool and its arguments.
        call: ToolCall,
    },
    /// The end.
    Final(Final),
}

/// Counters about answers, read by tests and logs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Answers started.
    pub started: AtomicU64,
    /// Answers that sent their final event.
    pub completed: AtomicU64,
    /// Answers stopped because the client went away.
    pub cancelled: AtomicU64,
}

/// Streaming options.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Pause between text deltas (zero sends as fast as the client reads).
    pub delta_interval: Duration,
    /// The LLM endpoint, when configured; the composer otherwise (and as fallback).
    pub llm: Option<Arc<Llm>>,
    /// Theater and movie names of the request's schedule (the dialogue's base lexicon).
    pub names: Arc<Names>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions { delta_interval: Duration::ZERO, llm: None, names: Arc::new(Names::default()) }
    }
}

/// Retrieval results: the composed answer (used directly, or as the LLM's
/// fallback and citations) and the passages for an LLM prompt.
struct Retrieved {
    parts: Vec<Part>,
    passages: String,
    /// Set when the booking dialogue answered this round.
    dialog: Option<DialogOut>,
}

/// What the dialogue adds to the Final event.
struct DialogOut {
    state: String,
    suggestions: Vec<policy::Suggestion>,
    speech: String,
}

/// How an LLM stream ended early.
enum LlmStop {
    /// Failed before any text was sent: fall back to the composer.
    BeforeText(LlmError),
    /// Failed after text was sent: end the stream with a status.
    AfterText(LlmError),
    /// Client gone or shutdown.
    Stopped(Stop),
}

static CALL_SEQ: AtomicU64 = AtomicU64::new(1);

/// Why generation stopped early.
enum Stop {
    ClientGone,
    Shutdown,
}

/// Runs one answer, sending events to `tx` until done, the client leaves or
/// `shutdown` fires. Errors before the first event are sent as `Err`.
pub async fn run(
    store: Store,
    req: AnswerRequest,
    tx: mpsc::Sender<Result<Event, ModelError>>,
    opts: StreamOptions,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    stats.started.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let korean = req.korean.unwrap_or_else(|| text::has_hangul(&req.text));
    let retrieval = {
        let store = store.clone();
        let req = req.clone();
        let names = opts.names.for_request(req.schedule.as_ref());
        tokio::task::spawn_blocking(move || retrieve(&store, &req, korean, &names)).await
    };
    let retrieved = match retrieval {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let _ = tx.send(Err(e)).await;
            return;
        }
        Err(e) => {
            let _ = tx.send(Err(ModelError::Internal(format!("retrieval task failed: {e}")))).await;
            return;
        }
    };
    let retrieval_us = micros(started.elapsed());
    let parts = retrieved.parts;
    let mut generator = "composer".to_owned();
    if let Some(model) = opts.llm.clone() {
        let outcome =
            match model.stream(korean, &req.text, &req.recent_turns, &retrieved.passages, &req.tool_results).await {
                Ok(stream) => stream_llm(stream, &parts, &req.conversation_id, &tx, &shutdown, started).await,
                Err(e) => Err(LlmStop::BeforeText(e)),
            };
        match outcome {
            Ok((first_token_us, text)) => {
                let timings = Timings { retrieval_us, first_token_us, total_us: micros(started.elapsed()) };
                let speech = compose::speech(&[Part::Text(text)]);
                // The LLM path does not interpret the dialogue state: it passes it on.
                let fin = Final {
                    timings,
                    speech,
                    korean,
                    generator: model.name(),
                    dialog_state: req.dialog_state.clone(),
                    suggestions: Vec::new(),
                };
                finish(&tx, &stats, fin).await;
                return;
            }
            Err(LlmStop::BeforeText(e)) => {
                tracing::warn!(error = %e, "LLM unavailable; answering with the composer");
                generator = "composer (llm fallback)".to_owned();
            }
            Err(LlmStop::AfterText(e)) => {
                let _ = tx.send(Err(ModelError::Upstream(e.to_string()))).await;
                return;
            }
            Err(LlmStop::Stopped(stop)) => {
                stopped(&tx, &stats, stop);
                return;
            }
        }
    }
    let (speech, dialog_state, suggestions) = match retrieved.dialog {
        Some(d) => (d.speech, d.state, d.suggestions),
        None => (compose::speech(&parts), req.dialog_state.clone(), Vec::new()),
    };
    match stream_parts(&parts, &req.conversation_id, &tx, &opts, &shutdown, started).await {
        Ok(first_token_us) => {
            let timings = Timings { retrieval_us, first_token_us, total_us: micros(started.elapsed()) };
            let fin = Final { timings, speech, korean, generator, dialog_state, suggestions };
            finish(&tx, &stats, fin).await;
        }
        Err(stop) => stopped(&tx, &stats, stop),
    }
}

async fn finish(tx: &mpsc::Sender<Result<Event, ModelError>>, stats: &Stats, fin: Final) {
    if tx.send(Ok(Event::Final(fin))).await.is_ok() {
        stats.completed.fetch_add(1, Ordering::Relaxed);
    } else {
        stats.cancelled.fetch_add(1, Ordering::Relaxed);
    }
}

fn stopped(tx: &mpsc::Sender<Result<Event, ModelError>>, stats: &Stats, stop: Stop) {
    match stop {
        Stop::ClientGone => {
            stats.cancelled.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("client went away; answer stopped");
        }
        Stop::Shutdown => {
            let _ = tx.try_send(Err(ModelError::ShuttingDown));
        }
    }
}

/// Streams the LLM's answer; on success returns first-token time and the full text.
async fn stream_llm(
    mut stream: LlmStream,
    parts: &[Part],
    conversation: &str,
    tx: &mpsc::Sender<Result<Event, ModelError>>,
    shutdown: &CancellationToken,
    started: Instant,
) -> Result<(u64, String), LlmStop> {
    use futures_util::StreamExt;
    let mut first_token_us = 0;
    let mut text = String::new();
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return Err(LlmStop::Stopped(Stop::Shutdown)),
            () = tx.closed() => return Err(LlmStop::Stopped(Stop::ClientGone)),
            n = stream.next() => n,
        };
        let ev = match next {
            None => break,
            Some(Err(e)) if text.is_empty() => return Err(LlmStop::BeforeText(e)),
            Some(Err(e)) => return Err(LlmStop::AfterText(e)),
            Some(Ok(ev)) => ev,
        };
        let out = match ev {
            LlmEvent::Text(t) => {
                text.push_str(&t);
                if first_token_us == 0 {
                    first_token_us = micros(started.elapsed()).max(1);
                }
                Event::Text(t)
            }
            LlmEvent::ToolCall { call, .. } => {
                let n = CALL_SEQ.fetch_add(1, Ordering::Relaxed);
                Event::ToolCall { id: format!("call-{conversation}-{n}"), call }
            }
        };
        tx.send(Ok(out)).await.map_err(|_| LlmStop::Stopped(Stop::ClientGone))?;
    }
    // The passages in the prompt are what the answer relies on.
    for p in parts {
        if let Part::Cite(c) = p {
            tx.send(Ok(Event::Citation(c.clone()))).await.map_err(|_| LlmStop::Stopped(Stop::ClientGone))?;
        }
    }
    Ok((first_token_us, text))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Retrieval and composition (blocking: runs on the blocking pool).
fn retrieve(store: &Store, req: &AnswerRequest, korean: bool, names: &Lexicon) -> Result<Retrieved, ModelError> {
    if !store.is_ready() {
        return Err(ModelError::NotReady);
    }
    if req.text.trim().is_empty() && req.tool_results.is_empty() {
        return Err(ModelError::InvalidArgument("text is empty and there are no tool results".into()));
    }
    let hints = query::hints(&req.text);
    store.read(|ix| {
        let screen_movie: Option<Arc<Movie>> = req.movie_id.as_deref().and_then(|id| ix.movie(id));
        let mut hits: Vec<Hit> = if req.text.trim().is_empty() {
            Vec::new()
        } else {
            ix.search(&req.text, &Filters::default(), RETRIEVED, Mode::Hybrid)
        };
        // A short follow-up ("is it scary?") is about the movie on screen, or
        // the one the conversation was about.
        if (hits.is_empty() || hints.aspect.is_some() && screen_movie.is_none() && req.text.chars().count() < 12)
            && let Some(prev) =
                req.recent_turns.iter().rev().take(MAX_TURNS).map(|t| t.text.as_str()).find(|t| !t.trim().is_empty())
        {
            let context = format!("{prev} {}", req.text);
            let more = ix.search(&context, &Filters::default(), RETRIEVED, Mode::Hybrid);
            if hits.is_empty() {
                hits = more;
            } else if let Some(first) = more.into_iter().next() {
                hits.insert(0, first);
            }
        }
        let focus_movie = screen_movie.clone().or_else(|| hits.first().map(|h| h.movie.clone()));
        let focus = focus_movie.map(|movie| {
            let review_query = match hints.aspect {
                Some(a) => format!("{} {}", req.text, a.review_terms()),
                None => req.text.clone(),
            };
            let (reviews, sentiment) = ix.reviews_for(&movie.id, &review_query, FOCUS_REVIEWS);
            Focus { movie, reviews, sentiment }
        });
        let passages = llm::passages(&hits, focus.as_ref().map(|f| (f.movie.id.as_str(), f.sentiment)));
        if let Some(out) = converse(ix, req, korean, names, &hits) {
            return Ok(Retrieved { parts: out.0, passages, dialog: Some(out.1) });
        }
        let input = Input {
            korean,
            text: &req.text,
            aspect: hints.aspect,
            hits: &hits,
            focus,
            showtime_id: req.showtime_id.as_deref(),
            screen_movie,
            showing_intro: None,
        };
        Ok(Retrieved { parts: compose::compose(&input), passages, dialog: None })
    })
}

/// The booking dialogue's round, when this turn is one: booking words or acts,
/// an open booking, tool results, or a discovery question naming a date/time.
fn converse(
    ix: &crate::index::Index,
    req: &AnswerRequest,
    korean: bool,
    names: &Lexicon,
    hits: &[Hit],
) -> Option<(Vec<Part>, DialogOut)> {
    let state = policy::State::from_json(&req.dialog_state);
    let results: Vec<policy::ToolResult> = req.tool_results.iter().map(|t| t.result.clone()).collect();
    // Names: the schedule's, the movies retrieved for this text (the catalog's
    // whole titles only), and the showtimes seen in this conversation.
    let mut lex = names.clone();
    for h in hits {
        lex.add_movie_whole(&h.movie.id, &h.movie.title, h.movie.title_ko.as_deref());
    }
    let seen = results.iter().flat_map(|r| match &r.outcome {
        Ok(booking_tools::ToolOutput::Showtimes(list)) => policy::parse_showtimes(list),
        _ => Vec::new(),
    });
    for o in state.offers.iter().chain(state.chosen.iter()).cloned().chain(seen) {
        if !o.title.is_empty() {
            lex.add_movie(&o.movie, &o.title, o.title_ko.as_deref(), &[]);
        }
    }
    let discovery = intent::classify(&req.text) == Intent::Discover;
    let u = dialog::extract(&req.text, &lex, &req.now, &state.slots);
    if results.is_empty() && !policy::wants(&state, &u, discovery) && discovery {
        return None;
    }
    let mut parts = Vec::new();
    let mut speech = String::new();
    let mut recommended = None;
    if state.discover && !results.is_empty() {
        let showing = policy::showing(&state, &results, &req.now);
        let ids: Vec<&str> = showing.iter().map(|m| m.0.as_str()).collect();
        let mut shown: Vec<Hit> = ix
            .search(&req.text, &Filters::default(), SHOWING_POOL, Mode::Hybrid)
            .into_iter()
            .filter(|h| ids.contains(&h.movie.id.as_str()))
            .take(compose::LISTED)
            .collect();
        if shown.is_empty() {
            shown = ids
                .iter()
                .filter_map(|id| ix.movie(id))
                .take(compose::LISTED)
                .map(|movie| Hit { movie, score: 0.0, reviews: Vec::new() })
                .collect();
        }
        if !shown.is_empty() {
            let input = Input {
                korean,
                text: &req.text,
                aspect: None,
                hits: &shown,
                focus: None,
                showtime_id: None,
                screen_movie: None,
                showing_intro: Some((
                    "말씀하신 때에 상영하는 영화 중에서 골라 봤어요.",
                    "Of the movies showing then, these fit best.",
                )),
            };
            let mut p = vec![Part::Text("\n\n".into())];
            p.extend(compose::compose(&input));
            speech = compose::speech(&p);
            parts = p;
            recommended = Some(shown.iter().map(|h| h.movie.id.clone()).collect());
        } else if !ids.is_empty() {
            recommended = Some(ids.iter().map(|s| (*s).to_owned()).collect());
        }
    }
    let out = policy::step(policy::Input {
        text: &req.text,
        korean,
        now: &req.now,
        lexicon: &lex,
        state,
        tool_results: &results,
        discovery,
        recommended,
        screen_showtime: req.showtime_id.as_deref(),
    });
    if !out.text.is_empty() {
        // Rounds of one turn are concatenated by the gateway.
        let sep = if !parts.is_empty() {
            "\n\n"
        } else if results.is_empty() {
            ""
        } else {
            " "
        };
        parts.push(Part::Text(format!("{sep}{}", out.text)));
    }
    parts.extend(out.calls.into_iter().map(Part::Call));
    let speech = [speech, out.speech].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
    Some((parts, DialogOut { state: out.state.to_json(), suggestions: out.suggestions, speech }))
}

/// Splits text into deltas of whole words of about [`DELTA_CHARS`].
fn deltas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for piece in text.split_inclusive([' ', '\n']) {
        cur.push_str(piece);
        if cur.chars().count() >= DELTA_CHARS {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

async fn stream_parts(
    parts: &[Part],
    conversation: &str,
    tx: &mpsc::Sender<Result<Event, ModelError>>,
    opts: &StreamOptions,
    shutdown: &CancellationToken,
    started: Instant,
) -> Result<u64, Stop> {
    let mut first_token_us = 0;
    let send = |ev: Event| async move { tx.send(Ok(ev)).await.map_err(|_| Stop::ClientGone) };
    for part in parts {
        match part {
            Part::Text(t) => {
                for d in deltas(t) {
                    if shutdown.is_cancelled() {
                        return Err(Stop::Shutdown);
                    }
                    send(Event::Text(d)).await?;
                    if first_token_us == 0 {
                        first_token_us = micros(started.elapsed()).max(1);
                    }
                    if !opts.delta_interval.is_zero() {
                        tokio::select! {
                            () = tx.closed() => return Err(Stop::ClientGone),
                            () = shutdown.cancelled() => return Err(Stop::Shutdown),
                            () = tokio::time::sleep(opts.delta_interval) => {}
                        }
                    }
                }
            }
            Part::Cite(c) => send(Event::Citation(c.clone())).await?,
            Part::Call(call) => {
                let n = CALL_SEQ.fetch_add(1, Ordering::Relaxed);
                let id = format!("call-{conversation}-{n}");
                send(Event::ToolCall { id, call: call.clone() }).await?;
            }
        }
    }
    Ok(first_token_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_rebuild_the_text_and_are_small() {
        let t = "말씀하신 내용에 잘 맞는 영화 3편을 골라 봤어요.\n\n1. 《부산행 막차》 (2019) — 좋아요.";
        let d = deltas(t);
        assert!(d.len() > 3);
        assert_eq!(d.concat(), t);
        assert!(d.iter().all(|x| x.chars().count() < 40));
    }
}
