//! The dispatcher: reads chat requests from the queue (consumer group),
//! answers each with the model service over gRPC, runs the booking tools
//! the model proposes, and publishes the answer on the user's topic.
//!
//! One task per request in flight (at most `prefetch`); at most
//! `concurrency` of them call the model at once. A request is acknowledged
//! only after its final event is published; while it is worked on, its
//! queue entry is touched so other dispatchers do not claim it. A request
//! whose dispatcher died is claimed after `claim_idle` and answered again as
//! a new attempt; the queue's fence makes sure no event of a superseded
//! attempt is published after that. Only the first attempt publishes
//! `start`; a later one publishes `restart` only when the attempt before it
//! had begun streaming output (which the user must discard), never on a
//! retry after an attempt that showed nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use proto::v1 as pb;
use proto::v1::model_service_client::ModelServiceClient;
use seats::SeatStore;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::events::{self, Event, Suggestion};
use super::queue::{Begin, ChatError, ChatQueue, Conversation, Entry, Fence, FinalSave, HoldWarning, Request, Turn};
use super::{consent, tools};
use crate::metrics::Metrics;
use crate::wire::Locale;

/// Answer rounds (model call, then its tool calls) per message at most.
pub const MAX_ROUNDS: usize = 5;
/// Turns of history sent to the model.
const HISTORY_TURNS: usize = 8;
/// A hold made by the bot is announced this long before it expires.
pub const WARN_BEFORE_MS: i64 = 60_000;
/// Waits between tries while the model service is down.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Pause after a failed queue read (Redis down or overloaded).
const READ_RETRY: Duration = Duration::from_millis(500);
/// Abandoned requests claimed per `XAUTOCLAIM` call at most (a tick makes
/// as many calls as the free prefetch permits allow).
const CLAIM_BATCH: usize = 64;
/// A `queued` event is repeated at most this often while waiting.
const QUEUED_EVERY: Duration = Duration::from_secs(5);

/// How a dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Its consumer name in the group (the node id).
    pub consumer: String,
    /// Model calls in flight at most.
    pub concurrency: usize,
    /// Requests in flight at most, read or claimed (answering or waiting for a model slot).
    pub prefetch: usize,
    /// After this long without an answer the user gets an apology.
    pub deadline: Duration,
    /// A request untouched this long is claimed by another dispatcher.
    pub claim_idle: Duration,
    /// After this long the request is given up with a final apology.
    pub give_up: Duration,
    /// A model call silent this long (no headers, no event) fails and is retried.
    pub model_stall: Duration,
}

/// The dispatcher's shared parts.
pub struct Dispatcher {
    queue: ChatQueue,
    seats: SeatStore,
    model: ModelServiceClient<Channel>,
    config: DispatchConfig,
    metrics: Arc<Metrics>,
    model_slots: Semaphore,
    /// Requests in flight (read or claimed) at most: `prefetch` permits.
    in_flight: Arc<Semaphore>,
    schedule_names: super::schedule::NamesCache,
    shutdown: CancellationToken,
}

