//! Local fan-out: which sessions of this node subscribe to which topic, and
//! the queue (mailbox) of each. The bus hands every event to the hub, which
//! encodes it once and shares the bytes with every local subscriber.
//!
//! The hub never blocks and never awaits: a subscriber whose queue is full is
//! marked slow (its session then closes with 4008) and does not delay anyone.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use bus::{BusEvent, Deliver, Topic};
use dashmap::DashMap;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::wire;

/// A session's id, unique within this node.
pub type SessionId = u64;

/// One publication as every local subscriber of its topic receives it.
#[derive(Debug)]
pub struct Delivery {
    /// The topic.
    pub topic: Topic,
    /// Its offset in the topic.
    pub offset: u64,
    /// The topic's epoch.
    pub epoch: Arc<str>,
    /// The encoded `pub` frame, shared by all subscribers.
    pub frame: Utf8Bytes,
}

/// What the hub puts in a session's queue.
#[derive(Debug)]
pub enum Outbound {
    /// A publication.
    Pub(Arc<Delivery>),
    /// An event without an offset (presence join/leave) for a topic.
    Event(Arc<(Topic, Utf8Bytes)>),
    /// After a bus resync: where the topic stands now; the session repairs
    /// any gap from history or tells the client to refetch.
    Position(Arc<(Topic, bus::Position)>),
}

impl Outbound {
    /// Bytes this item holds in the queue (counted against the byte budget).
    pub fn queued_bytes(&self) -> usize {
        match self {
            Outbound::Pub(d) => d.frame.len(),
            Outbound::Event(e) => e.1.len(),
            Outbound::Position(_) => 0,
        }
    }
}

/// The sending side of a session's bounded queue, as the hub holds it.
#[derive(Clone)]
pub struct Mailbox {
    /// The session's id.
    pub id: SessionId,
    tx: mpsc::Sender<Outbound>,
    shared: Arc<MailboxShared>,
}

/// State shared by a mailbox and its session.
pub struct MailboxShared {
    /// Bytes queued and not yet written to the socket.
    pub queued_bytes: AtomicUsize,
    /// Cancelled when the queue overflowed: the session must close (4008).
    pub slow: CancellationToken,
    max_bytes: usize,
}

impl Mailbox {
    /// A mailbox with room for `capacity` items and `max_bytes` bytes.
    pub fn new(id: SessionId, capacity: usize, max_bytes: usize) -> (Mailbox, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity);
        let shared =
            Arc::new(MailboxShared { queued_bytes: AtomicUsize::new(0), slow: CancellationToken::new(), max_bytes });
        (Mailbox { id, tx, shared }, rx)
    }

    /// The state shared with the session.
    pub fn shared(&self) -> &Arc<MailboxShared> {
        &self.shared
    }

    /// Queues `item` without waiting. On overflow the mailbox is marked slow
    /// and the item is dropped; returns whether it was queued.
    pub fn push(&self, item: Outbound, metrics: &Metrics) -> bool {
        if self.shared.slow.is_cancelled() {
            return false;
        }
        let len = item.queued_bytes();
        let queued = self.shared.queued_bytes.fetch_add(len, Ordering::Relaxed) + len;
        if queued > self.shared.max_bytes || self.tx.try_send(item).is_err() {
            self.shared.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            metrics.drops.fetch_add(1, Ordering::Relaxed);
            self.shared.slow.cancel();
            return false;
        }
        true
    }
}

/// Local subscribers per topic.
pub struct Hub {
    topics: DashMap<Topic, HashMap<SessionId, Mailbox>>,
    metrics: Arc<Metrics>,
    resync: Notify,
}

impl Hub {
    /// An empty hub.
    pub fn new(metrics: Arc<Metrics>) -> Hub {
        Hub { topics: DashMap::new(), metrics, resync: Notify::new() }
    }

    /// Adds a subscriber to a topic.
    pub fn add(&self, topic: &Topic, mailbox: Mailbox) {
        self.topics.entry(topic.clone()).or_default().insert(mailbox.id, mailbox);
    }

    /// Removes a subscriber; returns true when the topic has none left here.
    pub fn remove(&self, topic: &Topic, id: SessionId) -> bool {
        let removed = self.topics.remove_if_mut(topic, |_, subs| {
            subs.remove(&id);
            subs.is_empty()
        });
        removed.is_some() || !self.topics.contains_key(topic)
    }

    /// Topics with at least one local subscriber.
    pub fn topics(&self) -> Vec<Topic> {
        self.topics.iter().map(|e| e.key().clone()).collect()
    }

    /// Number of local subscribers of `topic`.
    pub fn subscriber_count(&self, topic: &Topic) -> usize {
        self.topics.get(topic).map_or(0, |s| s.len())
    }

    /// Queues an item built per subscriber for every mailbox in `subs`.
    fn fan_out(&self, subs: &HashMap<SessionId, Mailbox>, item: impl Fn() -> Outbound) -> usize {
        subs.values().filter(|mailbox| mailbox.push(item(), &self.metrics)).count()
    }

    /// Tells every local subscriber of `topic` where it stands (after a resync).
    pub fn push_position(&self, topic: &Topic, position: bus::Position) {
        let Some(subs) = self.topics.get(topic) else { return };
        let item = Arc::new((topic.clone(), position));
        self.fan_out(&subs, || Outbound::Position(item.clone()));
    }

    /// Waits until the bus asked for a resync.
    pub async fn resync_requested(&self) {
        self.resync.notified().await;
    }
}

impl Deliver for Hub {
    fn deliver(&self, topic: &Topic, event: BusEvent) {
        // One lookup: topics without local subscribers are dropped before
        // anything is encoded (the in-process bus hands over every topic).
        let Some(subs) = self.topics.get(topic) else { return };
        let started = Instant::now();
        match event {
            BusEvent::Publication { offset, epoch, data } => {
                let delivery = Arc::new(Delivery {
                    topic: topic.clone(),
                    offset,
                    epoch,
                    frame: wire::pub_frame(topic.as_str(), offset, &data),
                });
                let n = self.fan_out(&subs, || Outbound::Pub(delivery.clone()));
                self.metrics.deliveries.fetch_add(n as u64, Ordering::Relaxed);
            }
            BusEvent::Join(info) => {
                let event = Arc::new((topic.clone(), wire::presence_frame("join", topic.as_str(), &info)));
                self.fan_out(&subs, || Outbound::Event(event.clone()));
            }
            BusEvent::Leave(info) => {
                let event = Arc::new((topic.clone(), wire::presence_frame("leave", topic.as_str(), &info)));
                self.fan_out(&subs, || Outbound::Event(event.clone()));
            }
        }
        self.metrics.observe_fanout(started.elapsed());
    }

    fn resync(&self) {
        self.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
        // `notify_one` stores a permit, so a resync asked while the loop is
        // busy with the previous one is not lost.
        self.resync.notify_one();
    }
}
