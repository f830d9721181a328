//! One WebSocket session: a single task owns the socket, reads client frames,
//! writes what the hub queued, sends heartbeats and handles draining, all in
//! one `select!`; cleanup happens in one place when it ends.
//!
//! The session keeps, per subscribed topic, the epoch and the last offset it
//! sent. That is what makes delivery gap-free: a publication at or below the
//! last offset is a duplicate (already sent from history) and is skipped; one
//! past a gap triggers a repair from history, and a repair that history can no
//! longer serve becomes an explicit `reset` frame.
//!
//! A session ends when its token does (`exp` plus the clock leeway, close
//! 4003) unless a `refresh` frame brought a newer one, and on protocol violations with the RFC 6455 codes (1002, 1003,
//! 1007; see [`read_error`] and [`MAX_MALFORMED_IN_A_ROW`]).
//!
//! The session's parts: [`delivery`] writes to the socket (the per-topic
//! offsets, repair from history, the slow-consumer bound), [`topics`]
//! answers the topic requests, [`seats`] the seat-store requests and
//! [`chat`] the chat and voice frames. This file holds the task and its
//! `select!`, the dispatch of decoded frames, and the error replies.

mod chat;
mod delivery;
mod seats;
mod topics;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bus::Topic;
use tokio::sync::mpsc;

use crate::auth::Claims;
use crate::hub::{Mailbox, MailboxShared, Outbound, SessionId};
use crate::node::Node;
use crate::wire::{self, ClientMsg, ErrorCode, ReqId, ServerMsg, close};

use chat::{ChatIn, Voice};
use delivery::{CLOSE_TIMEOUT, SLOW_CLOSE_TIMEOUT, slow_consumer};

/// Most history entries one `history` request returns.
pub const MAX_HISTORY_PAGE: usize = 100;

/// Text frames in a row that are not JSON at all before the session closes
/// with 1007. Each gets a `bad_request` first, so one buggy frame costs a
/// client nothing; a stream of garbage (another protocol, a fuzzer) ends.
pub const MAX_MALFORMED_IN_A_ROW: u8 = 8;

/// A token deadline further away than this is treated as this far (timers
/// need an instant they can represent).
const MAX_TOKEN_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

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
        malformed: 0,
    };
    // Both boxed so the task itself stays small: an idle session's memory is
    // the serve state only, and the cleanup state (bus futures) exists only
    // while cleaning up. See BENCHMARKS.md, idle memory per connection.
    let serve = Box::pin(tracing::Instrument::instrument(session.serve(rx), span.clone()));
    tracing::trace!(future_bytes = std::mem::size_of_val(&*serve), "session future");
    let end = serve.await;
    let finish = async {
        // Subscriptions and presence go first: a slow consumer's close may
        // wait long behind what its socket holds, and must not keep them.
        session.cleanup().await;
        if let End::Close(code, reason) = end {
            session.close(code, reason).await;
        }
    };
    Box::pin(tracing::Instrument::instrument(finish, span)).await;
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
    /// Text frames in a row that were not JSON (see [`MAX_MALFORMED_IN_A_ROW`]).
    malformed: u8,
}

impl Session {
    async fn serve(&mut self, mut rx: mpsc::Receiver<Outbound>) -> End {
        let heartbeat = self.node.config.heartbeat();
        let welcome = ServerMsg::Welcome {
            session: &self.presence_key,
            node: &self.node.id,
            user: &self.claims.sub,
            protocol: wire::PROTOCOL_VERSION,
            heartbeat_ms: heartbeat.as_millis() as u64,
        }
        .encode();
        if let Err(end) = self.send_now(welcome).await {
            return end;
        }
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        let shutdown = self.node.shutdown.clone();
        let slow = self.shared.slow.clone();
        // One timer for both ends that come with time: the token's expiry,
        // and while draining, the end of the grace period (whichever is first).
        let mut expiry = token_deadline(&self.claims);
        let mut token_exp = self.claims.exp;
        let deadline = tokio::time::sleep_until(expiry);
        tokio::pin!(deadline);
        let mut draining = false;
        let mut end_of_grace = None;

        loop {
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
                    let grace_end = tokio::time::Instant::now() + Duration::from_millis(grace);
                    end_of_grace = Some(grace_end);
                    deadline.as_mut().reset(grace_end.min(expiry));
                }
                _ = &mut deadline => {
                    if tokio::time::Instant::now() >= expiry {
                        break End::Close(close::TOKEN_EXPIRED, "token expired");
                    }
                    break End::Close(close::SERVICE_RESTART, "server restarting, reconnect");
                }
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
                        if self.claims.exp != token_exp {
                            // A `refresh` replaced the token.
                            token_exp = self.claims.exp;
                            expiry = token_deadline(&self.claims);
                            deadline.as_mut().reset(end_of_grace.map_or(expiry, |g: tokio::time::Instant| g.min(expiry)));
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
        }
    }

