//! The in-process engine: one node, no Redis. Same semantics as the Redis
//! engine, kept in memory behind one short-held mutex per topic.
//!
//! Topic states are bounded: a state that is idle (this node is not
//! subscribed, nobody is present, and its history is empty or older than the
//! history TTL) is dropped at the next sweep, and at most
//! [`BusConfig::max_topic_states`] are kept (see [`MemoryBus::topic_count`]).
//! A dropped state is marked evicted under its mutex, so an operation that
//! raced with the sweep retries on a fresh state instead of writing into one
//! nobody can see.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;

use crate::idempotency::IdempotencyWindow;
use crate::{
    BusConfig, BusError, BusEvent, Deliver, Entry, HistoryDir, HistoryPage, Position, Published, Topic, new_epoch,
};

/// Fewest topic states at which a sweep of idle ones runs; after a sweep the
/// next one runs when the count has doubled (so sweeping is O(1) amortized
/// per new state), or at [`BusConfig::max_topic_states`].
pub const SWEEP_MIN_TOPIC_STATES: usize = 1024;

/// The in-process engine. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

struct Inner {
    config: BusConfig,
    topics: DashMap<Topic, Arc<Mutex<TopicState>>>,
    members: DashMap<String, Membership>,
    sink: OnceLock<Arc<dyn Deliver>>,
    /// The topic count at which the next sweep runs.
    next_sweep: AtomicUsize,
    /// The member count at which the next sweep of memberships runs.
    next_member_sweep: AtomicUsize,
}

/// The rooms a user joined (for unread counts), like Redis's
/// `mq:{user:<u>}:rooms`, which lives `history_ttl` after the last join.
struct Membership {
    rooms: BTreeSet<Topic>,
    last_join: Instant,
}

struct TopicState {
    epoch: Arc<str>,
    top: u64,
    history: VecDeque<Entry>,
    /// Payload bytes in `history`.
    history_bytes: usize,
    presence: BTreeMap<String, Bytes>,
    reads: HashMap<String, u64>,
    idempotency: IdempotencyWindow,
    /// `subscribe_node` calls not yet undone by `unsubscribe_node`.
    subscribers: usize,
    /// When the last publication was made (for the history TTL).
    last_publish: Option<Instant>,
    /// When any operation last used the state (for eviction at the cap).
    last_used: Instant,
    /// Removed from the map by a sweep: callers must look the topic up again.
    evicted: bool,
}

impl TopicState {
    fn new(now: Instant) -> TopicState {
        TopicState {
            epoch: new_epoch().into(),
            top: 0,
            history: VecDeque::new(),
            history_bytes: 0,
            presence: BTreeMap::new(),
            reads: HashMap::new(),
            idempotency: IdempotencyWindow::default(),
            subscribers: 0,
            last_publish: None,
            last_used: now,
            evicted: false,
        }
    }

    /// Whether dropping the state loses nothing a client could still get:
    /// no subscribers on this node, nobody present, and no history, or
    /// history the Redis engine would have let expire (its stream and epoch
    /// live `history_ttl` after the last publication).
    fn idle(&self, now: Instant, history_ttl: Duration) -> bool {
        let history_gone = self.history.is_empty()
            || (!history_ttl.is_zero()
                && self.last_publish.is_some_and(|t| now.saturating_duration_since(t) >= history_ttl));
        self.subscribers == 0 && self.presence.is_empty() && history_gone
    }
}

impl MemoryBus {
    /// A new, empty engine delivering to `sink`.
    pub fn new(config: BusConfig, sink: Arc<dyn Deliver>) -> MemoryBus {
        let bus = MemoryBus::detached(config);
        let _ = bus.inner.sink.set(sink);
        bus
    }

    /// A new engine whose sink is set later with [`MemoryBus::set_sink`].
    pub fn detached(config: BusConfig) -> MemoryBus {
        let first_sweep = SWEEP_MIN_TOPIC_STATES.min(config.max_topic_states.max(1));
        let first_member_sweep = SWEEP_MIN_TOPIC_STATES.min(config.max_members.max(1));
        MemoryBus {
            inner: Arc::new(Inner {
                config,
                topics: DashMap::new(),
                members: DashMap::new(),
                sink: OnceLock::new(),
                next_sweep: AtomicUsize::new(first_sweep),
                next_member_sweep: AtomicUsize::new(first_member_sweep),
            }),
        }
    }

