//! The chat queue and everything the pipeline keeps per message and per
//! conversation, with one engine per bus: a Redis Stream with a consumer
//! group (any number of gateways and dispatchers), or in process.
//!
//! Per message (`mq:{user:<u>}:chat:<message id>`, 24 h): the attempt
//! counter that fences superseded dispatchers, `d` once its final answer is
//! published, `ap` once an apology went out, and the journal of tool results
//! (`r:<call id>`) so a retried answer never runs a booking action twice.
//! Every event is published by a script that checks the fence and publishes
//! on `user:<u>` in one atomic step (same hash tag, so one slot).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bus::keys::TopicKeys;
use bus::{Bus, BusConfig, BusError, LuaScript, MemoryBus, RedisBus, Topic, TopicKind};
use bytes::Bytes;
use fred::clients::Client;
use fred::interfaces::ClientLike;
use fred::types::{ClusterHash, CustomCommand, Value};
use serde::{Deserialize, Serialize};

use crate::wire::{ChatContext, Locale};

/// The stream of chat requests.
pub const STREAM_KEY: &str = "mq:{chat}:q";
/// Its consumer group.
pub const GROUP: &str = "dispatchers";
/// Sorted set of hold-expiry warnings due (score: when, Unix ms).
pub const WARN_KEY: &str = "mq:{chat}:warn";
/// How long message state and conversations live.
pub const STATE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Turns kept per conversation (user and assistant turns count one each).
pub const MAX_TURNS: usize = 16;
/// Longest a blocking read waits (below the Redis command timeout).
const BLOCK: Duration = Duration::from_millis(500);

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

impl From<fred::error::Error> for ChatError {
    fn from(e: fred::error::Error) -> ChatError {
        ChatError::Bus(BusError::Redis(e))
    }
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
    /// Answer it as this attempt (1 = first).
    Attempt(u32),
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

    /// Takes over requests another consumer has not touched for `idle`.
    pub async fn claim(&self, consumer: &str, idle: Duration, count: usize) -> Result<Vec<Entry>, ChatError> {
        dispatch!(self, q => q.claim(consumer, idle, count).await)
    }

    /// Tells the queue `consumer` still works on `id` (resets its idle time).
    pub async fn touch(&self, consumer: &str, id: &str) -> Result<(), ChatError> {
        dispatch!(self, q => q.touch(consumer, id).await)
    }