    /// Sends the close frame, waiting at most [`CLOSE_TIMEOUT`] for it to go
    /// out; a slow consumer's may wait [`SLOW_CLOSE_TIMEOUT`] (it queues
    /// behind what the socket already holds), unless the node shuts down.
    async fn close(&mut self, code: u16, reason: &'static str) {
        tracing::debug!(code, reason, "closing");
        let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
        let wait = if code == close::SLOW_CONSUMER { SLOW_CLOSE_TIMEOUT } else { CLOSE_TIMEOUT };
        let shutdown = self.node.shutdown.clone();
        let send = tokio::time::timeout(wait, self.socket.send(Message::Close(Some(frame))));
        tokio::select! {
            _ = send => {}
            // Only a slow consumer's long wait gives way to shutdown; other
            // closes (the drain's 1012 among them) are short anyway.
            _ = shutdown.cancelled(), if code == close::SLOW_CONSUMER => {}
        }
    }

    /// Leaves every topic: local and bus subscriptions, presence.
    async fn cleanup(&mut self) {
        for (topic, _) in std::mem::take(&mut self.subs) {
            self.leave(&topic).await;
        }
    }

    async fn on_message(&mut self, msg: Message) -> Result<(), End> {
        self.node.metrics.frames_in.fetch_add(1, Ordering::Relaxed);
        match msg {
            Message::Text(text) => match wire::decode(text.as_str()) {
                Ok(msg) => {
                    self.malformed = 0;
                    self.handle(msg).await
                }
                Err(e) => {
                    self.malformed = if e.is_malformed() { self.malformed.saturating_add(1) } else { 0 };
                    self.error(wire::salvage_id(text.as_str()), e.code(), &e.to_string()).await?;
                    if self.malformed >= MAX_MALFORMED_IN_A_ROW {
                        return Err(End::Close(close::INVALID_PAYLOAD, "too many frames that are not JSON"));
                    }
                    Ok(())
                }
            },
            Message::Binary(_) => {
                // The error says why in the protocol's own terms; the close
                // code says it in RFC 6455's.
                self.error(None, ErrorCode::UnsupportedFrame, "binary frames are not supported; send JSON text")
                    .await?;
                Err(End::Close(close::UNSUPPORTED_DATA, "binary frames are not supported"))
            }
            Message::Close(_) => Err(End::Gone),
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        }
    }

