//! The topic bus: assigns per-topic offsets, keeps bounded history, tracks
//! presence and read positions, and delivers every publication to the nodes
//! that have subscribers for its topic, in offset order.
//!
//! Two engines sit behind [`Bus`]: [`MemoryBus`] for a single node with no
//! Redis, and [`RedisBus`] for any number of nodes sharing one Redis. Both
//! pass the same test suite (`tests/it`). The bus knows nothing of WebSocket
//! sessions: it hands events to one [`Deliver`] sink per node (the gateway's
//! hub), which does the local fan-out.
//!
//! The bus also owns the Redis keyspace for everyone: the key names
//! ([`keys`]), the one Redis Functions library every script lives in
//! ([`functions`], `bus/lua/*.lua`), the handle other crates reach Redis
//! through ([`RedisHandle`]) and the stream consumer-group helper
//! ([`WorkQueue`]). No other crate depends on the Redis client.

pub mod functions;
mod handle;
mod idempotency;
pub mod keys;
mod memory;
mod redis;
mod topic;
mod workqueue;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use functions::Function;
pub use handle::{Arg, RedisHandle, Reply};
pub use memory::{MemoryBus, SWEEP_MIN_TOPIC_STATES};
pub use redis::RedisBus;
pub use topic::{MAX_TOPIC_ID_LEN, Topic, TopicError, TopicKind};
pub use workqueue::{CLAIM_START, DEAD_LETTER_MAXLEN, WorkItem, WorkQueue};

/// Tunables shared by both engines.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Publications kept per topic for recovery and paging (`XADD MAXLEN`).
    pub history_size: usize,
    /// Payload bytes kept per topic: past it the oldest publications are
    /// trimmed (the newest is always kept), like past `history_size`.
    pub history_bytes: usize,
    /// How long an idle topic's history and epoch are kept (0 = forever).
    pub history_ttl: Duration,
    /// How long a presence entry lives without being refreshed by its node.
    pub presence_ttl: Duration,
    /// How long a publication's idempotency key is remembered
    /// ([`Bus::publish_idempotent`]).
    pub idempotency_window: Duration,
    /// Most idempotency keys remembered per topic; past it the oldest is
    /// forgotten first (a retry of that publication would publish again).
    pub max_idempotency_keys: usize,
    /// In-process engine only: most topic states kept; past it, states are
    /// evicted (see [`MemoryBus::topic_count`]). Redis keys expire instead.
    pub max_topic_states: usize,
    /// In-process engine only: most users whose room memberships (for
    /// unread counts) are kept; past it, those who joined least recently
    /// are forgotten (see [`MemoryBus::member_count`]). Redis keys expire instead.
    pub max_members: usize,
}

/// Default for [`BusConfig::history_size`].
pub const DEFAULT_HISTORY_SIZE: usize = 1000;
/// Default for [`BusConfig::history_ttl`]: a week.
pub const DEFAULT_HISTORY_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default for [`BusConfig::presence_ttl`].
pub const DEFAULT_PRESENCE_TTL: Duration = Duration::from_secs(60);
/// Default for [`BusConfig::history_bytes`]: 1 MiB of payload per topic.
/// Publishing functions of the seat store and the chat queue, which do not
/// pass a budget, get this one (`bus/lua/publish.lua` holds the same number).
pub const DEFAULT_HISTORY_BYTES: usize = 1024 * 1024;
/// Default for [`BusConfig::idempotency_window`]: five minutes.
pub const DEFAULT_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(300);
/// Default for [`BusConfig::max_idempotency_keys`].
pub const DEFAULT_MAX_IDEMPOTENCY_KEYS: usize = 10_000;
/// Longest idempotency key the bus accepts, in bytes (the gateway scopes a
/// client's 64-byte key by its user id, so it passes at most 129).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 160;
/// Default for [`BusConfig::max_topic_states`].
pub const DEFAULT_MAX_TOPIC_STATES: usize = 100_000;
/// Default for [`BusConfig::max_members`].
pub const DEFAULT_MAX_MEMBERS: usize = 100_000;

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            history_size: DEFAULT_HISTORY_SIZE,
            history_bytes: DEFAULT_HISTORY_BYTES,
            history_ttl: DEFAULT_HISTORY_TTL,
            presence_ttl: DEFAULT_PRESENCE_TTL,
            idempotency_window: DEFAULT_IDEMPOTENCY_WINDOW,
            max_idempotency_keys: DEFAULT_MAX_IDEMPOTENCY_KEYS,
            max_topic_states: DEFAULT_MAX_TOPIC_STATES,
            max_members: DEFAULT_MAX_MEMBERS,
        }
    }
}

