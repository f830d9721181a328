//! The chat queue and everything the pipeline keeps per message and per
//! conversation, with one engine per bus: a Redis Stream with a consumer
//! group (any number of gateways and dispatchers), or in process.
//!
//! Per message (`mq:{user:<u>}:chat:<message id>`, 24 h): the attempt
//! counter that fences superseded dispatchers, `d` once its final answer is
//! published, `ap` once an apology went out, `o` the last attempt that began
//! streaming output (so the next one knows to send `restart`), and the journal of tool results
//! (`r:<call id>`) so a retried answer never runs a booking action twice.
//! Every event is published by a function (`bus/lua/chat.lua`) that checks
//! the fence and publishes on `user:<u>` in one atomic step (same hash tag,
//! so one slot). The keys are `bus::keys::ChatKeys`; the Redis engine is in
//! [`redis`], the in-process one in [`memory`].

mod memory;
mod redis;

pub use memory::MemoryQueue;
pub use redis::RedisQueue;

use std::sync::Arc;
use std::time::Duration;

use bus::keys::ChatKeys;
use bus::{Bus, BusConfig, BusError, Topic, TopicKind};
use serde::{Deserialize, Serialize};

use crate::wire::{ChatContext, Locale};

/// The stream of chat requests.
pub const STREAM_KEY: &str = ChatKeys::STREAM;
/// Its consumer group.
pub const GROUP: &str = "dispatchers";
/// Sorted set of hold-expiry warnings due (score: when, Unix ms).
pub const WARN_KEY: &str = ChatKeys::WARNINGS;
/// How long message state and conversations live.
pub const STATE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Turns kept per conversation (user and assistant turns count one each).
pub const MAX_TURNS: usize = 16;
/// Longest a blocking read waits (below the Redis command timeout).
pub(crate) const BLOCK: Duration = Duration::from_millis(500);

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Redis failed or answered something unexpected.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The queue is full.
    #[error("the chat queue is full")]
    Overloaded,
}

/// A chat message waiting for its answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    /// The user it is for (from the session's token).
    pub user: String,
    /// The client's message id.
    pub message_id: String,
    /// The conversation.
    pub conversation: String,
    /// The text.
    pub text: String,
    /// The user's language, when known.
    pub locale: Option<Locale>,
    /// What the user has on screen.
    #[serde(default)]
    pub context: ChatContext,
    /// From a voice final.
    #[serde(default)]
    pub voice: bool,
    /// When the gateway accepted it (Unix ms).
    pub accepted_at: i64,
}

/// A request read from the queue.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its id in the queue.
    pub id: String,
    /// The request.
    pub req: Request,
}

/// What `accept` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Queued at this position (counting itself).
    Queued(u64),
    /// Accepted before; nothing was queued.
    Duplicate,
}

/// What `begin` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// Answer it as a new attempt.
    Attempt {
        /// Its number (1 = first).
        attempt: u32,
        /// The attempt before it began streaming output (text, a citation
        /// or an action), which the user must be told to discard.
        restart: bool,
    },
    /// It was answered already: acknowledge and move on.
    Done,
}

/// One turn of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Turn {
    /// `user` or `assistant`.
    pub role: String,
    /// What was said.
    pub text: String,
    /// On a bot turn: the hold it read back (the consent marker,
    /// [`crate::chat::consent`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readback: Option<crate::chat::consent::ReadBack>,
}

/// What a conversation remembers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// Oldest first.
    pub turns: Vec<Turn>,
    /// The model's dialogue state.
    pub state: String,
}

/// What publishing a final answer also saves, atomically with it.
#[derive(Debug, Clone)]
pub struct FinalSave {
    /// The user's turn.
    pub user: Turn,
    /// The bot's turn.
    pub bot: Turn,
    /// The dialogue state after the turn.
    pub state: String,
}

/// Which fence an event passes.
#[derive(Debug, Clone)]
pub enum Fence {
    /// Only while `attempt` is the message's current attempt.
    Attempt(u32),
    /// Output of `attempt` (a delta, citation or action): fenced like
    /// [`Fence::Attempt`], and records in the same step that the attempt
    /// showed output, so the next attempt publishes `restart`.
    Output(u32),
    /// A status note (`queued`): while the message is unanswered.
    Status,
    /// The apology: once per message, while it is unanswered.
    Apology,
    /// The final answer of `attempt`: marks the message answered and saves the conversation.
    Final(u32, Box<FinalSave>),
}

/// A hold the bot made, to warn about before it expires.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HoldWarning {
    /// Its owner.
    pub user: String,
    /// The conversation that made it.
    pub conversation: String,
    /// The hold.
    pub hold_id: String,
    /// Its showtime.
    pub showtime: String,
    /// When it expires (Unix ms).
    pub expires_at: i64,
    /// The user's language.
    pub locale: Option<Locale>,
}

/// The queue, with either engine. Cheap to clone.
#[derive(Clone)]
pub enum ChatQueue {
    /// In process (single node).
    Memory(Arc<MemoryQueue>),
    /// Redis Streams.
    Redis(Arc<RedisQueue>),
}