    async fn handle(&mut self, msg: ClientMsg) -> Result<(), End> {
        match msg {
            ClientMsg::Subscribe { id, topic, recover } => self.subscribe(id, &topic, recover).await,
            ClientMsg::Unsubscribe { id, topic } => self.unsubscribe(id, &topic).await,
            ClientMsg::Publish { id, topic, data: Some(data), idem } => {
                self.publish(id, &topic, &data, idem.as_deref()).await
            }
            // `decode` always fills `data` or fails.
            ClientMsg::Publish { id, .. } => self.error(Some(id), ErrorCode::BadRequest, "missing field `data`").await,
            ClientMsg::History { id, topic, before, after, limit } => {
                self.history(id, &topic, before, after, limit).await
            }
            ClientMsg::Presence { id, topic } => self.presence(id, &topic).await,
            ClientMsg::MarkRead { id, topic, offset } => self.mark_read(id, &topic, offset).await,
            ClientMsg::Unread { id } => self.unread(id).await,
            ClientMsg::Ping { id } => self.reply(ServerMsg::Pong { id }).await,
            ClientMsg::Pong {} => Ok(()),
            ClientMsg::Showtimes { id, date, movie, district, near } => {
                self.showtimes(id, date, movie, district, near).await
            }
            ClientMsg::SeatMap { id, showtime } => self.seat_map(id, showtime).await,
            ClientMsg::Hold { id, showtime, seats, ttl_secs, idempotency_key, tickets } => {
                self.hold(id, showtime, seats, ttl_secs, idempotency_key, tickets).await
            }
            ClientMsg::ExtendHold { id, showtime, hold_id } => self.extend_hold(id, showtime, hold_id).await,
            ClientMsg::Release { id, showtime, hold_id, seats } => self.release(id, showtime, hold_id, seats).await,
            ClientMsg::Confirm { id, showtime, hold_id, tickets, payment } => {
                self.confirm(id, showtime, hold_id, tickets, payment.unwrap_or_default()).await
            }
            ClientMsg::CancelBooking { id, booking_id } => self.cancel_booking(id, booking_id).await,
            ClientMsg::MyBookings { id } => self.my_bookings(id).await,
            ClientMsg::Chat { id, message_id, conversation, text, locale, context } => {
                let msg = ChatIn { message_id, conversation, text, locale, context: context.unwrap_or_default() };
                self.chat(id, msg, false).await
            }
            ClientMsg::VoicePartial { utterance_id, revision, conversation, text, .. } => {
                self.voice_partial(utterance_id, revision, conversation, text).await
            }
            ClientMsg::VoiceFinal { id, utterance_id, conversation, text, locale, context } => {
                self.voice_final(id, utterance_id, conversation, text, locale, context).await
            }
            ClientMsg::VoiceCancel { utterance_id } => self.voice_cancel(utterance_id),
            ClientMsg::BestAvailable { id, showtime, count, class } => {
                self.best_available(id, showtime, count, class).await
            }
            ClientMsg::Refresh { id, token } => self.refresh(id, &token).await,
            // `decode` answers an unknown type itself; kept for exhaustiveness.
            ClientMsg::Unknown => self.error(None, ErrorCode::UnknownType, "unknown frame type").await,
        }
    }

    /// Takes a newer token for the same user and the same rooms; the serve
    /// loop moves the session's end to the new expiry. A token for another
    /// user or other rooms would change what this session may read, so it
    /// is refused (reconnect with it instead).
    async fn refresh(&mut self, id: ReqId, token: &str) -> Result<(), End> {
        let claims = match self.node.auth.verify(token) {
            Ok(claims) => claims,
            Err(e) => {
                tracing::debug!(error = %e, "refresh with a bad token");
                return self.error(Some(id), ErrorCode::Unauthorized, "invalid token").await;
            }
        };
        if claims.sub != self.claims.sub || claims.rooms != self.claims.rooms {
            let why = "the new token is for another user or other rooms; reconnect with it";
            return self.error(Some(id), ErrorCode::Forbidden, why).await;
        }
        let expires_at = claims.exp;
        self.claims = claims;
        self.reply(ServerMsg::Refreshed { id, expires_at }).await
    }

    async fn unavailable(&mut self, id: ReqId, e: bus::BusError) -> Result<(), End> {
        tracing::warn!(error = %e, "bus request failed");
        self.error(Some(id), ErrorCode::Unavailable, "temporarily unavailable; retry").await
    }

    async fn error(&mut self, id: Option<ReqId>, code: ErrorCode, message: &str) -> Result<(), End> {
        self.node.metrics.error(code);
        self.reply(ServerMsg::Error { id, code, message, seats: None }).await
    }
}

/// Maps a read error to how the session ends (RFC 6455, section 7.4.1): an
/// oversized frame gets 1009, a text frame that is not UTF-8 1007, broken
/// framing 1002; a connection that just ended (reset, EOF) is gone.
/// tungstenite reports these without closing, so the close frame is ours.
fn read_error(e: axum::Error) -> End {
    use tungstenite::error::ProtocolError;
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => End::Close(close::MESSAGE_TOO_BIG, "frame too large"),
        Some(tungstenite::Error::Utf8(_)) => End::Close(close::INVALID_PAYLOAD, "text frame is not UTF-8"),
        Some(tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => End::Gone,
        Some(tungstenite::Error::Protocol(_)) => End::Close(close::PROTOCOL_ERROR, "websocket protocol error"),
        _ => End::Gone,
    }
}

/// When the session's token stops being accepted ([`Claims::valid_until`]),
/// on the session's clock.
fn token_deadline(claims: &Claims) -> tokio::time::Instant {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let left = Duration::from_secs(claims.valid_until()).saturating_sub(now);
    tokio::time::Instant::now() + left.min(MAX_TOKEN_WAIT)
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