/// The answer to an idempotent publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Where the publication is: for a duplicate, the first one's position.
    pub position: Position,
    /// True when the key was seen within the window: nothing new was
    /// published, `position` is the earlier publication's.
    pub duplicate: bool,
}

/// Where a topic's stream stands: its epoch (changes when history is lost,
/// e.g. Redis restarted empty) and its last assigned offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Identifies one continuous life of the topic's history.
    pub epoch: Arc<str>,
    /// The last assigned offset (0 before the first publication).
    pub offset: u64,
}

/// One stored publication: its offset and its data (a JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Offset in the topic, starting at 1.
    pub offset: u64,
    /// The published JSON value, verbatim.
    pub data: Bytes,
}

/// An atomic read of a topic's position and a slice of its history.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The position at the time of the read.
    pub position: Position,
    /// Oldest offset still stored (`position.offset + 1` when none is).
    pub first_available: u64,
    /// The entries read: ascending for [`Bus::history_after`], descending for
    /// [`Bus::history_before`].
    pub entries: Vec<Entry>,
}

/// Something the bus hands to a node's sink.
#[derive(Debug, Clone)]
pub enum BusEvent {
    /// A publication with its offset and the topic's epoch.
    Publication {
        /// Offset in the topic.
        offset: u64,
        /// The topic's epoch when it was published.
        epoch: Arc<str>,
        /// The published JSON value, verbatim.
        data: Bytes,
    },
    /// A client joined the topic's presence (its info JSON).
    Join(Bytes),
    /// A client left the topic's presence (its info JSON).
    Leave(Bytes),
}

/// The node-side receiver of bus events (the gateway's hub).
pub trait Deliver: Send + Sync + 'static {
    /// Called in topic order for every event of a topic this node subscribed to.
    /// Must not block: it only queues.
    fn deliver(&self, topic: &Topic, event: BusEvent);
    /// Called when the engine may have lost events (reconnect, lagging): the
    /// sink must compare every topic's position with what it delivered.
    fn resync(&self);
}

/// Errors of the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Redis could not be reached or answered with an error (the client's
    /// message, which carries Redis's own error text).
    #[error("redis: {0}")]
    Redis(String),
    /// Redis answered something the engine did not expect.
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
    /// An idempotency key was empty or longer than [`MAX_IDEMPOTENCY_KEY_LEN`].
    #[error("idempotency key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} bytes")]
    BadIdempotencyKey,
}

impl From<fred::error::Error> for BusError {
    fn from(e: fred::error::Error) -> BusError {
        BusError::Redis(format!("{:?}: {}", e.kind(), e.details()))
    }
}

/// The bus, with either engine behind it. Cheap to clone.
#[derive(Clone)]
pub enum Bus {
    /// Single node, in process.
    Memory(MemoryBus),
    /// Any number of nodes over Redis.
    Redis(RedisBus),
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $e:expr) => {
        match $self {
            Bus::Memory($b) => $e,
            Bus::Redis($b) => $e,
        }
    };
}

impl Bus {
    /// Publishes `data` (a JSON text) to `topic`; returns its position.
    pub async fn publish(&self, topic: &Topic, data: Bytes) -> Result<Position, BusError> {
        dispatch!(self, b => b.publish(topic, data).await)
    }

