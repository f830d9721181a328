//! One gateway node: the bus, the hub, and the bookkeeping that ties a
//! session's subscriptions to the node's subscriptions on the bus. Shared by
//! every request handler and session behind an `Arc`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bus::{Bus, BusError, Topic};
use bytes::Bytes;
use dashmap::DashMap;
use seats::SeatStore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::chat::ChatQueue;
use crate::config::Config;
use crate::hub::{Hub, Mailbox, SessionId};
use crate::metrics::Metrics;

/// How long `/readyz` waits for Redis to answer before it says 503.
pub const READY_PROBE_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

/// Everything a node's handlers share.
pub struct Node {
    /// This node's id.
    pub id: Arc<str>,
    /// The configuration it runs with.
    pub config: Config,
    /// The bus (in-process or Redis).
    pub bus: Bus,
    /// Local fan-out.
    pub hub: Arc<Hub>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Seat state of every showtime; publishes its own deltas on the bus.
    pub seats: SeatStore,
    /// Token checks.
    pub auth: Auth,
    /// The queue of chat requests to the bot.
    pub chat: ChatQueue,
    /// Cancelled when the node starts draining.
    pub shutdown: CancellationToken,
    /// Every session and background task, for draining.
    pub tracker: TaskTracker,
    next_session: AtomicU64,
    /// Per-topic lock and "this node is subscribed on the bus" flag, so a
    /// topic's bus subscription and its local subscribers change together.
    bus_subscriptions: DashMap<Topic, Arc<tokio::sync::Mutex<bool>>>,
    /// Presence entries of this node's sessions, refreshed before they expire.
    presence: DashMap<(Topic, String), Bytes>,
}

impl Node {
    /// Assembles a node. One argument per shared part; `run` is the only caller.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: Arc<str>,
        config: Config,
        bus: Bus,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        seats: SeatStore,
        chat: ChatQueue,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Node {
        let auth = crate::auth::for_gateway(&config.jwt_secret);
        Node {
            id,
            config,
            bus,
            hub,
            metrics,
            seats,
            auth,
            chat,
            shutdown,
            tracker,
            next_session: AtomicU64::new(1),
            bus_subscriptions: DashMap::new(),
            presence: DashMap::new(),
        }
    }

    /// A new session id.
    pub fn next_session_id(&self) -> SessionId {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the node can serve: the bus is connected and it is not draining.
    pub fn is_ready(&self) -> bool {
        !self.shutdown.is_cancelled() && self.bus.is_ready()
    }

    /// What `/readyz` answers: not draining, and the bus answers within
    /// [`READY_PROBE_DEADLINE`] (a stalled Redis keeps its sockets open).
    pub async fn probe_ready(&self) -> bool {
        !self.shutdown.is_cancelled() && self.bus.probe(READY_PROBE_DEADLINE).await
    }

    fn bus_lock(&self, topic: &Topic) -> Arc<tokio::sync::Mutex<bool>> {
        self.bus_subscriptions.entry(topic.clone()).or_default().clone()
    }

    /// Adds a local subscriber, subscribing the node on the bus first when it
    /// is the topic's first local subscriber. On return, every publication
    /// made after this call reaches the mailbox.
    pub async fn subscribe(&self, topic: &Topic, mailbox: Mailbox) -> Result<(), BusError> {
        let lock = self.bus_lock(topic);
        let mut subscribed = lock.lock().await;
        if !*subscribed {
            self.count_bus(self.bus.subscribe_node(topic).await)?;
            *subscribed = true;
        }
        self.hub.add(topic, mailbox);
        Ok(())
    }

    /// Removes a local subscriber; unsubscribes the node on the bus when it
    /// was the last one.
    pub async fn unsubscribe(&self, topic: &Topic, id: SessionId) {
        let lock = self.bus_lock(topic);
        {
            let mut subscribed = lock.lock().await;
            if self.hub.remove(topic, id) && *subscribed {
                if let Err(e) = self.count_bus(self.bus.unsubscribe_node(topic).await) {
                    tracing::warn!(%topic, error = %e, "bus unsubscribe failed");
                }
                *subscribed = false;
            }
        }
        drop(lock);
        // Forget the lock of a topic nobody here uses (ours is dropped, so a
        // count of one is the map's own reference).
        self.bus_subscriptions.remove_if(topic, |_, l| Arc::strong_count(l) == 1 && l.try_lock().is_ok_and(|s| !*s));
    }

    /// Records a session's presence in a topic and announces it.
    pub async fn presence_join(&self, topic: &Topic, session: String, info: Bytes) -> Result<(), BusError> {
        self.count_bus(self.bus.presence_add(topic, &session, info.clone()).await)?;
        self.presence.insert((topic.clone(), session), info);
        Ok(())
    }

    /// Removes a session's presence from a topic and announces it.
    pub async fn presence_leave(&self, topic: &Topic, session: String) {
        let key = (topic.clone(), session);
        if self.presence.remove(&key).is_some()
            && let Err(e) = self.count_bus(self.bus.presence_remove(topic, &key.1).await)
        {
            tracing::warn!(%topic, error = %e, "presence remove failed; it will expire");
        }
    }

    /// Undoes a `presence_join` that was followed by a failure, or whose
    /// outcome is unknown (a timed-out write may still run in Redis): the
    /// entry is no longer refreshed here and is removed from the bus whether
    /// or not this node recorded it. If the removal fails too, the entry
    /// expires after the presence TTL, since nothing refreshes it.
    pub async fn presence_undo(&self, topic: &Topic, session: String) {
        self.presence.remove(&(topic.clone(), session.clone()));
        if let Err(e) = self.count_bus(self.bus.presence_remove(topic, &session).await) {
            tracing::warn!(%topic, error = %e, "presence remove after a failed join failed; it will expire");
        }
    }

    /// Counts a bus request and its failure.
    pub fn count_bus<T>(&self, r: Result<T, BusError>) -> Result<T, BusError> {
        self.metrics.bus_requests.fetch_add(1, Ordering::Relaxed);
        if r.is_err() {
            self.metrics.bus_errors.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Runs until shutdown: answers the bus's resync requests by sending every
    /// local topic's current position to its subscribers. A resync follows a
    /// Redis reconnection, so the cluster's schedule is checked at once too:
    /// if Redis came back empty, this node offers its schedule before a
    /// restarted node seeds its own (the sweeper checks it on every tick
    /// anyway).
    pub async fn resync_loop(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.hub.resync_requested() => {}
            }
            if let Err(e) = self.seats.refresh_schedule().await {
                tracing::debug!(error = %e, "schedule check after a resync failed; the sweeper retries");
            }
            for topic in self.hub.topics() {
                match self.count_bus(self.bus.history_after(&topic, 0, 0).await) {
                    Ok(page) => self.hub.push_position(&topic, page.position),
                    Err(e) => {
                        tracing::warn!(%topic, error = %e, "resync position read failed; will retry");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        // Ask again: the loop retries after the pause.
                        bus::Deliver::resync(&*self.hub);
                        break;
                    }
                }
            }
        }
    }

    /// Runs until shutdown: refreshes this node's presence entries so they
    /// outlive their TTL only while the node lives.
    pub async fn presence_refresh_loop(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let entries: Vec<((Topic, String), Bytes)> =
                self.presence.iter().map(|e| (e.key().clone(), e.value().clone())).collect();
            for ((topic, session), info) in entries {
                let _ = self.count_bus(self.bus.presence_add(&topic, &session, info).await);
            }
        }
    }
}