macro_rules! dispatch {
    ($self:ident, $q:ident => $e:expr) => {
        match $self {
            ChatQueue::Memory($q) => $e,
            ChatQueue::Redis($q) => $e,
        }
    };
}

impl ChatQueue {
    /// The queue of `bus`'s engine, holding at most `max` requests.
    pub fn new(bus: &Bus, config: BusConfig, max: usize) -> ChatQueue {
        match bus {
            Bus::Memory(m) => ChatQueue::Memory(Arc::new(MemoryQueue::new(m.clone(), max))),
            Bus::Redis(r) => ChatQueue::Redis(Arc::new(RedisQueue::new(r.clone(), config, max))),
        }
    }

    /// Queues `req` unless its message id was accepted before; a new
    /// message's `echo` event is published on the user's topic first, so it
    /// precedes every event of the answer.
    pub async fn accept(&self, req: &Request, echo: String) -> Result<Accepted, ChatError> {
        dispatch!(self, q => q.accept(req, echo).await)
    }

    /// Up to `count` new requests for `consumer`, waiting a while for one.
    pub async fn read(&self, consumer: &str, count: usize) -> Result<Vec<Entry>, ChatError> {
        dispatch!(self, q => q.read(consumer, count).await)
    }

    /// Takes over up to `count` requests another consumer has not touched
    /// for `idle`, scanning the in-progress list from `cursor`
    /// ([`bus::CLAIM_START`] for its start); also returns the cursor to go
    /// on from, [`bus::CLAIM_START`] when the whole list was scanned.
    pub async fn claim(
        &self,
        consumer: &str,
        idle: Duration,
        count: usize,
        cursor: &str,
    ) -> Result<(Vec<Entry>, String), ChatError> {
        dispatch!(self, q => q.claim(consumer, idle, count, cursor).await)
    }

    /// Tells the queue `consumer` still works on `id` (resets its idle time).
    pub async fn touch(&self, consumer: &str, id: &str) -> Result<(), ChatError> {
        dispatch!(self, q => q.touch(consumer, id).await)
    }

    /// Removes an answered request.
    pub async fn ack(&self, id: &str) -> Result<(), ChatError> {
        dispatch!(self, q => q.ack(id).await)
    }

    /// Moves a request that can never be answered to the dead-letter list
    /// (with `reason`) and acknowledges it.
    pub async fn dead_letter(&self, entry: &Entry, reason: &str) -> Result<(), ChatError> {
        dispatch!(self, q => q.dead_letter(entry, reason).await)
    }

    /// How many requests are in the dead-letter list.
    pub async fn dead_letters(&self) -> Result<u64, ChatError> {
        dispatch!(self, q => q.dead_letters().await)
    }

    /// Requests not yet answered (waiting or in progress).
    pub async fn depth(&self) -> Result<u64, ChatError> {
        dispatch!(self, q => q.depth().await)
    }

    /// Starts a new attempt at answering `req`, and reads its conversation
    /// (one round trip with Redis).
    pub async fn begin(&self, req: &Request) -> Result<(Begin, Conversation), ChatError> {
        dispatch!(self, q => q.begin(req).await)
    }

    /// Publishes `payload` on `user:<user>` if `fence` holds; false when it
    /// does not (a newer attempt owns the message, or it is answered).
    pub async fn publish(&self, req: &Request, fence: Fence, payload: String) -> Result<bool, ChatError> {
        dispatch!(self, q => q.publish(req, fence, payload).await)
    }

    /// The conversation's recent turns and dialogue state.
    pub async fn conversation(&self, user: &str, conversation: &str) -> Result<Conversation, ChatError> {
        dispatch!(self, q => q.conversation(user, conversation).await)
    }

    /// The journaled result of a tool call of a message, if it ran.
    pub async fn journal_get(&self, user: &str, message_id: &str, call: &str) -> Result<Option<String>, ChatError> {
        dispatch!(self, q => q.journal_get(user, message_id, call).await)
    }

    /// Journals a tool call's result.
    pub async fn journal_put(&self, user: &str, message_id: &str, call: &str, value: &str) -> Result<(), ChatError> {
        dispatch!(self, q => q.journal_put(user, message_id, call, value).await)
    }

    /// Schedules a warning at `at` (Unix ms).
    pub async fn schedule_warning(&self, at: i64, w: &HoldWarning) -> Result<(), ChatError> {
        dispatch!(self, q => q.schedule_warning(at, w).await)
    }

    /// Takes the warnings due by `now` (each is returned once, cluster-wide).
    pub async fn due_warnings(&self, now: i64) -> Result<Vec<HoldWarning>, ChatError> {
        dispatch!(self, q => q.due_warnings(now).await)
    }
}

pub(crate) fn user_topic(user: &str) -> Result<Topic, ChatError> {
    Topic::new(TopicKind::User, user).map_err(|e| ChatError::Bus(BusError::Protocol(format!("user topic: {e}"))))
}

pub(crate) fn turn_json(t: &Turn) -> String {
    serde_json::to_string(t).unwrap_or_default()
}