    /// Publishes `data` to `topic` unless a publication with the same `key`
    /// was made on `topic` within [`BusConfig::idempotency_window`]; then
    /// publishes nothing and answers that publication's position with
    /// `duplicate: true`. The check and the publish are one atomic step, so a
    /// retry that reaches the engine after (or while) the first attempt runs
    /// never publishes twice. Keys are opaque; at most
    /// [`BusConfig::max_idempotency_keys`] per topic are remembered (oldest forgotten first).
    ///
    /// # Errors
    /// [`BusError::BadIdempotencyKey`] for an empty or too long key (nothing
    /// is sent); otherwise those of [`Bus::publish`].
    pub async fn publish_idempotent(&self, topic: &Topic, data: Bytes, key: &str) -> Result<Published, BusError> {
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
            return Err(BusError::BadIdempotencyKey);
        }
        dispatch!(self, b => b.publish_idempotent(topic, data, key).await)
    }

    /// Reads the position and up to `limit` entries with offsets above `after`.
    pub async fn history_after(&self, topic: &Topic, after: u64, limit: usize) -> Result<HistoryPage, BusError> {
        dispatch!(self, b => b.history(topic, HistoryDir::After(after), limit).await)
    }

    /// Reads the position and up to `limit` entries below `before` (newest
    /// first; `None` starts from the newest).
    pub async fn history_before(
        &self,
        topic: &Topic,
        before: Option<u64>,
        limit: usize,
    ) -> Result<HistoryPage, BusError> {
        dispatch!(self, b => b.history(topic, HistoryDir::Before(before.unwrap_or(0)), limit).await)
    }

    /// Starts delivering `topic`'s events to this node's sink.
    pub async fn subscribe_node(&self, topic: &Topic) -> Result<(), BusError> {
        dispatch!(self, b => b.subscribe_node(topic).await)
    }

    /// Stops delivering `topic`'s events to this node.
    pub async fn unsubscribe_node(&self, topic: &Topic) -> Result<(), BusError> {
        dispatch!(self, b => b.unsubscribe_node(topic).await)
    }

    /// The topics this node is subscribed to as the engine tracks them
    /// (with Redis: the channels the subscriber connection subscribes again
    /// after a reconnect, including one whose `unsubscribe_node` failed).
    pub fn node_topics(&self) -> Vec<Topic> {
        dispatch!(self, b => b.node_topics())
    }

    /// Adds (or refreshes) a session's presence in `topic`.
    pub async fn presence_add(&self, topic: &Topic, session: &str, info: Bytes) -> Result<(), BusError> {
        dispatch!(self, b => b.presence_add(topic, session, info).await)
    }

    /// Removes a session's presence from `topic`.
    pub async fn presence_remove(&self, topic: &Topic, session: &str) -> Result<(), BusError> {
        dispatch!(self, b => b.presence_remove(topic, session).await)
    }

    /// Lists the presence info of every live session in `topic`.
    pub async fn presence_list(&self, topic: &Topic) -> Result<Vec<Bytes>, BusError> {
        dispatch!(self, b => b.presence_list(topic).await)
    }

    /// Records that `user` is a member of room `topic` (for unread counts).
    pub async fn add_member(&self, user: &str, topic: &Topic) -> Result<(), BusError> {
        dispatch!(self, b => b.add_member(user, topic).await)
    }

    /// Marks `topic` read up to `offset` for `user`; returns the unread count.
    pub async fn mark_read(&self, topic: &Topic, user: &str, offset: u64) -> Result<u64, BusError> {
        dispatch!(self, b => b.mark_read(topic, user, offset).await)
    }

    /// Unread counts of every room `user` is a member of, sorted by topic.
    pub async fn unread(&self, user: &str) -> Result<Vec<(String, u64)>, BusError> {
        dispatch!(self, b => b.unread(user).await)
    }

    /// Whether the engine's connections are up (Redis connected). Cheap; it
    /// does not notice a Redis that is connected but stalled: see [`Bus::probe`].
    pub fn is_ready(&self) -> bool {
        dispatch!(self, b => b.is_ready())
    }

    /// Whether the engine serves now: connected, and Redis answers a `PING`
    /// within `deadline`. What `/readyz` asks.
    pub async fn probe(&self, deadline: std::time::Duration) -> bool {
        dispatch!(self, b => b.probe(deadline).await)
    }
}

/// Which slice of history to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HistoryDir {
    /// Offsets above this one, ascending.
    After(u64),
    /// Offsets below this one (0 = from the newest), descending.
    Before(u64),
}

/// A fresh random epoch: 8 hex digits.
pub(crate) fn new_epoch() -> String {
    format!("{:08x}", rand::random::<u32>())
}
