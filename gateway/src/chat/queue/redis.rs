//! The chat queue over Redis: the request stream is a `bus::WorkQueue`
//! (consumer group [`GROUP`]: any number of gateways and dispatchers), and
//! per-message state, conversations and warnings are changed by the chat
//! functions of the bus's library (`bus/lua/chat.lua`).

use bus::keys::{ChatKeys, TopicKeys};
use bus::{Arg, BusConfig, BusError, Function, RedisBus, RedisHandle, Reply, WorkItem, WorkQueue};

use super::{
    Accepted, BLOCK, Begin, ChatError, Conversation, Entry, Fence, GROUP, HoldWarning, MAX_TURNS, Request, STATE_TTL,
    Turn, turn_json, user_topic,
};

/// What `chat_accept_claim` answers when the message was queued before.
const QUEUED_BEFORE: i64 = 0;

/// The Redis engine.
pub struct RedisQueue {
    redis: RedisHandle,
    queue: WorkQueue,
    config: BusConfig,
    max: usize,
}

impl RedisQueue {
    pub(super) fn new(bus: RedisBus, config: BusConfig, max: usize) -> RedisQueue {
        let redis = bus.handle().clone();
        let queue = WorkQueue::new(redis.clone(), ChatKeys::STREAM, GROUP);
        RedisQueue { redis, queue, config, max }
    }

    fn epoch_candidate() -> Arg {
        Arg::from(format!("{:08x}", rand::random::<u32>()))
    }

    pub(super) async fn accept(&self, req: &Request, echo: String) -> Result<Accepted, ChatError> {
        let depth = self.depth().await?;
        if depth >= self.max as u64 {
            return Err(ChatError::Overloaded);
        }
        let k = TopicKeys::new(&user_topic(&req.user)?);
        let key = ChatKeys::message(&req.user, &req.message_id);
        let args = vec![
            Arg::from(echo),
            Arg::Int(self.config.history_size as i64),
            Arg::Int(self.config.history_ttl.as_secs() as i64),
            Self::epoch_candidate(),
            Arg::Int(STATE_TTL.as_secs() as i64),
        ];
        let keys = vec![k.stream, k.meta, k.channel, key.clone()];
        // Two steps (the request stream is in another Cluster slot than the
        // user's keys, so no function may write both): the claim, then the
        // queueing. A claim that ran without its queueing (a timed-out
        // attempt, or a failed `XADD`) is told apart by the retry (2), which
        // queues it then; queueing twice is harmless (the dispatchers'
        // attempt fence answers a message once), never queueing is not.
        let claim = self.redis.call(Function::ChatAcceptClaim, keys, args).await?;
        if claim.as_i64() == Some(QUEUED_BEFORE) {
            return Ok(Accepted::Duplicate);
        }
        let body = serde_json::to_string(req).map_err(|e| BusError::Protocol(format!("request: {e}")))?;
        self.queue.add(vec![("r", Arg::from(body))], None).await?;
        // Queued: later retries are duplicates. If this mark is lost, a
        // retry before a dispatcher begins the message queues it again.
        let mark = vec![Arg::from(key), Arg::from("q"), Arg::from("1")];
        if let Err(e) = self.redis.cmd("HSET", mark).await {
            tracing::warn!(error = %e, "chat request queued but not marked queued");
        }
        // Everything ahead of it when it was checked, and itself.
        Ok(Accepted::Queued(depth + 1))
    }

    pub(super) async fn read(&self, consumer: &str, count: usize) -> Result<Vec<Entry>, ChatError> {
        Ok(self.entries(self.queue.read_new(consumer, count, Some(BLOCK)).await?).await)
    }

    pub(super) async fn claim(
        &self,
        consumer: &str,
        idle: std::time::Duration,
        count: usize,
        cursor: &str,
    ) -> Result<(Vec<Entry>, String), ChatError> {
        let (items, next) = self.queue.claim_idle_from(consumer, idle, count, cursor).await?;
        Ok((self.entries(items).await, next))
    }

