//! The gRPC adapter: converts `marquee.v1` messages to domain types and back,
//! and maps `ModelError` to `tonic::Status` (through its one `From`).
//!
//! Only this module (and `lib.rs` wiring) knows prost/tonic types; retrieval
//! and composition never see them.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_util::Stream;
use proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

use crate::answer::{self, AnswerRequest, Event, Stats, StreamOptions};
use crate::catalog::{Movie, Review};
use crate::compose::ToolOutcome;
use crate::error::ModelError;
use crate::index::{Filters, Mode, Store};
use crate::names::{Name, ScheduleNames};

/// Default and maximum number of search hits.
const DEFAULT_LIMIT: u32 = 10;
const MAX_LIMIT: u32 = 100;
/// Most texts one Embed call may carry.
const MAX_EMBED_TEXTS: usize = 256;
/// Longest search query, in bytes (longer is a client bug, not a question).
/// Chat text has its own limit, shared with the gateway: `proto::MAX_CHAT_TEXT_CHARS`.
const MAX_TEXT_BYTES: usize = 4096;
/// Longest accepted dialogue state, in bytes (ours stay under 4 KiB).
const MAX_DIALOG_STATE_BYTES: usize = 32 * 1024;
/// Most movies plus theaters a request's schedule may name (a week of a
/// large chain has a few hundred).
const MAX_SCHEDULE_NAMES: usize = 10_000;
/// The cinema's time zone, for requests without `now`.
const TIME_ZONE: &str = "Asia/Seoul";

/// The ModelService implementation.
#[derive(Debug, Clone)]
pub struct ModelApi {
    store: Store,
    stats: Arc<Stats>,
    opts: StreamOptions,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl ModelApi {
    /// A service over `store`; answer tasks are tracked by `tasks` and stop on `shutdown`.
    pub fn new(
        store: Store,
        stats: Arc<Stats>,
        opts: StreamOptions,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        crate::metrics::init();
        Self { store, stats, opts, shutdown, tasks }
    }

    fn ready(&self) -> Result<(), ModelError> {
        if self.store.is_ready() { Ok(()) } else { Err(ModelError::NotReady) }
    }
}

type AnswerStream = Pin<Box<dyn Stream<Item = Result<pb::AnswerEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::model_service_server::ModelService for ModelApi {
    type AnswerStream = AnswerStream;

    async fn answer(&self, request: Request<pb::AnswerRequest>) -> Result<Response<Self::AnswerStream>, Status> {
        let _rpc = crate::metrics::rpc("answer");
        self.ready()?;
        let req = answer_request(request.into_inner())?;
        let span = tracing::info_span!("answer", conversation = %req.conversation_id);
        let (tx, rx) = mpsc::channel(answer::CHANNEL_CAPACITY);
        let fut =
            answer::run(self.store.clone(), req, tx, self.opts.clone(), self.stats.clone(), self.shutdown.clone());
        self.tasks.spawn(tracing::Instrument::instrument(fut, span));
        let stream = ReceiverStream::new(rx).map(|ev| ev.map(answer_event).map_err(Status::from));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn search(&self, request: Request<pb::SearchRequest>) -> Result<Response<pb::SearchResponse>, Status> {
        let _rpc = crate::metrics::rpc("search");
        self.ready()?;
        let started = Instant::now();
        let req = request.into_inner();
        if req.query.trim().is_empty() {
            return Err(ModelError::InvalidArgument("query is empty".into()).into());
        }
        if req.query.len() > MAX_TEXT_BYTES {
            return Err(ModelError::InvalidArgument("query is too long".into()).into());
        }
        let limit = if req.limit == 0 { DEFAULT_LIMIT } else { req.limit.min(MAX_LIMIT) } as usize;
        let mode = match pb::SearchMode::try_from(req.mode) {
            Ok(pb::SearchMode::Lexical) => Mode::Lexical,
            Ok(pb::SearchMode::Dense) => Mode::Dense,
            Ok(pb::SearchMode::Hybrid) => Mode::Hybrid,
            Err(_) => return Err(ModelError::InvalidArgument("unknown search mode".into()).into()),
        };
        let filters = req.filters.map(filters).unwrap_or_default();
        let store = self.store.clone();
        let hits = tokio::task::spawn_blocking(move || store.read(|ix| ix.search(&req.query, &filters, limit, mode)))
            .await
            .map_err(|e| ModelError::Internal(format!("search task failed: {e}")))?;
        let hits = hits
            .into_iter()
            .map(|h| pb::SearchHit {
                movie_id: h.movie.id.clone(),
                title: h.movie.title.clone(),
                title_ko: h.movie.title_ko.clone(),
                year: h.movie.year,
                genres: h.movie.genres.clone(),
                rating: h.movie.rating,
                score: h.score,
                reviews: h
                    .reviews
                    .into_iter()
                    .map(|r| pb::ReviewHit {
                        review_id: r.review.id,
                        text: r.review.text,
                        rating: u32::from(r.review.rating),
                        score: r.score,
                    })
                    .collect(),
            })
            .collect();
        let took_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Ok(Response::new(pb::SearchResponse { hits, took_us }))
    }

    async fn embed(&self, request: Request<pb::EmbedRequest>) -> Result<Response<pb::EmbedResponse>, Status> {
        let _rpc = crate::metrics::rpc("embed");
        // Before the index is loaded the embedder is not the configured one yet.
        self.ready()?;
        let req = request.into_inner();
        if req.texts.len() > MAX_EMBED_TEXTS {
            return Err(ModelError::InvalidArgument(format!("at most {MAX_EMBED_TEXTS} texts per call")).into());
        }
        let embedder = self.store.read(|ix| ix.embedder().clone());
        let (vectors, dim, model) = tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = req.texts.iter().map(String::as_str).collect();
            let v: Vec<pb::Vector> =
                embedder.embed_batch(&texts).into_iter().map(|values| pb::Vector { values }).collect();
            (v, embedder.dim(), embedder.name().to_owned())
        })
        .await
        .map_err(|e| ModelError::Internal(format!("embed task failed: {e}")))?;
        Ok(Response::new(pb::EmbedResponse { vectors, dimensions: u32::try_from(dim).unwrap_or(u32::MAX), model }))
    }

