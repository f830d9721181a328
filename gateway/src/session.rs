//! One WebSocket session: a single task owns the socket, reads client frames,
//! writes what the hub queued, sends heartbeats and handles draining, all in
//! one `select!`; cleanup happens in one place when it ends.
//!
//! The session keeps, per subscribed topic, the epoch and the last offset it
//! sent. That is what makes delivery gap-free: a publication at or below the
//! last offset is a duplicate (already sent from history) and is skipped; one
//! past a gap triggers a repair from history, and a repair that history can no
//! longer serve becomes an explicit `reset` frame.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bus::{Topic, TopicKind};
use bytes::Bytes;
use seats::SeatError;
use tokio::sync::mpsc;

use crate::auth::Claims;
use crate::chat;
use crate::hub::{Mailbox, MailboxShared, Outbound, SessionId};
use crate::node::Node;
use crate::permissions::{Action, allowed};
use crate::seating;
use crate::wire::{self, ClientMsg, ErrorCode, RecoverFrom, ReqId, ServerMsg, close};

/// Most history entries one `history` request returns.
pub const MAX_HISTORY_PAGE: usize = 100;
/// Items written to the socket before one flush.
const WRITE_BATCH: usize = 64;
/// How long the close frame may take to go out. A slow consumer's socket is
/// full; the frame goes after what is already buffered, so a client that
/// resumes reading within this time still learns why it was closed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a subscription stands for this client.
struct SubState {
    epoch: Arc<str>,
    offset: u64,
}

/// Why the session ended.
enum End {
    /// The client closed or the connection broke.
    Gone,
    /// Close the socket with this code and reason.
    Close(u16, &'static str),
}

/// Runs a session for an authenticated client until it ends.
pub async fn run(node: Arc<Node>, socket: WebSocket, claims: Claims) {
    let id = node.next_session_id();
    let span = tracing::info_span!("session", node = %node.id, session = id, user = %claims.sub);
    let (mailbox, rx) = Mailbox::new(id, node.config.outbound_queue, node.config.outbound_bytes);
    node.metrics.connections.fetch_add(1, Ordering::Relaxed);
    node.metrics.connections_total.fetch_add(1, Ordering::Relaxed);
    let mut session = Session {
        presence_key: format!("{}:{id}", node.id),
        shared: mailbox.shared().clone(),
        node: node.clone(),
        socket,
        claims,
        id,
        mailbox,
        subs: HashMap::new(),
        bucket: TokenBucket::new(node.config.publish_rate, node.config.publish_rate * 2),
        chat_bucket: TokenBucket::new(node.config.chat_rate, node.config.chat_rate * 3),
        voice: None,
        last_seen: Instant::now(),
    };
    // Both boxed so the task itself stays small: an idle session's memory is
    // the serve state only, and the cleanup state (bus futures) exists only
    // while cleaning up. See BENCHMARKS.md, idle memory per connection.
    let serve = Box::pin(tracing::Instrument::instrument(session.serve(rx), span.clone()));
    tracing::trace!(future_bytes = std::mem::size_of_val(&*serve), "session future");
    serve.await;
    Box::pin(tracing::Instrument::instrument(session.cleanup(), span)).await;
    node.metrics.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Closes a socket right after the upgrade, before a session exists (bad
/// token, too many connections), so browsers see the close code.
pub async fn reject(mut socket: WebSocket, code: u16, reason: &'static str) {
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))).await;
}

struct Session {
    node: Arc<Node>,
    socket: WebSocket,
    claims: Claims,
    id: SessionId,
    presence_key: String,
    mailbox: Mailbox,
    shared: Arc<MailboxShared>,
    subs: HashMap<Topic, SubState>,
    bucket: TokenBucket,
    chat_bucket: TokenBucket,
    /// Utterances being spoken (created on the first voice frame).
    voice: Option<Box<Voice>>,
    last_seen: Instant,
}