    /// Sets the sink once; later calls are ignored.
    pub fn set_sink(&self, sink: Arc<dyn Deliver>) {
        let _ = self.inner.sink.set(sink);
    }

    /// How many topic states the engine holds now (for tests and metrics).
    /// Every name a client touches creates one; idle ones are swept when the
    /// count doubles, and at [`BusConfig::max_topic_states`] the least
    /// recently used states this node is not subscribed to are evicted.
    pub fn topic_count(&self) -> usize {
        self.inner.topics.len()
    }

    /// How many users' room memberships the engine holds now (for tests and
    /// metrics). Memberships older than the history TTL are swept when the
    /// count doubles, and at [`BusConfig::max_members`] the users who joined
    /// a room least recently are forgotten (their unread list empties).
    pub fn member_count(&self) -> usize {
        self.inner.members.len()
    }

    /// Drops memberships whose last join is older than the history TTL (all
    /// but `keep`'s), then, at the cap, those of the users who joined least
    /// recently, down to fifteen sixteenths of the cap.
    fn sweep_members(&self, keep: &str) {
        let now = Instant::now();
        let ttl = self.inner.config.history_ttl;
        let cap = self.inner.config.max_members.max(1);
        if !ttl.is_zero() {
            self.inner.members.retain(|u, m| u == keep || now.saturating_duration_since(m.last_join) < ttl);
        }
        let len = self.inner.members.len();
        if len >= cap {
            let mut oldest: Vec<(Instant, String)> = self
                .inner
                .members
                .iter()
                .filter(|e| e.key() != keep)
                .map(|e| (e.value().last_join, e.key().clone()))
                .collect();
            oldest.sort_unstable();
            for (_, user) in oldest.into_iter().take(len.saturating_sub(cap - cap / 16).max(1)) {
                self.inner.members.remove(&user);
            }
        }
        let len = self.inner.members.len();
        let next = if len >= cap { len + (cap / 16).max(1) } else { (2 * len).max(SWEEP_MIN_TOPIC_STATES).min(cap) };
        self.inner.next_member_sweep.store(next, Ordering::Relaxed);
    }

    /// Runs `f` on `topic`'s state under its mutex, creating the state when
    /// missing and retrying when a sweep evicted it meanwhile.
    fn with_topic<R>(&self, topic: &Topic, mut f: impl FnMut(&mut TopicState) -> R) -> R {
        loop {
            let state = self.state(topic);
            let mut st = lock(&state);
            if st.evicted {
                continue;
            }
            st.last_used = Instant::now();
            return f(&mut st);
        }
    }

    fn state(&self, topic: &Topic) -> Arc<Mutex<TopicState>> {
        if let Some(state) = self.inner.topics.get(topic) {
            return state.clone();
        }
        let state = match self.inner.topics.entry(topic.clone()) {
            MapEntry::Occupied(e) => return e.get().clone(),
            MapEntry::Vacant(v) => v.insert(Arc::new(Mutex::new(TopicState::new(Instant::now())))).clone(),
        };
        // The map's shard lock is released here: a sweep takes them all.
        if self.inner.topics.len() >= self.inner.next_sweep.load(Ordering::Relaxed) {
            self.sweep(topic);
        }
        state
    }