    async fn ingest(&self, request: Request<pb::IngestRequest>) -> Result<Response<pb::IngestResponse>, Status> {
        let _rpc = crate::metrics::rpc("ingest");
        self.ready()?;
        let started = Instant::now();
        let req = request.into_inner();
        let movies: Vec<Movie> = req.movies.into_iter().map(movie).collect();
        let reviews = req.reviews.into_iter().map(review).collect::<Result<Vec<_>, _>>()?;
        let store = self.store.clone();
        let (nm, nr) = tokio::task::spawn_blocking(move || store.write(|ix| ix.ingest(movies, reviews)))
            .await
            .map_err(|e| ModelError::Internal(format!("ingest task failed: {e}")))?
            .map_err(ModelError::from)?;
        tracing::info!(movies = nm, reviews = nr, "ingested");
        Ok(Response::new(pb::IngestResponse {
            movies: u32::try_from(nm).unwrap_or(u32::MAX),
            reviews: u32::try_from(nr).unwrap_or(u32::MAX),
            took_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }))
    }
}

fn answer_request(r: pb::AnswerRequest) -> Result<AnswerRequest, ModelError> {
    if r.text.chars().count() > proto::MAX_CHAT_TEXT_CHARS {
        return Err(ModelError::InvalidArgument(format!(
            "text is longer than {} characters",
            proto::MAX_CHAT_TEXT_CHARS
        )));
    }
    let korean = match pb::Locale::try_from(r.locale) {
        Ok(pb::Locale::Ko) => Some(true),
        Ok(pb::Locale::En) => Some(false),
        Ok(pb::Locale::Unspecified) => None,
        Err(_) => return Err(ModelError::InvalidArgument("unknown locale".into())),
    };
    let tool_results = r
        .tool_results
        .into_iter()
        .map(|t| {
            // Parsed once, here, into the typed contract.
            let result = booking_tools::ToolResult::parse(&t.name, &t.result_json, t.is_error)
                .map_err(|e| ModelError::InvalidArgument(format!("tool result {}: {e}", t.call_id)))?;
            Ok(ToolOutcome { call_id: t.call_id, result })
        })
        .collect::<Result<Vec<_>, ModelError>>()?;
    let context = r.context.unwrap_or_default();
    if r.dialog_state.len() > MAX_DIALOG_STATE_BYTES {
        return Err(ModelError::InvalidArgument("dialog_state is too long".into()));
    }
    if r.schedule.as_ref().is_some_and(|s| s.movies.len() + s.theaters.len() > MAX_SCHEDULE_NAMES) {
        return Err(ModelError::InvalidArgument(format!("schedule names more than {MAX_SCHEDULE_NAMES} things")));
    }
    let now = if r.now.trim().is_empty() {
        jiff::Zoned::now().in_tz(TIME_ZONE).map_err(|e| ModelError::Internal(format!("time zone: {e}")))?
    } else {
        r.now.parse::<jiff::Zoned>().map_err(|e| ModelError::InvalidArgument(format!("now: {e}")))?
    };
    Ok(AnswerRequest {
        conversation_id: r.conversation_id,
        korean,
        recent_turns: r
            .recent_turns
            .into_iter()
            .map(|t| answer::Turn { from_user: t.role() != pb::Role::Assistant, text: t.text })
            .collect(),
        text: r.text,
        showtime_id: context.showtime_id.filter(|s| !s.is_empty()),
        movie_id: context.movie_id.filter(|s| !s.is_empty()),
        tool_results,
        now,
        dialog_state: r.dialog_state,
        schedule: r.schedule.map(schedule_names),
    })
}