    /// The requests of `items`; an entry without a readable request cannot
    /// be answered, so it goes to the dead-letter stream.
    async fn entries(&self, items: Vec<WorkItem>) -> Vec<Entry> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item.field("r").map(serde_json::from_str::<Request>) {
                Some(Ok(req)) => out.push(Entry { id: item.id, req }),
                _ => {
                    tracing::warn!(id = %item.id, "unreadable chat request dead-lettered");
                    if let Err(e) = self.queue.dead_letter(&item, "unreadable request").await {
                        tracing::warn!(error = %e, id = %item.id, "dead-letter failed");
                    }
                }
            }
        }
        out
    }

    pub(super) async fn touch(&self, consumer: &str, id: &str) -> Result<(), ChatError> {
        Ok(self.queue.touch(consumer, id).await?)
    }

    pub(super) async fn ack(&self, id: &str) -> Result<(), ChatError> {
        Ok(self.queue.ack(id, true).await?)
    }

    pub(super) async fn dead_letter(&self, entry: &Entry, reason: &str) -> Result<(), ChatError> {
        let request = serde_json::to_vec(&entry.req).map_err(|e| bus::BusError::Protocol(e.to_string()))?;
        let item = WorkItem { id: entry.id.clone(), fields: vec![("r".to_owned(), request.into())] };
        Ok(self.queue.dead_letter(&item, reason).await?)
    }

    pub(super) async fn dead_letters(&self) -> Result<u64, ChatError> {
        Ok(self.queue.dead_letters().await?)
    }

    pub(super) async fn depth(&self) -> Result<u64, ChatError> {
        Ok(self.queue.backlog().await?)
    }

    pub(super) async fn begin(&self, req: &Request) -> Result<(Begin, Conversation), ChatError> {
        let (turns_key, state_key) = ChatKeys::conversation(&req.user, &req.conversation);
        let keys = vec![ChatKeys::message(&req.user, &req.message_id), turns_key, state_key];
        let reply =
            self.redis.call(Function::ChatBeginAttempt, keys, vec![Arg::Int(STATE_TTL.as_secs() as i64)]).await?;
        let Reply::Array(mut parts) = reply else {
            return Err(ChatError::Bus(BusError::Protocol("begin reply is not an array".into())));
        };
        if parts.len() != 4 {
            return Err(ChatError::Bus(BusError::Protocol("begin reply has not four parts".into())));
        }
        let restart = parts.pop().and_then(|v| v.as_i64()) == Some(1);
        let turns = parts.pop().map(parse_turns).unwrap_or_default();
        let state = parts.pop().and_then(|v| v.to_text()).unwrap_or_default();
        let a = parts.pop().and_then(|v| v.as_i64()).unwrap_or(-1);
        let begin = if a < 0 { Begin::Done } else { Begin::Attempt { attempt: a as u32, restart } };
        Ok((begin, Conversation { turns, state }))
    }

    pub(super) async fn publish(&self, req: &Request, fence: Fence, payload: String) -> Result<bool, ChatError> {
        let k = TopicKeys::new(&user_topic(&req.user)?);
        let (turns_key, state_key) = ChatKeys::conversation(&req.user, &req.conversation);
        let (kind, attempt, save) = match fence {
            Fence::Attempt(a) => ("e", a, None),
            Fence::Output(a) => ("o", a, None),
            Fence::Status => ("s", 0, None),
            Fence::Apology => ("a", 0, None),
            Fence::Final(a, save) => ("f", a, Some(save)),
        };
        let (ut, bt, st) = match &save {
            Some(s) => (turn_json(&s.user), turn_json(&s.bot), s.state.clone()),
            None => (String::new(), String::new(), String::new()),
        };
        let args = vec![
            Arg::from(payload),
            Arg::Int(self.config.history_size as i64),
            Arg::Int(self.config.history_ttl.as_secs() as i64),
            Self::epoch_candidate(),
            Arg::from(kind),
            Arg::from(attempt.to_string()),
            Arg::from(ut),
            Arg::from(bt),
            Arg::from(st),
            Arg::Int(STATE_TTL.as_secs() as i64),
            Arg::Int(MAX_TURNS as i64),
        ];
        let keys =
            vec![k.stream, k.meta, k.channel, ChatKeys::message(&req.user, &req.message_id), turns_key, state_key];
        let offset = self.redis.call(Function::ChatPublish, keys, args).await?;
        Ok(offset.as_i64().unwrap_or(0) > 0)
    }

    pub(super) async fn conversation(&self, user: &str, conversation: &str) -> Result<Conversation, ChatError> {
        let (turns_key, state_key) = ChatKeys::conversation(user, conversation);
        let turns = self.redis.cmd("LRANGE", vec![Arg::from(turns_key), Arg::Int(0), Arg::Int(-1)]).await?;
        let state = self.redis.cmd("GET", vec![Arg::from(state_key)]).await?;
        Ok(Conversation { turns: parse_turns(turns), state: state.to_text().unwrap_or_default() })
    }

    pub(super) async fn journal_get(
        &self,
        user: &str,
        message_id: &str,
        call: &str,
    ) -> Result<Option<String>, ChatError> {
        let args = vec![Arg::from(ChatKeys::message(user, message_id)), Arg::from(format!("r:{call}"))];
        Ok(self.redis.cmd("HGET", args).await?.to_text())
    }

    pub(super) async fn journal_put(
        &self,
        user: &str,
        message_id: &str,
        call: &str,
        value: &str,
    ) -> Result<(), ChatError> {
        let args =
            vec![Arg::from(ChatKeys::message(user, message_id)), Arg::from(format!("r:{call}")), Arg::from(value)];
        self.redis.cmd("HSET", args).await?;
        Ok(())
    }

    pub(super) async fn schedule_warning(&self, at: i64, w: &HoldWarning) -> Result<(), ChatError> {
        let member = serde_json::to_string(w).map_err(|e| BusError::Protocol(format!("warning: {e}")))?;
        self.redis.cmd("ZADD", vec![Arg::from(ChatKeys::WARNINGS), Arg::Int(at), Arg::from(member)]).await?;
        Ok(())
    }

    pub(super) async fn due_warnings(&self, now: i64) -> Result<Vec<HoldWarning>, ChatError> {
        let keys = vec![ChatKeys::WARNINGS.to_owned()];
        let due = self.redis.call(Function::ChatDueWarnings, keys, vec![Arg::Int(now), Arg::Int(32)]).await?;
        Ok(due.into_array().iter().filter_map(Reply::as_str).filter_map(|s| serde_json::from_str(s).ok()).collect())
    }
}

/// A list of turn JSON texts; unreadable turns are skipped.
fn parse_turns(list: Reply) -> Vec<Turn> {
    list.into_array().iter().filter_map(Reply::as_str).filter_map(|s| serde_json::from_str::<Turn>(s).ok()).collect()
}
