//! The chat queue in process (one node): a bounded queue of requests with
//! the same fences, journal and conversations as the Redis engine, under one
//! mutex. State older than [`STATE_TTL`] is forgotten.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bus::MemoryBus;
use bytes::Bytes;

use super::{
    Accepted, BLOCK, Begin, ChatError, Conversation, Entry, Fence, HoldWarning, MAX_TURNS, Request, STATE_TTL,
    user_topic,
};

#[derive(Default)]
struct MessageState {
    attempt: u32,
    done: bool,
    apologized: bool,
    /// The last attempt that began streaming output.
    output: u32,
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
    /// Requests that can never be answered, newest last; at most
    /// [`DEAD_LETTER_KEEP`] (the oldest is dropped).
    dead: VecDeque<(Entry, String)>,
    next_id: u64,
}

/// How many dead-lettered requests the in-process engine keeps.
const DEAD_LETTER_KEEP: usize = 1000;

/// The in-process engine (one node).
pub struct MemoryQueue {
    bus: MemoryBus,
    max: usize,
    state: Mutex<MemoryState>,
    arrived: tokio::sync::Notify,
}

impl MemoryQueue {
    pub(super) fn new(bus: MemoryBus, max: usize) -> MemoryQueue {
        MemoryQueue { bus, max, state: Mutex::new(MemoryState::default()), arrived: tokio::sync::Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) async fn accept(&self, req: &Request, echo: String) -> Result<Accepted, ChatError> {
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

    pub(super) async fn read(&self, consumer: &str, count: usize) -> Result<Vec<Entry>, ChatError> {
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

    /// The in-progress map is scanned from its start every time (claimed
    /// entries are no longer idle): the cursor only says whether to go on.
    pub(super) async fn claim(
        &self,
        consumer: &str,
        idle: Duration,
        count: usize,
        _cursor: &str,
    ) -> Result<(Vec<Entry>, String), ChatError> {
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
        let more = if count > 0 && out.len() == count { "more" } else { bus::CLAIM_START };
        Ok((out, more.to_owned()))
    }

    pub(super) async fn touch(&self, consumer: &str, id: &str) -> Result<(), ChatError> {
        if let Some((_, owner, touched)) = self.lock().pending.get_mut(id) {
            *owner = consumer.to_owned();
            *touched = Instant::now();
        }
        Ok(())
    }

    pub(super) async fn ack(&self, id: &str) -> Result<(), ChatError> {
        self.lock().pending.remove(id);
        Ok(())
    }

    pub(super) async fn dead_letter(&self, entry: &Entry, reason: &str) -> Result<(), ChatError> {
        let mut s = self.lock();
        s.pending.remove(&entry.id);
        if s.dead.len() == DEAD_LETTER_KEEP {
            s.dead.pop_front();
        }
        s.dead.push_back((entry.clone(), reason.to_owned()));
        Ok(())
    }

    pub(super) async fn dead_letters(&self) -> Result<u64, ChatError> {
        Ok(self.lock().dead.len() as u64)
    }

    pub(super) async fn depth(&self) -> Result<u64, ChatError> {
        let s = self.lock();
        Ok((s.waiting.len() + s.pending.len()) as u64)
    }

    pub(super) async fn begin(&self, req: &Request) -> Result<(Begin, Conversation), ChatError> {
        let conv = self.conversation(&req.user, &req.conversation).await?;
        let mut s = self.lock();
        let m = s.messages.entry((req.user.clone(), req.message_id.clone())).or_default();
        if m.done {
            return Ok((Begin::Done, conv));
        }
        m.attempt += 1;
        let restart = m.attempt > 1 && m.output == m.attempt - 1;
        Ok((Begin::Attempt { attempt: m.attempt, restart }, conv))
    }

    pub(super) async fn publish(&self, req: &Request, fence: Fence, payload: String) -> Result<bool, ChatError> {
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
                Fence::Attempt(a) | Fence::Output(a) | Fence::Final(a, _) if m.attempt != *a => return Ok(false),
                Fence::Output(a) => m.output = *a,
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

    pub(super) async fn conversation(&self, user: &str, conversation: &str) -> Result<Conversation, ChatError> {
        let s = self.lock();
        Ok(s.conversations
            .get(&(user.to_owned(), conversation.to_owned()))
            .filter(|(_, at)| at.elapsed() < STATE_TTL)
            .map(|(c, _)| c.clone())
            .unwrap_or_default())
    }

    pub(super) async fn journal_get(
        &self,
        user: &str,
        message_id: &str,
        call: &str,
    ) -> Result<Option<String>, ChatError> {
        let s = self.lock();
        Ok(s.messages.get(&(user.to_owned(), message_id.to_owned())).and_then(|m| m.journal.get(call).cloned()))
    }

    pub(super) async fn journal_put(
        &self,
        user: &str,
        message_id: &str,
        call: &str,
        value: &str,
    ) -> Result<(), ChatError> {
        let mut s = self.lock();
        let m = s.messages.entry((user.to_owned(), message_id.to_owned())).or_default();
        m.journal.insert(call.to_owned(), value.to_owned());
        Ok(())
    }

    pub(super) async fn schedule_warning(&self, at: i64, w: &HoldWarning) -> Result<(), ChatError> {
        self.lock().warnings.push((at, w.clone()));
        Ok(())
    }

    pub(super) async fn due_warnings(&self, now: i64) -> Result<Vec<HoldWarning>, ChatError> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(id: &str) -> Request {
        Request {
            user: "u1".into(),
            message_id: id.into(),
            conversation: "c1".into(),
            text: "hi".into(),
            locale: None,
            context: Default::default(),
            voice: false,
            accepted_at: 0,
        }
    }

    async fn begin(q: &MemoryQueue, req: &Request) -> (u32, bool) {
        match q.begin(req).await.unwrap().0 {
            Begin::Attempt { attempt, restart } => (attempt, restart),
            Begin::Done => panic!("answered"),
        }
    }

    #[tokio::test]
    async fn only_an_attempt_after_one_that_streamed_output_is_a_restart() {
        let q = MemoryQueue::new(MemoryBus::detached(bus::BusConfig::default()), 10);
        let req = request("m1");
        assert_eq!(q.accept(&req, "{}".into()).await.unwrap(), Accepted::Queued(1));
        assert_eq!(begin(&q, &req).await, (1, false));
        assert_eq!(begin(&q, &req).await, (2, false), "attempt 1 showed nothing");
        let output = |a| q.publish(&req, Fence::Output(a), "{}".into());
        assert!(!output(1).await.unwrap(), "a superseded attempt's output is fenced out");
        assert!(output(2).await.unwrap());
        assert_eq!(begin(&q, &req).await, (3, true), "attempt 2 streamed output");
        assert_eq!(begin(&q, &req).await, (4, false), "attempt 3 did not");
    }

    #[tokio::test]
    async fn a_claim_says_whether_more_idle_requests_may_be_left() {
        let q = MemoryQueue::new(MemoryBus::detached(bus::BusConfig::default()), 10);
        for i in 0..3 {
            q.accept(&request(&format!("m{i}")), "{}".into()).await.unwrap();
        }
        assert_eq!(q.read("dead", 10).await.unwrap().len(), 3);
        let (first, more) = q.claim("live", Duration::ZERO, 2, bus::CLAIM_START).await.unwrap();
        assert_eq!(first.len(), 2);
        assert_ne!(more, bus::CLAIM_START, "a full batch: go on");
        let (rest, done) = q.claim("live", Duration::from_secs(60), 2, &more).await.unwrap();
        assert!(rest.is_empty(), "the claimed ones are not idle");
        assert_eq!(done, bus::CLAIM_START);
    }
}
