//! The in-process engine: one node, no Redis. Same semantics as the Redis
//! engine, kept in memory behind one short-held mutex per topic.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use dashmap::DashMap;

use crate::{BusConfig, BusError, BusEvent, Deliver, Entry, HistoryDir, HistoryPage, Position, Topic, new_epoch};

/// The in-process engine. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

struct Inner {
    config: BusConfig,
    topics: DashMap<Topic, Arc<Mutex<TopicState>>>,
    members: DashMap<String, BTreeSet<Topic>>,
    sink: OnceLock<Arc<dyn Deliver>>,
}

struct TopicState {
    epoch: Arc<str>,
    top: u64,
    history: VecDeque<Entry>,
    presence: BTreeMap<String, Bytes>,
    reads: HashMap<String, u64>,
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
        MemoryBus {
            inner: Arc::new(Inner { config, topics: DashMap::new(), members: DashMap::new(), sink: OnceLock::new() }),
        }
    }

    /// Sets the sink once; later calls are ignored.
    pub fn set_sink(&self, sink: Arc<dyn Deliver>) {
        let _ = self.inner.sink.set(sink);
    }

    fn topic(&self, topic: &Topic) -> Arc<Mutex<TopicState>> {
        self.inner
            .topics
            .entry(topic.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(TopicState {
                    epoch: new_epoch().into(),
                    top: 0,
                    history: VecDeque::new(),
                    presence: BTreeMap::new(),
                    reads: HashMap::new(),
                }))
            })
            .clone()
    }

    /// Publishes synchronously. Callers that must publish in step with their
    /// own state (the seat store) call this while holding their own lock, so
    /// their order is the offset order.
    pub fn publish_now(&self, topic: &Topic, data: Bytes) -> Position {
        let state = self.topic(topic);
        let mut st = lock(&state);
        st.top += 1;
        let offset = st.top;
        st.history.push_back(Entry { offset, data: data.clone() });
        while st.history.len() > self.inner.config.history_size {
            st.history.pop_front();
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

    pub(crate) async fn history(&self, topic: &Topic, dir: HistoryDir, limit: usize) -> Result<HistoryPage, BusError> {
        let state = self.topic(topic);
        let st = lock(&state);
        let first_available = st.history.front().map_or(st.top + 1, |e| e.offset);
        let entries = match dir {
            HistoryDir::After(after) => st.history.iter().filter(|e| e.offset > after).take(limit).cloned().collect(),
            HistoryDir::Before(before) => {
                st.history.iter().rev().filter(|e| before == 0 || e.offset < before).take(limit).cloned().collect()
            }
        };
        Ok(HistoryPage { position: Position { epoch: st.epoch.clone(), offset: st.top }, first_available, entries })
    }

    pub(crate) async fn subscribe_node(&self, _topic: &Topic) -> Result<(), BusError> {
        // One node: every publication is handed to the sink, which drops
        // topics nobody subscribes to.
        Ok(())
    }

    pub(crate) async fn unsubscribe_node(&self, _topic: &Topic) -> Result<(), BusError> {
        Ok(())
    }

    pub(crate) async fn presence_add(&self, topic: &Topic, session: &str, info: Bytes) -> Result<(), BusError> {
        let state = self.topic(topic);
        let mut st = lock(&state);
        if st.presence.insert(session.to_owned(), info.clone()).is_none()
            && let Some(sink) = self.inner.sink.get()
        {
            sink.deliver(topic, BusEvent::Join(info));
        }
        Ok(())
    }

    pub(crate) async fn presence_remove(&self, topic: &Topic, session: &str) -> Result<(), BusError> {
        let state = self.topic(topic);
        let mut st = lock(&state);
        if let Some(info) = st.presence.remove(session)
            && let Some(sink) = self.inner.sink.get()
        {
            sink.deliver(topic, BusEvent::Leave(info));
        }
        Ok(())
    }

    pub(crate) async fn presence_list(&self, topic: &Topic) -> Result<Vec<Bytes>, BusError> {
        let state = self.topic(topic);
        let st = lock(&state);
        Ok(st.presence.values().cloned().collect())
    }

    pub(crate) async fn add_member(&self, user: &str, topic: &Topic) -> Result<(), BusError> {
        self.inner.members.entry(user.to_owned()).or_default().insert(topic.clone());
        Ok(())
    }

    pub(crate) async fn mark_read(&self, topic: &Topic, user: &str, offset: u64) -> Result<u64, BusError> {
        let state = self.topic(topic);
        let mut st = lock(&state);
        let want = offset.min(st.top);
        let cur = st.reads.entry(user.to_owned()).or_insert(0);
        if want > *cur {
            *cur = want;
        }
        let cur = *cur;
        Ok(st.top - cur)
    }

    pub(crate) async fn unread(&self, user: &str) -> Result<Vec<(String, u64)>, BusError> {
        let rooms: Vec<Topic> =
            self.inner.members.get(user).map(|set| set.iter().cloned().collect()).unwrap_or_default();
        let mut out = Vec::with_capacity(rooms.len());
        for topic in rooms {
            let state = self.topic(&topic);
            let st = lock(&state);
            let read = st.reads.get(user).copied().unwrap_or(0);
            out.push((topic.as_str().to_owned(), st.top.saturating_sub(read)));
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

/// Locks a topic, recovering from poisoning: the state is plain data updated
/// in small steps, so a panic elsewhere cannot leave it half-written.
fn lock(m: &Mutex<TopicState>) -> std::sync::MutexGuard<'_, TopicState> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