/// Why an answer attempt stopped early.
#[derive(Debug, thiserror::Error)]
enum Stop {
    /// The model service failed or is unreachable: retry later.
    #[error("model service: {0}")]
    Model(tonic::Status),
    /// The queue (Redis) failed: retry later.
    #[error("queue: {0}")]
    Queue(#[from] ChatError),
    /// A newer attempt owns the message, or it is answered.
    #[error("superseded")]
    Fenced,
    /// The node is shutting down; another dispatcher takes over.
    #[error("shutting down")]
    Shutdown,
}

impl Dispatcher {
    /// A dispatcher over `queue`, answering with `model`.
    pub fn new(
        queue: ChatQueue,
        seats: SeatStore,
        model: ModelServiceClient<Channel>,
        config: DispatchConfig,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Arc<Dispatcher> {
        Arc::new(Dispatcher {
            model_slots: Semaphore::new(config.concurrency.max(1)),
            in_flight: Arc::new(Semaphore::new(config.prefetch.max(1))),
            schedule_names: super::schedule::NamesCache::default(),
            queue,
            seats,
            model,
            config,
            metrics,
            shutdown,
        })
    }

    /// Runs until shutdown: reads new requests, claims abandoned ones,
    /// sends hold warnings and samples the queue depth.
    pub async fn run(self: Arc<Self>, tracker: tokio_util::task::TaskTracker) {
        tracker.spawn(self.clone().claim_loop(tracker.clone()));
        tracker.spawn(self.clone().housekeeping_loop());
        let prefetch = self.in_flight.clone();
        loop {
            let first = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                p = prefetch.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            };
            let mut permits = vec![first];
            while permits.len() < 64
                && let Ok(p) = prefetch.clone().try_acquire_owned()
            {
                permits.push(p);
            }
            let entries = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                r = self.queue.read(&self.config.consumer, permits.len()) => r,
            };
            match entries {
                Ok(entries) => {
                    for entry in entries {
                        let Some(permit) = permits.pop() else { break };
                        let this = self.clone();
                        tracker.spawn(async move {
                            this.handle(entry).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "chat queue read failed; retrying");
                    tokio::time::sleep(READ_RETRY).await;
                }
            }
        }
    }

    /// Every `claim_idle`/2, takes over every request idle for `claim_idle`
    /// (its dispatcher died) that this dispatcher has room for: `XAUTOCLAIM`
    /// again and again along the pending list until it is scanned or the
    /// free prefetch permits are used up, one permit per claimed request. So
    /// a dead dispatcher's whole prefetch is taken over within a tick, not a
    /// batch per tick; what does not fit waits for the next tick (or another
    /// dispatcher). A claimed request already past its deadline gets its
    /// apology as soon as its task starts (`apologize_at_deadline`).
    async fn claim_loop(self: Arc<Self>, tracker: tokio_util::task::TaskTracker) {
        let mut tick = tokio::time::interval(self.config.claim_idle / 2);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let mut cursor = bus::CLAIM_START.to_owned();
            loop {
                let mut permits = Vec::new();
                while permits.len() < CLAIM_BATCH
                    && let Ok(p) = self.in_flight.clone().try_acquire_owned()
                {
                    permits.push(p);
                }
                if permits.is_empty() {
                    tracing::debug!("no room to claim abandoned chat requests this tick");
                    break;
                }
                let claimed = tokio::select! {
                    _ = self.shutdown.cancelled() => return,
                    r = self.queue.claim(&self.config.consumer, self.config.claim_idle, permits.len(), &cursor) => r,
                };
                let (entries, next) = match claimed {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "chat claim failed");
                        break;
                    }
                };
                for entry in entries {
                    let Some(permit) = permits.pop() else { break };
                    tracing::info!(id = %entry.id, message = %entry.req.message_id, "claimed an abandoned chat request");
                    let this = self.clone();
                    tracker.spawn(async move {
                        this.handle(entry).await;
                        drop(permit);
                    });
                }
                if next == bus::CLAIM_START {
                    break;
                }
                cursor = next;
            }
        }
    }

    async fn housekeeping_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Ok(depth) = self.queue.depth().await {
                self.metrics.chat_queue_depth.store(depth as i64, Relaxed);
            }
            match self.queue.due_warnings(self.seats.clock().now_ms()).await {
                Ok(due) => {
                    for w in due {
                        self.warn(&w).await;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "warning scan failed"),
            }
        }
    }

    /// Answers one request, retrying while the model service is down, and
    /// acknowledges it once answered.
    #[tracing::instrument(skip_all, fields(message = %entry.req.message_id, user = %entry.req.user))]
    async fn handle(&self, entry: Entry) {
        let req = &entry.req;
        let mut backoff = BACKOFF_MIN;
        let mut last_queued: Option<tokio::time::Instant> = None;
        loop {
            let (attempt, restart, conv) = match self.queue.begin(req).await {
                Ok((Begin::Done, _)) => break,
                Ok((Begin::Attempt { attempt, restart }, conv)) => (attempt, restart, conv),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start an answer; retrying");
                    if self.pause(&entry, BACKOFF_MAX).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            if attempt > 1 {
                self.metrics.chat_restarts.fetch_add(1, Relaxed);
            }
            let outcome = tokio::select! {
                r = self.attempt(&entry, attempt, restart, conv) => r,
                () = self.keep_claimed(&entry) => Err(Stop::Shutdown),
                () = self.apologize_at_deadline(req) => Err(Stop::Shutdown),
            };
            match outcome {
                Ok(()) => {
                    self.metrics.chat_answers.fetch_add(1, Relaxed);
                    self.metrics.chat_attempt("answered");
                    break;
                }
                Err(Stop::Fenced) => {
                    self.metrics.chat_attempt("fenced");
                    tracing::info!("superseded by a newer attempt");
                    return;
                }
                Err(Stop::Shutdown) => return self.metrics.chat_attempt("shutdown"),
                Err(Stop::Model(status)) if retry_cannot_help(&status) => {
                    // The request itself is refused: every retry would be
                    // refused too, while holding a prefetch permit.
                    self.metrics.model_errors.fetch_add(1, Relaxed);
                    self.metrics.chat_attempt("rejected");
                    tracing::warn!(code = ?status.code(), error = %status.message(), "model service refused the request; dead-lettered");
                    self.give_up(req, attempt).await;
                    if let Err(e) = self.queue.dead_letter(&entry, status.message()).await {
                        tracing::warn!(error = %e, "dead-letter failed; the request stays pending");
                        return;
                    }
                    self.metrics.chat_dead_letters.fetch_add(1, Relaxed);
                    return;
                }
                Err(e) => {
                    if matches!(e, Stop::Model(_)) {
                        self.metrics.model_errors.fetch_add(1, Relaxed);
                    }
                    self.metrics.chat_attempt(if matches!(e, Stop::Model(_)) { "model_error" } else { "failed" });
                    tracing::warn!(error = %e, attempt, "answer failed; will retry");
                    let age = self.age(req);
                    if age >= self.config.give_up {
                        self.give_up(req, attempt).await;
                        break;
                    }
                    if last_queued.is_none_or(|t| t.elapsed() >= QUEUED_EVERY) {
                        last_queued = Some(tokio::time::Instant::now());
                        let position = self.queue.depth().await.unwrap_or(1).max(1);
                        let payload = events::encode(&req.message_id, &req.conversation, Event::Queued { position });
                        let _ = self.queue.publish(req, Fence::Status, payload).await;
                    }
                    if age >= self.config.deadline {
                        self.apologize(req).await;
                    }
                    if self.pause(&entry, backoff).await.is_err() {
                        return;
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        if let Err(e) = self.queue.ack(&entry.id).await {
            // Left pending: it is claimed later, found answered, and acknowledged then.
            tracing::warn!(error = %e, "ack failed");
        }
    }

    /// Sleeps `d` while keeping the entry claimed; Err on shutdown.
    async fn pause(&self, entry: &Entry, d: Duration) -> Result<(), ()> {
        let _ = self.queue.touch(&self.config.consumer, &entry.id).await;
        tokio::select! {
            _ = self.shutdown.cancelled() => Err(()),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }

    /// Publishes the apology when the request reaches its deadline while an
    /// attempt is still running (a slow or hung model service), then waits
    /// forever: the attempt decides how the request ends.
    async fn apologize_at_deadline(&self, req: &Request) {
        let wait = self.config.deadline.saturating_sub(self.age(req));
        tokio::time::sleep(wait).await;
        self.apologize(req).await;
        std::future::pending::<()>().await;
    }

    /// Touches the entry every third of the claim timeout; returns on shutdown.
    async fn keep_claimed(&self, entry: &Entry) {
        let mut tick = tokio::time::interval(self.config.claim_idle / 3);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.queue.touch(&self.config.consumer, &entry.id).await {
                tracing::debug!(error = %e, "touch failed");
            }
        }
    }

    fn age(&self, req: &Request) -> Duration {
        Duration::from_millis(self.seats.clock().now_ms().saturating_sub(req.accepted_at).max(0) as u64)
    }

    /// One attempt at the whole answer: model rounds, tools, final.
    /// `restart`: the attempt before this one began streaming output.
    async fn attempt(&self, entry: &Entry, attempt: u32, restart: bool, conv: Conversation) -> Result<(), Stop> {
        let req = &entry.req;
        let publish = |event: Event<'_>| events::encode(&req.message_id, &req.conversation, event);
        // Wait for a model slot; the apology goes out if that takes too long.
        let _slot = loop {
            let wait = self.config.deadline.saturating_sub(self.age(req)).max(Duration::from_millis(1));
            tokio::select! {
                s = self.model_slots.acquire() => break s.map_err(|_| Stop::Shutdown)?,
                _ = tokio::time::sleep(wait) => self.apologize(req).await,
                _ = self.shutdown.cancelled() => return Err(Stop::Shutdown),
            }
        };
        let fence = Fence::Attempt(attempt);
        // `start` for the first attempt, `restart` when the user saw output
        // of the one before, nothing on a retry after an attempt that showed
        // nothing (its `start` still stands; later events carry the new
        // attempt). Published while the first model call starts (one round
        // trip saved); checked before any later event of the attempt goes out.
        let mut start = match (attempt, restart) {
            (1, _) => Some(publish(Event::Start { attempt })),
            (_, true) => Some(publish(Event::Restart { attempt })),
            (_, false) => None,
        };
        // Output (deltas, citations, actions) is published with its own
        // fence, which also records in the same atomic step that the attempt
        // showed output, so the next attempt (here or on another node) knows
        // to `restart`: no extra round trip before the first delta.
        let output = Fence::Output(attempt);
        let mut state = conv.state.clone();
        let mut results: Vec<pb::ToolResult> = Vec::new();
        let mut text = String::new();
        let mut speech: Vec<String> = Vec::new();
        let mut suggestions: Vec<Suggestion> = Vec::new();
        let turns: Vec<pb::Turn> = conv
            .turns
            .iter()
            .rev()
            .take(HISTORY_TURNS)
            .rev()
            .map(|t| pb::Turn {
                role: if t.role == "user" { pb::Role::User } else { pb::Role::Assistant }.into(),
                text: t.text.clone(),
            })
            .collect();
        // The dialogue names what the seat store books: its current schedule,
        // refreshed now so an admin's change made on another node counts from
        // the next chat (one HGET when nothing changed).
        if let Err(e) = self.seats.refresh_schedule().await {
            tracing::warn!(error = %e, "cannot refresh the schedule; answering with the one this node has");
        }
        let schedule = self.schedule_names.names(self.seats.schedule());
        // Consent (chat/consent.rs): the bot's previous reply and the hold it
        // read back; the hold open as this turn's tool results change it.
        let previous = conv.turns.last().filter(|t| t.role == "assistant");
        let mut open = previous.and_then(|t| t.readback.as_ref()).map(consent::ReadBack::hold);
        for round in 0..MAX_ROUNDS {
            let request = pb::AnswerRequest {
                conversation_id: format!("{}:{}", req.user, req.conversation),
                locale: match req.locale {
                    Some(Locale::Ko) => pb::Locale::Ko,
                    Some(Locale::En) => pb::Locale::En,
                    None => pb::Locale::Unspecified,
                }
                .into(),
                recent_turns: turns.clone(),
                text: req.text.clone(),
                context: Some(pb::ScreenContext {
                    showtime_id: req.context.showtime.clone(),
                    movie_id: req.context.movie.clone(),
                }),
                tool_results: std::mem::take(&mut results),
                now: self.now_text(),
                dialog_state: state.clone(),
                schedule: Some(schedule.clone()),
            };
            let mut client = self.model.clone();
            let call = client.answer(request);
            let stall = self.config.model_stall;
            let call = async move { tokio::time::timeout(stall, call).await.unwrap_or_else(|_| Err(stalled(stall))) };
            let response = match start.take() {
                Some(payload) => {
                    let (published, response) = tokio::join!(self.queue.publish(req, fence.clone(), payload), call);
                    if !published? {
                        return Err(Stop::Fenced);
                    }
                    response
                }
                None => call.await,
            };
            let mut stream = response.map_err(Stop::Model)?.into_inner();
            let mut calls: Vec<pb::ToolCall> = Vec::new();
            let mut finished = false;
            while let Some(ev) = tokio::time::timeout(stall, stream.message())
                .await
                .unwrap_or_else(|_| Err(stalled(stall)))
                .map_err(Stop::Model)?
            {
                match ev.event {
                    Some(pb::answer_event::Event::Text(d)) => {
                        if d.text.is_empty() {
                            continue;
                        }
                        text.push_str(&d.text);
                        let e = Event::Delta { attempt, text: &d.text };
                        if !self.queue.publish(req, output.clone(), publish(e)).await? {
                            return Err(Stop::Fenced);
                        }
                    }
                    Some(pb::answer_event::Event::Citation(c)) => {
                        let e = Event::Citation {
                            attempt,
                            movie: &c.movie_id,
                            review: c.review_id.as_deref(),
                            snippet: &c.snippet,
                            attribution: &c.attribution,
                        };
                        if !self.queue.publish(req, output.clone(), publish(e)).await? {
                            return Err(Stop::Fenced);
                        }
                    }
                    Some(pb::answer_event::Event::ToolCall(call)) => calls.push(call),
                    Some(pb::answer_event::Event::Final(f)) => {
                        state = f.dialog_state;
                        if !f.speech.is_empty() {
                            speech.push(f.speech);
                        }
                        suggestions = f
                            .suggestions
                            .into_iter()
                            .map(|s| Suggestion { label: s.label, text: s.text, showtime: s.showtime_id })
                            .collect();
                        finished = true;
                    }
                    None => {}
                }
            }
            if !finished {
                return Err(Stop::Model(tonic::Status::unavailable("answer stream ended without a final event")));
            }
            if calls.is_empty() {
                break;
            }
            if round + 1 == MAX_ROUNDS {
                tracing::warn!("tool rounds exhausted; answering with what we have");
                break;
            }
            for call in calls {
                let outcome = match consent_refusal(req, previous, &call) {
                    Some(refused) => refused,
                    None => self.run_tool(req, &call).await?,
                };
                open = track_hold(open, &call, &outcome);
                // Tool results are JSON we wrote; a bad one is shown as null.
                let result = serde_json::value::RawValue::from_string(outcome.json.clone()).ok();
                let null = serde_json::value::RawValue::NULL;
                let args_text = if call.arguments_json.trim().is_empty() { "{}" } else { call.arguments_json.as_str() };
                let arguments = serde_json::value::RawValue::from_string(args_text.to_owned()).ok();
                let e = Event::Action {
                    attempt,
                    tool: &call.name,
                    arguments: arguments.as_deref().unwrap_or(null),
                    ok: !outcome.is_error,
                    result: result.as_deref().unwrap_or(null),
                };
                if !self.queue.publish(req, output.clone(), publish(e)).await? {
                    return Err(Stop::Fenced);
                }
                results.push(pb::ToolResult {
                    call_id: call.id,
                    name: call.name,
                    result_json: outcome.json,
                    is_error: outcome.is_error,
                });
            }
        }
        let speech = if speech.is_empty() { text.clone() } else { speech.join(" ") };
        let save = FinalSave {
            user: Turn { role: "user".into(), text: req.text.clone(), readback: None },
            bot: Turn {
                role: "assistant".into(),
                text: text.clone(),
                readback: open.and_then(|h| h.read_back_in(&text)),
            },
            state,
        };
        let e = Event::Final { attempt, text: &text, speech: &speech, suggestions: &suggestions };
        if !self.queue.publish(req, Fence::Final(attempt, Box::new(save)), publish(e)).await? {
            return Err(Stop::Fenced);
        }
        Ok(())
    }

    /// Runs one tool call exactly once per message: a retried attempt finds
    /// the journaled result instead of acting again.
    async fn run_tool(&self, req: &Request, call: &pb::ToolCall) -> Result<tools::Outcome, Stop> {
        if let Some(saved) = self.queue.journal_get(&req.user, &req.message_id, &call.id).await? {
            let (flag, json) = saved.split_at(1.min(saved.len()));
            return Ok(tools::Outcome { json: json.to_owned(), is_error: flag == "1" });
        }
        self.metrics.tool_calls.fetch_add(1, Relaxed);
        let key = format!("{}:{}", req.message_id, call.id);
        let outcome = tools::run(&self.seats, &req.user, &key, &call.name, &call.arguments_json).await;
        self.metrics.tool_outcome(outcome.is_error);
        let saved = format!("{}{}", if outcome.is_error { "1" } else { "0" }, outcome.json);
        self.queue.journal_put(&req.user, &req.message_id, &call.id, &saved).await?;
        // A new or extended hold (the typed result says which) gets a warning before it expires.
        if let Ok(booking_tools::ToolResult { outcome: Ok(booking_tools::ToolOutput::Hold(h)), .. }) =
            booking_tools::ToolResult::parse(&call.name, &outcome.json, outcome.is_error)
        {
            self.schedule_warning(req, h).await;
        }
        Ok(outcome)
    }

    async fn schedule_warning(&self, req: &Request, h: booking_tools::Hold) {
        let w = HoldWarning {
            user: req.user.clone(),
            conversation: req.conversation.clone(),
            hold_id: h.hold_id,
            showtime: h.showtime,
            expires_at: h.expires_at,
            locale: req.locale.or_else(|| Some(guess_locale(&req.text))),
        };
        if let Err(e) = self.queue.schedule_warning(h.expires_at - WARN_BEFORE_MS, &w).await {
            tracing::warn!(error = %e, "cannot schedule the hold warning");
        }
    }

    /// Publishes a hold warning if the hold still stands with that expiry.
    async fn warn(&self, w: &HoldWarning) {
        // The seats of this hold, only if it still stands with this expiry
        // (extended or gone: a newer warning, or none, applies).
        let seats: Vec<String> = match self.seats.snapshot(&w.showtime, Some(&w.user)).await {
            Ok(map) => map
                .seats
                .iter()
                .filter(|s| s.hold_id.as_deref() == Some(w.hold_id.as_str()) && s.until == Some(w.expires_at))
                .map(|s| s.seat.as_str().to_owned())
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "cannot check a hold for its warning");
                Vec::new()
            }
        };
        if seats.is_empty() {
            return;
        }
        let (text, speech, label, say) = match w.locale {
            Some(Locale::En) => (
                format!(
                    "Your held seats ({}) will be released in one minute. Say \"extend\" if you need more time.",
                    seats.join(", ")
                ),
                "Your held seats will be released in one minute. Say extend if you need more time.".to_owned(),
                "Extend my hold",
                "Please extend my hold",
            ),
            _ => (
                format!(
                    "잡아 둔 좌석({})이 1분 뒤에 풀립니다. 시간이 더 필요하시면 \"연장\"이라고 말씀해 주세요.",
                    seats.join(", ")
                ),
                "잡아 둔 좌석이 1분 뒤에 풀립니다. 시간이 더 필요하시면 연장이라고 말씀해 주세요.".to_owned(),
                "좌석 시간 연장하기",
                "좌석 시간 연장해 주세요",
            ),
        };
        let suggestions = [Suggestion { label: label.into(), text: say.into(), showtime: Some(w.showtime.clone()) }];
        let id = format!("warn:{}:{}", w.hold_id, w.expires_at);
        let req = Request {
            user: w.user.clone(),
            message_id: id.clone(),
            conversation: w.conversation.clone(),
            text: String::new(),
            locale: w.locale,
            context: Default::default(),
            voice: false,
            accepted_at: 0,
        };
        let e = Event::Warning {
            hold_id: &w.hold_id,
            showtime: &w.showtime,
            expires_at: w.expires_at,
            text: &text,
            speech: &speech,
            suggestions: &suggestions,
        };
        if let Err(e) = self.queue.publish(&req, Fence::Status, events::encode(&id, &w.conversation, e)).await {
            tracing::warn!(error = %e, "hold warning not published");
        }
    }

    async fn apologize(&self, req: &Request) {
        let (text, speech) = apology(req);
        let e = Event::Apology { text, speech };
        match self.queue.publish(req, Fence::Apology, events::encode(&req.message_id, &req.conversation, e)).await {
            Ok(true) => {
                self.metrics.chat_apologies.fetch_add(1, Relaxed);
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "apology not published"),
        }
    }

    /// Ends a request that could not be answered for a long time with a
    /// final apology, so it does not wait forever.
    async fn give_up(&self, req: &Request, attempt: u32) {
        let text = match req.locale.unwrap_or_else(|| guess_locale(&req.text)) {
            Locale::En => "Sorry, I could not answer this message. Please ask again.",
            Locale::Ko => "죄송합니다. 이 질문에는 답을 드리지 못했어요. 다시 한 번 물어봐 주세요.",
        };
        let save = FinalSave {
            user: Turn { role: "user".into(), text: req.text.clone(), readback: None },
            bot: Turn { role: "assistant".into(), text: text.into(), readback: None },
            state: self.queue.conversation(&req.user, &req.conversation).await.map(|c| c.state).unwrap_or_default(),
        };
        let e = Event::Final { attempt, text, speech: text, suggestions: &[] };
        let payload = events::encode(&req.message_id, &req.conversation, e);
        if let Err(e) = self.queue.publish(req, Fence::Final(attempt, Box::new(save)), payload).await {
            tracing::warn!(error = %e, "give-up answer not published");
        }
    }

    /// Now in the cinema's time zone, RFC 9557 (`...+09:00[Asia/Seoul]`).
    fn now_text(&self) -> String {
        jiff::Timestamp::from_millisecond(self.seats.clock().now_ms())
            .ok()
            .and_then(|t| t.in_tz(seats::domain::TIME_ZONE).ok())
            .map(|z| z.to_string())
            .unwrap_or_default()
    }
}

/// The error of a model call that sent nothing for `stall`.
/// The refusal of a `confirm_booking` the user has not consented to (see
/// chat/consent.rs), or None when the call may run.
fn consent_refusal(req: &Request, previous: Option<&Turn>, call: &pb::ToolCall) -> Option<tools::Outcome> {
    let Ok(booking_tools::ToolCall::ConfirmBooking(h)) =
        booking_tools::ToolCall::parse(&call.name, &call.arguments_json)
    else {
        return None;
    };
    let prev = previous.map(|t| (t.text.as_str(), t.readback.as_ref()));
    let refusal = consent::check(prev, &req.text, &h.showtime_id, &h.hold_id).err()?;
    tracing::info!(hold = %h.hold_id, "confirm_booking refused: no consent");
    let e = booking_tools::ToolError::new("consent_required", &refusal.message());
    Some(tools::Outcome { json: e.to_json(), is_error: true })
}

/// The hold open after a tool call's outcome.
fn track_hold(
    open: Option<consent::OpenHold>,
    call: &pb::ToolCall,
    outcome: &tools::Outcome,
) -> Option<consent::OpenHold> {
    use booking_tools::{ToolOutput, ToolResult};
    let Ok(ToolResult { outcome: Ok(output), .. }) = ToolResult::parse(&call.name, &outcome.json, outcome.is_error)
    else {
        return open;
    };
    match output {
        ToolOutput::Hold(h) => Some(consent::OpenHold {
            hold_id: h.hold_id,
            showtime: h.showtime,
            seats: h.seats,
            amount: u64::from(h.amount),
        }),
        ToolOutput::Released(_) | ToolOutput::Booking(_) => {
            let target = match booking_tools::ToolCall::parse(&call.name, &call.arguments_json) {
                Ok(booking_tools::ToolCall::ReleaseHold(r) | booking_tools::ToolCall::ConfirmBooking(r)) => {
                    Some(r.hold_id)
                }
                _ => None,
            };
            open.filter(|h| target.as_deref() != Some(h.hold_id.as_str()))
        }
        _ => open,
    }
}

fn stalled(stall: Duration) -> tonic::Status {
    tonic::Status::deadline_exceeded(format!("the model service sent nothing for {} ms", stall.as_millis()))
}

/// Whether the model service refused the request itself, so that the same
/// request can never succeed (a bad argument), unlike an outage or overload.
fn retry_cannot_help(status: &tonic::Status) -> bool {
    matches!(status.code(), tonic::Code::InvalidArgument | tonic::Code::OutOfRange | tonic::Code::Unimplemented)
}

fn apology(req: &Request) -> (&'static str, &'static str) {
    match req.locale.unwrap_or_else(|| guess_locale(&req.text)) {
        Locale::En => (
            "Sorry, the answer is taking longer than usual. It will appear here as soon as it is ready.",
            "Sorry, the answer is taking longer than usual. It will appear as soon as it is ready.",
        ),
        Locale::Ko => (
            "죄송합니다. 답변이 늦어지고 있어요. 준비되는 대로 여기에 보내 드릴게요.",
            "죄송합니다. 답변이 늦어지고 있어요. 준비되는 대로 보내 드릴게요.",
        ),
    }
}

/// Korean when the text has Hangul, English otherwise.
pub fn guess_locale(text: &str) -> Locale {
    if text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c) || ('\u{3131}'..='\u{318E}').contains(&c)) {
        Locale::Ko
    } else {
        Locale::En
    }
}