    /// Drops idle states (all but `keep`, the one just created for a caller),
    /// then, at the cap, evicts the least recently used states this node is
    /// not subscribed to, down to fifteen sixteenths of the cap (a batch, so
    /// the scan is amortized). A state whose mutex is held is in use: kept.
    fn sweep(&self, keep: &Topic) {
        let now = Instant::now();
        let ttl = self.inner.config.history_ttl;
        let cap = self.inner.config.max_topic_states.max(1);
        self.inner.topics.retain(|t, state| t == keep || !evict_if(state, |st| st.idle(now, ttl)));
        let len = self.inner.topics.len();
        if len >= cap {
            let mut candidates: Vec<(Instant, Topic)> = self
                .inner
                .topics
                .iter()
                .filter(|e| e.key() != keep)
                .filter_map(|e| {
                    let st = e.value().try_lock().ok()?;
                    (st.subscribers == 0).then(|| (st.last_used, e.key().clone()))
                })
                .collect();
            candidates.sort_unstable_by_key(|(used, _)| *used);
            let target = cap - cap / 16;
            let excess = len.saturating_sub(target).max(1);
            for (_, t) in candidates.into_iter().take(excess) {
                self.inner.topics.remove_if(&t, |_, state| evict_if(state, |st| st.subscribers == 0));
            }
        }
        let len = self.inner.topics.len();
        let next = if len >= cap { len + (cap / 16).max(1) } else { (2 * len).max(SWEEP_MIN_TOPIC_STATES).min(cap) };
        self.inner.next_sweep.store(next, Ordering::Relaxed);
    }

    /// Publishes synchronously. Callers that must publish in step with their
    /// own state (the seat store) call this while holding their own lock, so
    /// their order is the offset order.
    pub fn publish_now(&self, topic: &Topic, data: Bytes) -> Position {
        self.with_topic(topic, |st| self.append(topic, st, data.clone()))
    }

    /// Assigns the next offset, appends to the bounded history and delivers,
    /// all under the topic's mutex.
    fn append(&self, topic: &Topic, st: &mut TopicState, data: Bytes) -> Position {
        let c = &self.inner.config;
        st.top += 1;
        let offset = st.top;
        st.last_publish = Some(st.last_used);
        st.history_bytes += data.len();
        st.history.push_back(Entry { offset, data: data.clone() });
        // Oldest first, by count and by bytes; the newest is kept even when
        // it alone is over the byte budget (a count of 0 keeps nothing).
        while st.history.len() > c.history_size || (st.history_bytes > c.history_bytes && st.history.len() > 1) {
            if let Some(old) = st.history.pop_front() {
                st.history_bytes -= old.data.len();
            }
        }
        let epoch = st.epoch.clone();
        // Delivering under the topic lock keeps delivery in offset order when
        // several tasks publish to one topic at once; the sink only queues.
        if let Some(sink) = self.inner.sink.get() {
            sink.deliver(topic, BusEvent::Publication { offset, epoch: epoch.clone(), data });
        }
        Position { epoch, offset }
    }

    pub(crate) async fn publish(&self, topic: &Topic, data: Bytes) -> Result<Position, BusError> {
        Ok(self.publish_now(topic, data))
    }

    pub(crate) async fn publish_idempotent(
        &self,
        topic: &Topic,
        data: Bytes,
        key: &str,
    ) -> Result<Published, BusError> {
        let (window, cap) = (self.inner.config.idempotency_window, self.inner.config.max_idempotency_keys);
        Ok(self.with_topic(topic, |st| {
            let now = st.last_used;
            if let Some(offset) = st.idempotency.get(key, now) {
                return Published { position: Position { epoch: st.epoch.clone(), offset }, duplicate: true };
            }
            let position = self.append(topic, st, data.clone());
            st.idempotency.remember(key, position.offset, now, window, cap);
            Published { position, duplicate: false }
        }))
    }

    pub(crate) async fn history(&self, topic: &Topic, dir: HistoryDir, limit: usize) -> Result<HistoryPage, BusError> {
        Ok(self.with_topic(topic, |st| {
            let first_available = st.history.front().map_or(st.top + 1, |e| e.offset);
            let entries = match dir {
                HistoryDir::After(after) => {
                    st.history.iter().filter(|e| e.offset > after).take(limit).cloned().collect()
                }
                HistoryDir::Before(before) => {
                    st.history.iter().rev().filter(|e| before == 0 || e.offset < before).take(limit).cloned().collect()
                }
            };
            HistoryPage { position: Position { epoch: st.epoch.clone(), offset: st.top }, first_available, entries }
        }))
    }

    pub(crate) async fn subscribe_node(&self, topic: &Topic) -> Result<(), BusError> {
        // One node: every publication is handed to the sink, which drops
        // topics nobody subscribes to. Counting subscriptions keeps the
        // topic's state (its epoch) while someone listens.
        self.with_topic(topic, |st| st.subscribers += 1);
        Ok(())
    }