/// A chat message as a session received it.
struct ChatIn {
    message_id: String,
    conversation: String,
    text: String,
    locale: Option<wire::Locale>,
    context: wire::ChatContext,
}

/// Utterances a session keeps track of at most (oldest forgotten first).
const MAX_UTTERANCES: usize = 32;

/// Voice transcripts in progress: per utterance, the highest revision seen
/// and whether it was cancelled.
#[derive(Default)]
struct Voice {
    utterances: std::collections::VecDeque<(String, u64, bool)>,
}

impl Voice {
    fn entry(&mut self, utterance: &str) -> &mut (String, u64, bool) {
        match self.utterances.iter().position(|(u, _, _)| u == utterance) {
            Some(i) => &mut self.utterances[i],
            None => {
                if self.utterances.len() == MAX_UTTERANCES {
                    self.utterances.pop_front();
                }
                self.utterances.push_back((utterance.to_owned(), 0, false));
                let last = self.utterances.len() - 1;
                &mut self.utterances[last]
            }
        }
    }

    /// Records a partial; false when it is stale (not above the highest revision) or cancelled.
    fn partial(&mut self, utterance: &str, revision: u64) -> bool {
        let e = self.entry(utterance);
        if e.2 || (revision <= e.1 && e.1 != 0) {
            return false;
        }
        e.1 = revision;
        true
    }

    fn cancel(&mut self, utterance: &str) {
        self.entry(utterance).2 = true;
    }

    fn cancelled(&self, utterance: &str) -> bool {
        self.utterances.iter().any(|(u, _, c)| u == utterance && *c)
    }
}