fn schedule_names(s: pb::ScheduleNames) -> ScheduleNames {
    let name = |n: pb::ScheduleName| Name { id: n.id, name: n.name, name_ko: n.name_ko.filter(|k| !k.is_empty()) };
    ScheduleNames {
        version: s.version,
        movies: s.movies.into_iter().map(name).collect(),
        theaters: s.theaters.into_iter().map(name).collect(),
    }
}

fn answer_event(ev: Event) -> pb::AnswerEvent {
    use pb::answer_event::Event as E;
    let event = match ev {
        Event::Text(text) => E::Text(pb::TextDelta { text }),
        Event::Citation(c) => E::Citation(pb::Citation {
            movie_id: c.movie_id,
            review_id: c.review_id,
            snippet: c.snippet,
            attribution: c.attribution,
        }),
        Event::ToolCall { id, call } => {
            E::ToolCall(pb::ToolCall { id, name: call.name().to_owned(), arguments_json: call.arguments_json() })
        }
        Event::Final(f) => E::Final(pb::Final {
            timings: Some(pb::Timings {
                retrieval_us: f.timings.retrieval_us,
                first_token_us: f.timings.first_token_us,
                total_us: f.timings.total_us,
            }),
            speech: f.speech,
            locale: if f.korean { pb::Locale::Ko } else { pb::Locale::En }.into(),
            generator: f.generator,
            dialog_state: f.dialog_state,
            suggestions: f
                .suggestions
                .into_iter()
                .map(|s| pb::Suggestion { label: s.label, text: s.text, showtime_id: s.showtime_id })
                .collect(),
        }),
    };
    pb::AnswerEvent { event: Some(event) }
}

fn filters(f: pb::Filters) -> Filters {
    Filters {
        genres: f.genres,
        year_min: f.year_min,
        year_max: f.year_max,
        language: f.language.filter(|l| !l.is_empty()),
        min_rating: f.min_rating,
    }
}

fn movie(m: pb::Movie) -> Movie {
    let lang = match (&m.synopsis, &m.synopsis_ko) {
        (Some(s), _) if crate::text::has_hangul(s) => Some("ko".to_owned()),
        (Some(_), _) => Some("en".to_owned()),
        _ => None,
    };
    Movie {
        id: m.id,
        title: m.title,
        title_ko: m.title_ko,
        year: m.year,
        genres: m.genres,
        genres_ko: Vec::new(),
        cast: m.cast,
        cast_ko: m.cast_ko,
        countries: m.countries,
        rating: m.rating,
        synopsis: m.synopsis,
        lang,
        synopsis_ko: m.synopsis_ko,
        wiki_url: m.wiki_url,
    }
}

fn review(r: pb::Review) -> Result<Review, ModelError> {
    let rating = u8::try_from(r.rating)
        .map_err(|_| ModelError::InvalidArgument(format!("review {}: rating out of range", r.id)))?;
    Ok(Review {
        id: r.id,
        movie_id: r.movie_id,
        text: r.text,
        rating,
        lang: if r.lang.is_empty() { "ko".into() } else { r.lang },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_text_is_limited_in_characters_like_the_gateway() {
        let request = |text: String| pb::AnswerRequest { text, ..Default::default() };
        // 2,000 Hangul characters are 6,000 bytes: accepted, as the gateway accepts them.
        let most = "가".repeat(proto::MAX_CHAT_TEXT_CHARS);
        assert!(most.len() > 4096);
        assert!(answer_request(request(most)).is_ok());
        let over = "가".repeat(proto::MAX_CHAT_TEXT_CHARS + 1);
        assert!(
            matches!(answer_request(request(over)), Err(ModelError::InvalidArgument(m)) if m.contains("2000 characters"))
        );
    }
}