    pub(crate) async fn unsubscribe_node(&self, topic: &Topic) -> Result<(), BusError> {
        if let Some(state) = self.inner.topics.get(topic).map(|s| s.clone()) {
            let mut st = lock(&state);
            st.subscribers = st.subscribers.saturating_sub(1);
        }
        Ok(())
    }

    pub(crate) fn node_topics(&self) -> Vec<Topic> {
        self.inner.topics.iter().filter(|e| lock(e.value()).subscribers > 0).map(|e| e.key().clone()).collect()
    }

    pub(crate) async fn presence_add(&self, topic: &Topic, session: &str, info: Bytes) -> Result<(), BusError> {
        self.with_topic(topic, |st| {
            if st.presence.insert(session.to_owned(), info.clone()).is_none()
                && let Some(sink) = self.inner.sink.get()
            {
                sink.deliver(topic, BusEvent::Join(info.clone()));
            }
        });
        Ok(())
    }

    pub(crate) async fn presence_remove(&self, topic: &Topic, session: &str) -> Result<(), BusError> {
        self.with_topic(topic, |st| {
            if let Some(info) = st.presence.remove(session)
                && let Some(sink) = self.inner.sink.get()
            {
                sink.deliver(topic, BusEvent::Leave(info));
            }
        });
        Ok(())
    }

    pub(crate) async fn presence_list(&self, topic: &Topic) -> Result<Vec<Bytes>, BusError> {
        Ok(self.with_topic(topic, |st| st.presence.values().cloned().collect()))
    }

    pub(crate) async fn add_member(&self, user: &str, topic: &Topic) -> Result<(), BusError> {
        let now = Instant::now();
        let created = match self.inner.members.entry(user.to_owned()) {
            MapEntry::Occupied(mut e) => {
                let m = e.get_mut();
                m.rooms.insert(topic.clone());
                m.last_join = now;
                false
            }
            MapEntry::Vacant(v) => {
                v.insert(Membership { rooms: BTreeSet::from([topic.clone()]), last_join: now });
                true
            }
        };
        // The map's shard lock is released here: a sweep takes them all.
        if created && self.inner.members.len() >= self.inner.next_member_sweep.load(Ordering::Relaxed) {
            self.sweep_members(user);
        }
        Ok(())
    }

    pub(crate) async fn mark_read(&self, topic: &Topic, user: &str, offset: u64) -> Result<u64, BusError> {
        Ok(self.with_topic(topic, |st| {
            let want = offset.min(st.top);
            let cur = st.reads.get(user).copied().unwrap_or(0);
            if want > cur {
                st.reads.insert(user.to_owned(), want);
                return st.top - want;
            }
            st.top - cur
        }))
    }

    pub(crate) async fn unread(&self, user: &str) -> Result<Vec<(String, u64)>, BusError> {
        let rooms: Vec<Topic> =
            self.inner.members.get(user).map(|m| m.rooms.iter().cloned().collect()).unwrap_or_default();
        let mut out = Vec::with_capacity(rooms.len());
        for topic in rooms {
            let unread = self.with_topic(&topic, |st| st.top.saturating_sub(st.reads.get(user).copied().unwrap_or(0)));
            out.push((topic.as_str().to_owned(), unread));
        }
        out.sort();
        Ok(out)
    }

    pub(crate) fn is_ready(&self) -> bool {
        true
    }

    pub(crate) async fn probe(&self, _deadline: std::time::Duration) -> bool {
        true
    }
}

/// Marks a state evicted and answers true when `pred` holds for it and its
/// mutex is free (a held mutex means an operation is using it: kept).
fn evict_if(state: &Mutex<TopicState>, pred: impl FnOnce(&TopicState) -> bool) -> bool {
    let mut st = match state.try_lock() {
        Ok(st) => st,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return false,
    };
    if pred(&st) {
        st.evicted = true;
        return true;
    }
    false
}

/// Locks a topic, recovering from poisoning: the state is plain data updated
/// in small steps, so a panic elsewhere cannot leave it half-written.
fn lock(m: &Mutex<TopicState>) -> std::sync::MutexGuard<'_, TopicState> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