impl Session {
    async fn serve(&mut self, mut rx: mpsc::Receiver<Outbound>) {
        let heartbeat = self.node.config.heartbeat();
        let welcome = ServerMsg::Welcome {
            session: &self.presence_key,
            node: &self.node.id,
            user: &self.claims.sub,
            protocol: wire::PROTOCOL_VERSION,
            heartbeat_ms: heartbeat.as_millis() as u64,
        }
        .encode();
        if self.send_now(welcome).await.is_err() {
            return;
        }
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        let shutdown = self.node.shutdown.clone();
        let slow = self.shared.slow.clone();
        let drain = tokio::time::sleep(Duration::MAX);
        tokio::pin!(drain);
        let mut draining = false;

        let end = loop {
            tokio::select! {
                _ = shutdown.cancelled(), if !draining => {
                    draining = true;
                    let grace = self.node.config.drain_grace_ms;
                    // Spread reconnects over the grace period so the other
                    // nodes are not hit by every client at once.
                    let delay_ms = rand::random::<u64>() % grace.max(1);
                    if self.send_now(ServerMsg::Reconnect { delay_ms }.encode()).await.is_err() {
                        break End::Gone;
                    }
                    drain.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(grace));
                }
                _ = &mut drain => break End::Close(close::SERVICE_RESTART, "server restarting, reconnect"),
                _ = slow.cancelled() => break slow_consumer(&self.node),
                item = rx.recv() => {
                    let Some(item) = item else { break End::Gone };
                    // Boxed: the writer and request handlers hold bus futures
                    // that are large; boxing keeps them out of the state every
                    // idle session carries (see BENCHMARKS.md, idle memory).
                    if let Err(end) = Box::pin(self.write_batch(item, &mut rx)).await {
                        break end;
                    }
                }
                frame = self.socket.recv() => match frame {
                    None => break End::Gone,
                    Some(Err(e)) => break read_error(e),
                    Some(Ok(msg)) => {
                        self.last_seen = Instant::now();
                        if let Err(end) = Box::pin(self.on_message(msg)).await {
                            break end;
                        }
                    }
                },
                _ = ping.tick() => {
                    if self.last_seen.elapsed() > heartbeat * 2 {
                        break End::Close(close::HEARTBEAT_TIMEOUT, "heartbeat timeout");
                    }
                    if self.send_now(ServerMsg::Ping {}.encode()).await.is_err() {
                        break End::Gone;
                    }
                }
            }
        };
        if let End::Close(code, reason) = end {
            tracing::debug!(code, reason, "closing");
            let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.socket.send(Message::Close(Some(frame)))).await;
        }
    }

    /// Leaves every topic: local and bus subscriptions, presence.
    async fn cleanup(&mut self) {
        for (topic, _) in std::mem::take(&mut self.subs) {
            self.leave(&topic).await;
        }
    }

    async fn leave(&mut self, topic: &Topic) {
        self.node.unsubscribe(topic, self.id).await;
        if topic.kind() == TopicKind::Room {
            self.node.presence_leave(topic, self.presence_key.clone()).await;
        }
    }

    /// Writes one queued item and whatever else is queued, then flushes once.
    async fn write_batch(&mut self, first: Outbound, rx: &mut mpsc::Receiver<Outbound>) -> Result<(), End> {
        let mut item = Some(first);
        let mut n = 0;
        while let Some(it) = item.take() {
            if self.shared.slow.is_cancelled() {
                return Err(slow_consumer(&self.node));
            }
            let len = it.queued_bytes();
            self.write_outbound(it).await?;
            self.shared.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            n += 1;
            if n < WRITE_BATCH {
                item = rx.try_recv().ok();
            }
        }
        self.flush().await
    }

    async fn write_outbound(&mut self, item: Outbound) -> Result<(), End> {
        match item {
            Outbound::Pub(d) => {
                let Some(st) = self.subs.get(&d.topic) else { return Ok(()) };
                if st.epoch != d.epoch {
                    return self.repair(&d.topic, Some(d.offset)).await;
                }
                if d.offset <= st.offset {
                    return Ok(()); // already sent from history
                }
                if d.offset > st.offset + 1 {
                    self.repair(&d.topic, Some(d.offset - 1)).await?;
                }
                if let Some(st) = self.subs.get_mut(&d.topic)
                    && d.offset == st.offset + 1
                {
                    st.offset = d.offset;
                    self.feed(d.frame.clone()).await?;
                }
                Ok(())
            }
            Outbound::Event(event) => {
                let (topic, frame) = &*event;
                if self.subs.contains_key(topic) {
                    self.feed(frame.clone()).await?;
                }
                Ok(())
            }
            Outbound::Position(item) => {
                let (topic, pos) = &*item;
                let Some(st) = self.subs.get(topic) else { return Ok(()) };
                if st.epoch != pos.epoch || pos.offset > st.offset {
                    self.repair(topic, Some(pos.offset)).await?;
                }
                Ok(())
            }
        }
    }

    /// Sends what the client missed of `topic` up to `upto` from history, or,
    /// when history no longer has it (trimmed, or a new epoch), a `reset`.
    async fn repair(&mut self, topic: &Topic, upto: Option<u64>) -> Result<(), End> {
        let Some(st) = self.subs.get(topic) else { return Ok(()) };
        let (epoch, from) = (st.epoch.clone(), st.offset);
        let want = upto.map_or(0, |u| u.saturating_sub(from)) as usize;
        let page = match self
            .node
            .count_bus(self.node.bus.history_after(topic, from, want.min(self.node.config.max_recover)).await)
        {
            Ok(p) => p,
            Err(e) => {
                // Cannot repair now; the next resync will try again.
                tracing::warn!(%topic, error = %e, "repair failed");
                return Ok(());
            }
        };
        let contiguous = page.position.epoch == epoch
            && page.entries.len() == want
            && page.entries.iter().enumerate().all(|(i, e)| e.offset == from + 1 + i as u64);
        if contiguous {
            for e in &page.entries {
                let frame = wire::pub_frame(topic.as_str(), e.offset, &e.data);
                self.feed(frame).await?;
            }
            if let Some(st) = self.subs.get_mut(topic) {
                st.offset = from + want as u64;
            }
        } else {
            let pos = page.position;
            let frame = ServerMsg::Reset { topic: topic.as_str(), epoch: &pos.epoch, offset: pos.offset }.encode();
            self.feed(frame).await?;
            self.subs.insert(topic.clone(), SubState { epoch: pos.epoch, offset: pos.offset });
        }
        Ok(())
    }

    async fn on_message(&mut self, msg: Message) -> Result<(), End> {
        self.node.metrics.frames_in.fetch_add(1, Ordering::Relaxed);
        match msg {
            Message::Text(text) => match wire::decode(text.as_str()) {
                Ok(msg) => self.handle(msg).await,
                Err(e) => {
                    let code = if wire::is_unknown_type(&e, text.as_str()) {
                        ErrorCode::UnknownType
                    } else {
                        ErrorCode::BadRequest
                    };
                    self.error(wire::salvage_id(text.as_str()), code, &e.to_string()).await
                }
            },
            Message::Binary(_) => {
                self.error(None, ErrorCode::UnsupportedFrame, "binary frames are not supported; send JSON text").await
            }
            Message::Close(_) => Err(End::Gone),
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        }
    }

    async fn handle(&mut self, msg: ClientMsg) -> Result<(), End> {
        match msg {
            ClientMsg::Subscribe { id, topic, recover } => self.subscribe(id, &topic, recover).await,
            ClientMsg::Unsubscribe { id, topic } => {
                let Some(topic) = self.topic(id, &topic).await? else { return Ok(()) };
                if self.subs.remove(&topic).is_none() {
                    return self.error(Some(id), ErrorCode::NotSubscribed, "not subscribed to this topic").await;
                }
                self.leave(&topic).await;
                self.reply(ServerMsg::Unsubscribed { id, topic: topic.as_str() }).await
            }
            ClientMsg::Publish { id, topic, data: Some(data) } => self.publish(id, &topic, &data).await,
            // `decode` always fills `data` or fails.
            ClientMsg::Publish { id, .. } => self.error(Some(id), ErrorCode::BadRequest, "missing field `data`").await,
            ClientMsg::History { id, topic, before, after, limit } => {
                let Some(topic) = self.readable(id, &topic).await? else { return Ok(()) };
                let limit = limit.unwrap_or(MAX_HISTORY_PAGE).min(MAX_HISTORY_PAGE);
                let page = match after {
                    Some(after) => self.node.bus.history_after(&topic, after, limit).await,
                    None => self.node.bus.history_before(&topic, before, limit).await,
                };
                match self.node.count_bus(page) {
                    Ok(page) => self.send_now(wire::history_frame(id, topic.as_str(), &page)).await,
                    Err(e) => self.unavailable(id, e).await,
                }
            }
            ClientMsg::Presence { id, topic } => {
                let Some(topic) = self.readable(id, &topic).await? else { return Ok(()) };
                match self.node.count_bus(self.node.bus.presence_list(&topic).await) {
                    Ok(list) => {
                        let raw: Vec<Box<serde_json::value::RawValue>> = list
                            .iter()
                            .filter_map(|b| serde_json::from_slice::<Box<serde_json::value::RawValue>>(b).ok())
                            .collect();
                        let clients = raw.iter().map(|r| r.as_ref()).collect();
                        self.reply(ServerMsg::Presence { id, topic: topic.as_str(), clients }).await
                    }
                    Err(e) => self.unavailable(id, e).await,
                }
            }
            ClientMsg::MarkRead { id, topic, offset } => {
                let Some(topic) = self.readable(id, &topic).await? else { return Ok(()) };
                if topic.kind() != TopicKind::Room {
                    return self.error(Some(id), ErrorCode::BadTopic, "only rooms have unread counts").await;
                }
                let user = self.claims.sub.clone();
                let r = self.node.bus.add_member(&user, &topic).await;
                let r = match r {
                    Ok(()) => self.node.bus.mark_read(&topic, &user, offset).await,
                    Err(e) => Err(e),
                };
                match self.node.count_bus(r) {
                    Ok(n) => self.reply(ServerMsg::Unread { id, counts: [(topic.as_str(), n)].into() }).await,
                    Err(e) => self.unavailable(id, e).await,
                }
            }
            ClientMsg::Unread { id } => match self.node.count_bus(self.node.bus.unread(&self.claims.sub).await) {
                Ok(list) => {
                    let counts = list.iter().map(|(t, n)| (t.as_str(), *n)).collect();
                    self.reply(ServerMsg::Unread { id, counts }).await
                }
                Err(e) => self.unavailable(id, e).await,
            },
            ClientMsg::Ping { id } => self.reply(ServerMsg::Pong { id }).await,
            ClientMsg::Pong {} => Ok(()),
            ClientMsg::Showtimes { id, date, movie } => {
                let schedule = self.node.seats.schedule();
                let showtimes = seating::list_showtimes(&schedule, date.as_deref(), movie.as_deref());
                self.reply(ServerMsg::Showtimes { id, showtimes }).await
            }
            ClientMsg::SeatMap { id, showtime } => {
                match self.node.seats.snapshot(&showtime, Some(&self.claims.sub)).await {
                    Ok(map) => self.reply(ServerMsg::SeatMap { id, map: &map }).await,
                    Err(e) => self.seat_error(id, &e).await,
                }
            }
            ClientMsg::Hold { id, showtime, seats, ttl_secs, idempotency_key } => {
                let req = seating::hold_request(showtime, &self.claims.sub, seats, ttl_secs, idempotency_key);
                match self.node.seats.hold(req).await {
                    Ok(hold) => self.reply(ServerMsg::Held { id, hold: &hold }).await,
                    Err(e) => self.seat_error(id, &e).await,
                }
            }
            ClientMsg::ExtendHold { id, showtime, hold_id } => {
                match self.node.seats.extend(&showtime, &self.claims.sub, &hold_id).await {
                    Ok(hold) => self.reply(ServerMsg::Extended { id, hold: &hold }).await,
                    Err(e) => self.seat_error(id, &e).await,
                }
            }
            ClientMsg::Release { id, showtime, hold_id, seats } => {
                let r = match seating::release_target(hold_id, seats) {
                    Ok(target) => self.node.seats.release(&showtime, &self.claims.sub, target).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(released) => {
                        self.reply(ServerMsg::Released { id, showtime: &showtime, released: &released }).await
                    }
                    Err(e) => self.seat_error(id, &e).await,
                }
            }
            ClientMsg::Confirm { id, showtime, hold_id } => {
                match self.node.seats.confirm(&showtime, &self.claims.sub, &hold_id).await {
                    Ok(booking) => self.reply(ServerMsg::Confirmed { id, booking: &booking }).await,
                    Err(e) => self.seat_error(id, &e).await,
                }
            }
            ClientMsg::CancelBooking { id, booking_id } => {
                match self.node.seats.cancel_booking(&self.claims.sub, &booking_id).await {
                    Ok(booking) => self.reply(ServerMsg::BookingCancelled { id, booking: &booking }).await,
                    Err(e) => self.seat_error(id, &e).await,
                }
            }
            ClientMsg::MyBookings { id } => match self.node.seats.my_bookings(&self.claims.sub).await {
                Ok(bookings) => self.reply(ServerMsg::Bookings { id, bookings: &bookings }).await,
                Err(e) => self.seat_error(id, &e).await,
            },
            ClientMsg::Chat { id, message_id, conversation, text, locale, context } => {
                let msg = ChatIn { message_id, conversation, text, locale, context: context.unwrap_or_default() };
                self.chat(id, msg, false).await
            }
            ClientMsg::VoicePartial { utterance_id, revision, conversation, text, .. } => {
                if !chat::valid_id(&utterance_id) || !chat::valid_id(&conversation) {
                    return self
                        .error(
                            None,
                            ErrorCode::BadRequest,
                            "`utterance_id` and `conversation`: 1-64 of A-Z a-z 0-9 _ . : -",
                        )
                        .await;
                }
                if text.chars().count() > chat::MAX_TEXT_CHARS {
                    return self.error(None, ErrorCode::BadRequest, "`text` is longer than 2000 characters").await;
                }
                // Shown by the client, never acted on: only the revision order is kept.
                let fresh = self.voice.get_or_insert_with(Box::default).partial(&utterance_id, revision);
                tracing::trace!(%utterance_id, revision, fresh, "voice partial");
                Ok(())
            }
            ClientMsg::VoiceFinal { id, utterance_id, conversation, text, locale, context } => {
                if !chat::valid_id(&utterance_id) {
                    return self
                        .error(Some(id), ErrorCode::BadRequest, "`utterance_id`: 1-64 of A-Z a-z 0-9 _ . : -")
                        .await;
                }
                if self.voice.as_ref().is_some_and(|v| v.cancelled(&utterance_id)) {
                    return self.error(Some(id), ErrorCode::BadRequest, "this utterance was cancelled").await;
                }
                let msg = ChatIn {
                    message_id: format!("voice:{utterance_id}"),
                    conversation,
                    text,
                    locale,
                    context: context.unwrap_or_default(),
                };
                self.chat(id, msg, true).await
            }
            ClientMsg::VoiceCancel { utterance_id } => {
                if chat::valid_id(&utterance_id) {
                    self.voice.get_or_insert_with(Box::default).cancel(&utterance_id);
                }
                Ok(())
            }
            ClientMsg::BestAvailable { id, showtime, count, class } => {
                match self.node.seats.best_available(&showtime, count, class).await {
                    Ok(seats) => self.reply(ServerMsg::BestAvailable { id, showtime: &showtime, seats: &seats }).await,
                    Err(e) => self.seat_error(id, &e).await,
                }
            }
        }
    }

    async fn subscribe(&mut self, id: ReqId, name: &str, recover: Option<RecoverFrom>) -> Result<(), End> {
        let Some(topic) = self.readable(id, name).await? else { return Ok(()) };
        if self.subs.contains_key(&topic) {
            return self.error(Some(id), ErrorCode::AlreadySubscribed, "already subscribed to this topic").await;
        }
        if self.subs.len() >= self.node.config.max_subscriptions {
            return self.error(Some(id), ErrorCode::TooManySubscriptions, "subscription limit reached").await;
        }
        if let Err(e) = self.node.subscribe(&topic, self.mailbox.clone()).await {
            return self.unavailable(id, e).await;
        }
        // From here on live publications queue up in the mailbox; history is
        // read after, so together they cover everything, and the per-topic
        // offset below drops what both contain.
        let after = recover.as_ref().map_or(0, |r| r.offset);
        let want = if recover.is_some() { self.node.config.max_recover } else { 0 };
        let page = match self.node.count_bus(self.node.bus.history_after(&topic, after, want).await) {
            Ok(page) => page,
            Err(e) => {
                self.node.unsubscribe(&topic, self.id).await;
                return self.unavailable(id, e).await;
            }
        };
        let pos = page.position.clone();
        let recovered = recover.as_ref().map(|r| {
            let missed = pos.offset.saturating_sub(r.offset);
            *r.epoch == *pos.epoch
                && r.offset <= pos.offset
                && page.entries.len() as u64 == missed
                && page.entries.first().is_none_or(|e| e.offset == r.offset + 1)
        });
        let mut unread = None;
        if topic.kind() == TopicKind::Room {
            let info = presence_info(&self.claims, &self.presence_key);
            let user = self.claims.sub.clone();
            let joined = async {
                self.node.bus.add_member(&user, &topic).await?;
                self.node.presence_join(&topic, self.presence_key.clone(), info).await?;
                self.node.bus.mark_read(&topic, &user, 0).await
            };
            match self.node.count_bus(joined.await) {
                Ok(n) => unread = Some(n),
                Err(e) => {
                    self.node.unsubscribe(&topic, self.id).await;
                    return self.unavailable(id, e).await;
                }
            }
        }
        self.subs.insert(topic.clone(), SubState { epoch: pos.epoch.clone(), offset: pos.offset });
        let ack = ServerMsg::Subscribed {
            id,
            topic: topic.as_str(),
            epoch: &pos.epoch,
            offset: pos.offset,
            recovered,
            unread,
        };
        self.feed(ack.encode()).await?;
        if recovered == Some(true) {
            for e in &page.entries {
                self.feed(wire::pub_frame(topic.as_str(), e.offset, &e.data)).await?;
            }
        }
        self.flush().await
    }

    async fn publish(&mut self, id: ReqId, name: &str, data: &serde_json::value::RawValue) -> Result<(), End> {
        let Some(topic) = self.topic(id, name).await? else { return Ok(()) };
        if !allowed(&self.claims, &topic, Action::Publish, self.subs.contains_key(&topic)) {
            let why = match topic.kind() {
                TopicKind::Showtime => "only the server publishes to showtime topics",
                TopicKind::Room => "join the room (subscribe) before publishing",
                TopicKind::User => "you may only publish to your own user topic",
            };
            return self.error(Some(id), ErrorCode::Forbidden, why).await;
        }
        if !self.bucket.take() {
            return self.error(Some(id), ErrorCode::RateLimited, "publishing too fast; slow down").await;
        }
        let info = wire::PublisherInfo { user: &self.claims.sub, name: &self.claims.name };
        let payload = Bytes::from(wire::stored_payload(data, &info));
        match self.node.count_bus(self.node.bus.publish(&topic, payload).await) {
            Ok(pos) => self.reply(ServerMsg::Published { id, topic: topic.as_str(), offset: pos.offset }).await,
            Err(e) => self.unavailable(id, e).await,
        }
    }

    /// Queues a chat message for the bot; the answer comes on `user:<id>`.
    async fn chat(&mut self, id: ReqId, msg: ChatIn, voice: bool) -> Result<(), End> {
        let ids_ok = msg.message_id.len() <= chat::MAX_ID_LEN + "voice:".len()
            && (voice || chat::valid_id(&msg.message_id))
            && chat::valid_id(&msg.conversation);
        if !ids_ok {
            return self
                .error(Some(id), ErrorCode::BadRequest, "`message_id` and `conversation`: 1-64 of A-Z a-z 0-9 _ . : -")
                .await;
        }
        if let Some(problem) = chat::text_problem(&msg.text) {
            return self.error(Some(id), ErrorCode::BadRequest, problem).await;
        }
        if !self.chat_bucket.take() {
            return self.error(Some(id), ErrorCode::RateLimited, "chatting too fast; wait a moment").await;
        }
        let req = chat::queue::Request {
            user: self.claims.sub.clone(),
            message_id: msg.message_id,
            conversation: msg.conversation,
            text: msg.text,
            locale: msg.locale,
            context: msg.context,
            voice,
            accepted_at: self.node.seats.clock().now_ms(),
        };
        let echo = chat::events::encode(
            &req.message_id,
            &req.conversation,
            chat::events::Event::Message { text: &req.text, voice },
        );
        match self.node.chat.accept(&req, echo).await {
            Ok(accepted) => {
                let (position, duplicate) = match accepted {
                    chat::queue::Accepted::Queued(p) => {
                        self.node.metrics.chats_accepted.fetch_add(1, Ordering::Relaxed);
                        (p, false)
                    }
                    chat::queue::Accepted::Duplicate => (0, true),
                };
                self.reply(ServerMsg::ChatAccepted { id, message_id: &req.message_id, position, duplicate }).await
            }
            Err(chat::queue::ChatError::Overloaded) => {
                self.error(Some(id), ErrorCode::Overloaded, "the bot has too many questions waiting; try again soon")
                    .await
            }
            Err(chat::queue::ChatError::Bus(e)) => self.unavailable(id, e).await,
        }
    }

    /// Parses a topic name or answers `bad_topic`.
    async fn topic(&mut self, id: ReqId, name: &str) -> Result<Option<Topic>, End> {
        match Topic::parse(name) {
            Ok(t) => Ok(Some(t)),
            Err(e) => self.error(Some(id), ErrorCode::BadTopic, &e.to_string()).await.map(|()| None),
        }
    }

    /// Parses a topic the client may read, or answers the error.
    async fn readable(&mut self, id: ReqId, name: &str) -> Result<Option<Topic>, End> {
        let Some(topic) = self.topic(id, name).await? else { return Ok(None) };
        if !allowed(&self.claims, &topic, Action::Read, self.subs.contains_key(&topic)) {
            self.error(Some(id), ErrorCode::Forbidden, "your token does not allow this topic").await?;
            return Ok(None);
        }
        Ok(Some(topic))
    }

    async fn unavailable(&mut self, id: ReqId, e: bus::BusError) -> Result<(), End> {
        tracing::warn!(error = %e, "bus request failed");
        self.error(Some(id), ErrorCode::Unavailable, "temporarily unavailable; retry").await
    }

    async fn error(&mut self, id: Option<ReqId>, code: ErrorCode, message: &str) -> Result<(), End> {
        self.node.metrics.error(code);
        self.reply(ServerMsg::Error { id, code, message, seats: None }).await
    }

    /// Answers a failed seat operation with its stable code and, for a hold,
    /// the seats that were not free. Storage failures are logged here, once.
    async fn seat_error(&mut self, id: ReqId, e: &SeatError) -> Result<(), End> {
        if e.is_retryable() {
            tracing::warn!(error = %e, "seat store request failed");
        }
        self.node.metrics.error(ErrorCode::from(e));
        let message = e.to_string();
        let seats = wire::error_seats(e);
        self.reply(ServerMsg::Error { id: Some(id), code: ErrorCode::from(e), message: &message, seats }).await
    }

    async fn reply(&mut self, msg: ServerMsg<'_>) -> Result<(), End> {
        let frame = msg.encode();
        self.send_now(frame).await
    }

    async fn send_now(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        self.feed(frame).await?;
        self.flush().await
    }

    /// Writes a frame. A write blocked on a full socket gives way when the
    /// mailbox overflows, so a stalled client cannot pin its session.
    async fn feed(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        use futures_util::SinkExt;
        self.node.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            r = self.socket.feed(Message::Text(frame)) => r.map_err(|_| End::Gone),
            _ = self.shared.slow.cancelled() => Err(slow_consumer(&self.node)),
        }
    }

    async fn flush(&mut self) -> Result<(), End> {
        use futures_util::SinkExt;
        tokio::select! {
            r = self.socket.flush() => r.map_err(|_| End::Gone),
            _ = self.shared.slow.cancelled() => Err(slow_consumer(&self.node)),
        }
    }
}

/// Counts a slow consumer and says how to close it.
fn slow_consumer(node: &Node) -> End {
    node.metrics.slow_disconnects.fetch_add(1, Ordering::Relaxed);
    End::Close(close::SLOW_CONSUMER, "slow consumer: outbound queue overflow")
}

/// Maps a read error to how the session ends: an oversized frame gets 1009,
/// anything else means the connection is gone.
fn read_error(e: axum::Error) -> End {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => End::Close(close::MESSAGE_TOO_BIG, "frame too large"),
        _ => End::Gone,
    }
}

/// The presence entry of a session: `{"user":…,"name":…,"session":…}`.
fn presence_info(claims: &Claims, session: &str) -> Bytes {
    let v = serde_json::json!({ "user": claims.sub, "name": claims.name, "session": session });
    Bytes::from(v.to_string())
}

/// A rate limit: `rate` per second sustained, bursts of `burst`.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> TokenBucket {
        let rate = f64::from(rate);
        let burst = f64::from(burst.max(1));
        TokenBucket { rate, burst, tokens: burst, last: Instant::now() }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