    /// Removes an answered request.
    pub async fn ack(&self, id: &str) -> Result<(), ChatError> {
        dispatch!(self, q => q.ack(id).await)
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

fn user_topic(user: &str) -> Result<Topic, ChatError> {
    Topic::new(TopicKind::User, user).map_err(|e| ChatError::Bus(BusError::Protocol(format!("user topic: {e}"))))
}

fn message_key(user: &str, message_id: &str) -> String {
    format!("mq:{{user:{user}}}:chat:{message_id}")
}

fn conversation_keys(user: &str, conversation: &str) -> (String, String) {
    (format!("mq:{{user:{user}}}:conv:{conversation}:t"), format!("mq:{{user:{user}}}:conv:{conversation}:d"))
}

fn turn_json(t: &Turn) -> String {
    serde_json::to_string(t).unwrap_or_default()
}

// ---------------------------------------------------------------- Redis --

/// Next attempt (or -1 when answered), the conversation's state and turns.
/// KEYS: message, conversation turns, conversation state. ARGV: ttl.
const BEGIN: &str = r#"
if redis.call('hget', KEYS[1], 'd') == '1' then return {-1, '', {}} end
local a = redis.call('hincrby', KEYS[1], 'a', 1)
redis.call('expire', KEYS[1], ARGV[1])
local state = redis.call('get', KEYS[3]) or ''
return {a, state, redis.call('lrange', KEYS[2], 0, -1)}
"#;

/// Claims a message id and publishes its echo, or answers 0 if the id was
/// claimed before. KEYS: stream, meta, channel of user:<u>, message.
/// ARGV: echo payload, maxlen, ttl, epoch candidate, state ttl.
const ACCEPT_AND_ECHO: &str = r#"
if redis.call('hsetnx', KEYS[4], 'a', 0) == 0 then return 0 end
redis.call('expire', KEYS[4], ARGV[5])
marquee_publish(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
"#;

/// Fenced publish. KEYS: stream, meta, channel of user:<u>, message,
/// conversation turns, conversation state. ARGV: payload, maxlen, ttl,
/// epoch candidate, kind (e|s|a|f), attempt, user turn, bot turn, state,
/// state ttl, max turns. Returns the offset, or 0 when fenced out.
const FENCED_PUBLISH: &str = r#"
if redis.call('hget', KEYS[4], 'd') == '1' then return 0 end
local kind = ARGV[5]
if kind == 'a' then
  if redis.call('hsetnx', KEYS[4], 'ap', 1) == 0 then return 0 end
elseif kind ~= 's' then
  if redis.call('hget', KEYS[4], 'a') ~= ARGV[6] then return 0 end
end
if kind == 'f' then
  redis.call('hset', KEYS[4], 'd', 1)
  redis.call('rpush', KEYS[5], ARGV[7], ARGV[8])
  redis.call('ltrim', KEYS[5], -tonumber(ARGV[11]), -1)
  redis.call('expire', KEYS[5], ARGV[10])
  redis.call('set', KEYS[6], ARGV[9], 'EX', ARGV[10])
end
local r = marquee_publish(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return r[1]
"#;

/// Takes due warnings. KEYS: warnings. ARGV: now, limit.
const DUE: &str = r#"
local m = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #m > 0 then redis.call('zrem', KEYS[1], unpack(m)) end
return m
"#;

/// The Redis engine.
pub struct RedisQueue {
    bus: RedisBus,
    config: BusConfig,
    max: usize,
    /// Blocking reads get their own connection so they never delay other commands.
    reader: tokio::sync::OnceCell<Client>,
    accept: LuaScript,
    begin: LuaScript,
    fenced: LuaScript,
    due: LuaScript,
}

impl RedisQueue {
    fn new(bus: RedisBus, config: BusConfig, max: usize) -> RedisQueue {
        RedisQueue {
            bus,
            config,
            max,
            reader: tokio::sync::OnceCell::new(),
            accept: LuaScript::new(bus::lua::with_publish_fn(ACCEPT_AND_ECHO)),
            begin: LuaScript::new(BEGIN.to_owned()),
            fenced: LuaScript::new(bus::lua::with_publish_fn(FENCED_PUBLISH)),
            due: LuaScript::new(DUE.to_owned()),
        }
    }

    fn client(&self) -> &Client {
        self.bus.client()
    }

    async fn cmd(&self, client: &Client, name: &'static str, args: Vec<Value>) -> Result<Value, ChatError> {
        Ok(client.custom(CustomCommand::new_static(name, ClusterHash::FirstKey, false), args).await?)
    }

    async fn accept(&self, req: &Request, echo: String) -> Result<Accepted, ChatError> {
        let depth = self.depth().await?;
        if depth >= self.max as u64 {
            return Err(ChatError::Overloaded);
        }
        let topic = user_topic(&req.user)?;
        let k = TopicKeys::new(&topic);
        let key = message_key(&req.user, &req.message_id);
        let args: Vec<Value> = vec![
            echo.into(),
            (self.config.history_size as i64).into(),
            (self.config.history_ttl.as_secs() as i64).into(),
            format!("{:08x}", rand::random::<u32>()).into(),
            (STATE_TTL.as_secs() as i64).into(),
        ];
        let fresh: i64 = self.accept.run(self.client(), vec![k.stream, k.meta, k.channel, key.clone()], args).await?;
        if fresh == 0 {
            return Ok(Accepted::Duplicate);
        }
        let body = serde_json::to_string(req).unwrap_or_default();
        let added = self.cmd(self.client(), "XADD", vec![STREAM_KEY.into(), "*".into(), "r".into(), body.into()]).await;
        if let Err(e) = added {
            // Not queued: forget the id so a retry with it is queued.
            let _ = self.cmd(self.client(), "DEL", vec![key.into()]).await;
            return Err(e);
        }
        // Everything ahead of it when it was checked, and itself.
        Ok(Accepted::Queued(depth + 1))
    }

    async fn reader(&self) -> Result<&Client, ChatError> {
        self.reader
            .get_or_try_init(|| async {
                let c = self.client().clone_new();
                c.init().await?;
                Ok::<Client, ChatError>(c)
            })
            .await
    }

    async fn ensure_group(&self) -> Result<(), ChatError> {
        let r = self
            .cmd(
                self.client(),
                "XGROUP",
                vec!["CREATE".into(), STREAM_KEY.into(), GROUP.into(), "0".into(), "MKSTREAM".into()],
            )
            .await;
        match r {
            Err(ChatError::Bus(BusError::Redis(e))) if e.details().contains("BUSYGROUP") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn read(&self, consumer: &str, count: usize) -> Result<Vec<Entry>, ChatError> {
        let reader = self.reader().await?;
        let args: Vec<Value> = vec![
            "GROUP".into(),
            GROUP.into(),
            consumer.into(),
            "COUNT".into(),
            (count as i64).into(),
            "BLOCK".into(),
            (BLOCK.as_millis() as i64).into(),
            "STREAMS".into(),
            STREAM_KEY.into(),
            ">".into(),
        ];
        let reply = match self.cmd(reader, "XREADGROUP", args.clone()).await {
            Err(ChatError::Bus(BusError::Redis(e))) if e.details().contains("NOGROUP") => {
                // First start, or Redis came back empty.
                self.ensure_group().await?;
                self.cmd(reader, "XREADGROUP", args).await?
            }
            other => other?,
        };
        // [[stream, [[id, [field, value, ...]], ...]]] or nil on timeout.
        let mut out = Vec::new();
        if let Value::Array(streams) = reply {
            for s in streams {
                if let Value::Array(mut parts) = s
                    && parts.len() == 2
                {
                    out.extend(parse_entries(parts.swap_remove(1)));
                }
            }
        }
        Ok(out)
    }

    async fn claim(&self, consumer: &str, idle: Duration, count: usize) -> Result<Vec<Entry>, ChatError> {
        let args: Vec<Value> = vec![
            STREAM_KEY.into(),
            GROUP.into(),
            consumer.into(),
            (idle.as_millis() as i64).into(),
            "0-0".into(),
            "COUNT".into(),
            (count as i64).into(),
        ];
        let reply = match self.cmd(self.client(), "XAUTOCLAIM", args).await {
            Err(ChatError::Bus(BusError::Redis(e))) if e.details().contains("NOGROUP") => {
                self.ensure_group().await?;
                return Ok(Vec::new());
            }
            other => other?,
        };
        // [next cursor, [[id, fields], ...], [deleted ids]]
        match reply {
            Value::Array(mut parts) if parts.len() >= 2 => Ok(parse_entries(parts.swap_remove(1))),
            _ => Ok(Vec::new()),
        }
    }

    async fn touch(&self, consumer: &str, id: &str) -> Result<(), ChatError> {
        self.cmd(
            self.client(),
            "XCLAIM",
            vec![STREAM_KEY.into(), GROUP.into(), consumer.into(), 0.into(), id.into(), "JUSTID".into()],
        )
        .await?;
        Ok(())
    }

    async fn ack(&self, id: &str) -> Result<(), ChatError> {
        self.cmd(self.client(), "XACK", vec![STREAM_KEY.into(), GROUP.into(), id.into()]).await?;
        self.cmd(self.client(), "XDEL", vec![STREAM_KEY.into(), id.into()]).await?;
        Ok(())
    }

    async fn depth(&self) -> Result<u64, ChatError> {
        let v = self.cmd(self.client(), "XLEN", vec![STREAM_KEY.into()]).await?;
        Ok(v.as_u64().unwrap_or(0))
    }

    async fn begin(&self, req: &Request) -> Result<(Begin, Conversation), ChatError> {
        let (turns_key, state_key) = conversation_keys(&req.user, &req.conversation);
        let keys = vec![message_key(&req.user, &req.message_id), turns_key, state_key];
        let reply: Value = self.begin.run(self.client(), keys, vec![(STATE_TTL.as_secs() as i64).into()]).await?;
        let Value::Array(mut parts) = reply else {
            return Err(ChatError::Bus(BusError::Protocol("begin reply is not an array".into())));
        };
        if parts.len() != 3 {
            return Err(ChatError::Bus(BusError::Protocol("begin reply has not three parts".into())));
        }
        let turns = match parts.pop() {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|v| v.as_string())
                .filter_map(|s| serde_json::from_str::<Turn>(&s).ok())
                .collect(),
            _ => Vec::new(),
        };
        let state = parts.pop().and_then(|v| v.as_string()).unwrap_or_default();
        let a = parts.pop().and_then(|v| v.as_i64()).unwrap_or(-1);
        let begin = if a < 0 { Begin::Done } else { Begin::Attempt(a as u32) };
        Ok((begin, Conversation { turns, state }))
    }

    async fn publish(&self, req: &Request, fence: Fence, payload: String) -> Result<bool, ChatError> {
        let topic = user_topic(&req.user)?;
        let k = TopicKeys::new(&topic);
        let (turns_key, state_key) = conversation_keys(&req.user, &req.conversation);
        let (kind, attempt, save) = match fence {
            Fence::Attempt(a) => ("e", a, None),
            Fence::Status => ("s", 0, None),
            Fence::Apology => ("a", 0, None),
            Fence::Final(a, save) => ("f", a, Some(save)),
        };
        let (ut, bt, st) = match &save {
            Some(s) => (turn_json(&s.user), turn_json(&s.bot), s.state.clone()),
            None => (String::new(), String::new(), String::new()),
        };
        let args: Vec<Value> = vec![
            payload.into(),
            (self.config.history_size as i64).into(),
            (self.config.history_ttl.as_secs() as i64).into(),
            format!("{:08x}", rand::random::<u32>()).into(),
            kind.into(),
            attempt.to_string().into(),
            ut.into(),
            bt.into(),
            st.into(),
            (STATE_TTL.as_secs() as i64).into(),
            (MAX_TURNS as i64).into(),
        ];
        let keys = vec![k.stream, k.meta, k.channel, message_key(&req.user, &req.message_id), turns_key, state_key];
        let offset: i64 = self.fenced.run(self.client(), keys, args).await?;
        Ok(offset > 0)
    }

    async fn conversation(&self, user: &str, conversation: &str) -> Result<Conversation, ChatError> {
        let (turns_key, state_key) = conversation_keys(user, conversation);
        let turns = self.cmd(self.client(), "LRANGE", vec![turns_key.into(), 0.into(), (-1).into()]).await?;
        let state = self.cmd(self.client(), "GET", vec![state_key.into()]).await?;
        let turns = match turns {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|v| v.as_string())
                .filter_map(|s| serde_json::from_str::<Turn>(&s).ok())
                .collect(),
            _ => Vec::new(),
        };
        Ok(Conversation { turns, state: state.as_string().unwrap_or_default() })
    }

    async fn journal_get(&self, user: &str, message_id: &str, call: &str) -> Result<Option<String>, ChatError> {
        let v = self
            .cmd(self.client(), "HGET", vec![message_key(user, message_id).into(), format!("r:{call}").into()])
            .await?;
        Ok(v.as_string())
    }

    async fn journal_put(&self, user: &str, message_id: &str, call: &str, value: &str) -> Result<(), ChatError> {
        self.cmd(
            self.client(),
            "HSET",
            vec![message_key(user, message_id).into(), format!("r:{call}").into(), value.into()],
        )
        .await?;
        Ok(())
    }

    async fn schedule_warning(&self, at: i64, w: &HoldWarning) -> Result<(), ChatError> {
        let member = serde_json::to_string(w).unwrap_or_default();
        self.cmd(self.client(), "ZADD", vec![WARN_KEY.into(), at.into(), member.into()]).await?;
        Ok(())
    }

    async fn due_warnings(&self, now: i64) -> Result<Vec<HoldWarning>, ChatError> {
        let v: Value = self.due.run(self.client(), vec![WARN_KEY.into()], vec![now.into(), 32.into()]).await?;
        Ok(match v {
            Value::Array(items) => {
                items.into_iter().filter_map(|v| v.as_string()).filter_map(|s| serde_json::from_str(&s).ok()).collect()
            }
            _ => Vec::new(),
        })
    }
}

/// Parses `[[id, [field, value, ...]], ...]`; entries without a readable
/// request are skipped (and logged): they cannot be answered.
fn parse_entries(v: Value) -> Vec<Entry> {
    let Value::Array(items) = v else { return Vec::new() };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(mut pair) = item else { continue };
        if pair.len() != 2 {
            continue;
        }
        let fields = pair.swap_remove(1);
        let Some(id) = pair.swap_remove(0).as_string() else { continue };
        let Value::Array(fields) = fields else { continue };
        let mut body = None;
        for kv in fields.chunks(2) {
            if let [k, v] = kv
                && k.as_str().as_deref() == Some("r")
            {
                body = v.as_string();
            }
        }
        match body.as_deref().map(serde_json::from_str::<Request>) {
            Some(Ok(req)) => out.push(Entry { id, req }),
            _ => tracing::warn!(%id, "unreadable chat request skipped"),
        }
    }
    out
}

// ----------------------------------------------------------- In process --

#[derive(Default)]
struct MessageState {
    attempt: u32,
    done: bool,
    apologized: bool,
    journal: HashMap<String, String>,
    created: Option<Instant>,
}

#[derive(Default)]
struct MemoryState {
    waiting: VecDeque<Entry>,
    /// In progress: id → (entry, consumer, last touched).
    pending: HashMap<String, (Entry, String, Instant)>,
    messages: HashMap<(String, String), MessageState>,
    conversations: HashMap<(String, String), (Conversation, Instant)>,
    warnings: Vec<(i64, HoldWarning)>,
    next_id: u64,
}

/// The in-process engine (one node).
pub struct MemoryQueue {
    bus: MemoryBus,
    max: usize,
    state: Mutex<MemoryState>,
    arrived: tokio::sync::Notify,
}

impl MemoryQueue {
    fn new(bus: MemoryBus, max: usize) -> MemoryQueue {
        MemoryQueue { bus, max, state: Mutex::new(MemoryState::default()), arrived: tokio::sync::Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn accept(&self, req: &Request, echo: String) -> Result<Accepted, ChatError> {
        let topic = user_topic(&req.user)?;
        let position = {
            let mut s = self.lock();
            let key = (req.user.clone(), req.message_id.clone());
            if s.messages.contains_key(&key) {
                return Ok(Accepted::Duplicate);
            }
            if s.waiting.len() + s.pending.len() >= self.max {
                return Err(ChatError::Overloaded);
            }
            s.forget_expired();
            s.messages.insert(key, MessageState { created: Some(Instant::now()), ..MessageState::default() });
            self.bus.publish_now(&topic, Bytes::from(echo));
            s.next_id += 1;
            let id = format!("{}-0", s.next_id);
            s.waiting.push_back(Entry { id, req: req.clone() });
            (s.waiting.len() + s.pending.len()) as u64
        };
        self.arrived.notify_one();
        Ok(Accepted::Queued(position))
    }

    async fn read(&self, consumer: &str, count: usize) -> Result<Vec<Entry>, ChatError> {
        let deadline = tokio::time::Instant::now() + BLOCK;
        loop {
            let notified = self.arrived.notified();
            {
                let mut s = self.lock();
                let n = count.min(s.waiting.len());
                if n > 0 {
                    let taken: Vec<Entry> = s.waiting.drain(..n).collect();
                    for e in &taken {
                        s.pending.insert(e.id.clone(), (e.clone(), consumer.to_owned(), Instant::now()));
                    }
                    if !s.waiting.is_empty() {
                        self.arrived.notify_one();
                    }
                    return Ok(taken);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn claim(&self, consumer: &str, idle: Duration, count: usize) -> Result<Vec<Entry>, ChatError> {
        let mut s = self.lock();
        let mut out = Vec::new();
        for (entry, owner, touched) in s.pending.values_mut() {
            if out.len() == count {
                break;
            }
            if touched.elapsed() >= idle {
                *owner = consumer.to_owned();
                *touched = Instant::now();
                out.push(entry.clone());
            }
        }
        Ok(out)
    }

    async fn touch(&self, consumer: &str, id: &str) -> Result<(), ChatError> {
        if let Some((_, owner, touched)) = self.lock().pending.get_mut(id) {
            *owner = consumer.to_owned();
            *touched = Instant::now();
        }
        Ok(())
    }

    async fn ack(&self, id: &str) -> Result<(), ChatError> {
        self.lock().pending.remove(id);
        Ok(())
    }

    async fn depth(&self) -> Result<u64, ChatError> {
        let s = self.lock();
        Ok((s.waiting.len() + s.pending.len()) as u64)
    }

    async fn begin(&self, req: &Request) -> Result<(Begin, Conversation), ChatError> {
        let conv = self.conversation(&req.user, &req.conversation).await?;
        let mut s = self.lock();
        let m = s.messages.entry((req.user.clone(), req.message_id.clone())).or_default();
        if m.done {
            return Ok((Begin::Done, conv));
        }
        m.attempt += 1;
        Ok((Begin::Attempt(m.attempt), conv))
    }

    async fn publish(&self, req: &Request, fence: Fence, payload: String) -> Result<bool, ChatError> {
        let topic = user_topic(&req.user)?;
        // The fence check and the publish happen under one lock: one step.
        {
            let mut s = self.lock();
            let key = (req.user.clone(), req.message_id.clone());
            let m = s.messages.entry(key).or_default();
            if m.done {
                return Ok(false);
            }
            match &fence {
                Fence::Attempt(a) | Fence::Final(a, _) if m.attempt != *a => return Ok(false),
                Fence::Apology if m.apologized => return Ok(false),
                Fence::Apology => m.apologized = true,
                _ => {}
            }
            if let Fence::Final(_, save) = fence {
                m.done = true;
                let conv = s
                    .conversations
                    .entry((req.user.clone(), req.conversation.clone()))
                    .or_insert_with(|| (Conversation::default(), Instant::now()));
                conv.0.turns.push(save.user);
                conv.0.turns.push(save.bot);
                let excess = conv.0.turns.len().saturating_sub(MAX_TURNS);
                conv.0.turns.drain(..excess);
                conv.0.state = save.state;
                conv.1 = Instant::now();
            }
            self.bus.publish_now(&topic, Bytes::from(payload));
        }
        Ok(true)
    }

    async fn conversation(&self, user: &str, conversation: &str) -> Result<Conversation, ChatError> {
        let s = self.lock();
        Ok(s.conversations
            .get(&(user.to_owned(), conversation.to_owned()))
            .filter(|(_, at)| at.elapsed() < STATE_TTL)
            .map(|(c, _)| c.clone())
            .unwrap_or_default())
    }

    async fn journal_get(&self, user: &str, message_id: &str, call: &str) -> Result<Option<String>, ChatError> {
        let s = self.lock();
        Ok(s.messages.get(&(user.to_owned(), message_id.to_owned())).and_then(|m| m.journal.get(call).cloned()))
    }

    async fn journal_put(&self, user: &str, message_id: &str, call: &str, value: &str) -> Result<(), ChatError> {
        let mut s = self.lock();
        let m = s.messages.entry((user.to_owned(), message_id.to_owned())).or_default();
        m.journal.insert(call.to_owned(), value.to_owned());
        Ok(())
    }

    async fn schedule_warning(&self, at: i64, w: &HoldWarning) -> Result<(), ChatError> {
        self.lock().warnings.push((at, w.clone()));
        Ok(())
    }

    async fn due_warnings(&self, now: i64) -> Result<Vec<HoldWarning>, ChatError> {
        let mut s = self.lock();
        let (due, later): (Vec<_>, Vec<_>) = s.warnings.drain(..).partition(|(at, _)| *at <= now);
        s.warnings = later;
        Ok(due.into_iter().map(|(_, w)| w).collect())
    }
}

impl MemoryState {
    /// Drops message and conversation state older than [`STATE_TTL`].
    fn forget_expired(&mut self) {
        if !self.messages.len().is_multiple_of(1024) {
            return;
        }
        self.messages.retain(|_, m| m.created.is_none_or(|c| c.elapsed() < STATE_TTL));
        self.conversations.retain(|_, (_, at)| at.elapsed() < STATE_TTL);
    }
}
