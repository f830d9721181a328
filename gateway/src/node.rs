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

use crate::archive::Archive;
use crate::auth::Auth;
use crate::chat::ChatQueue;
use crate::config::Config;
use crate::hub::{Hub, Mailbox, SessionId};
use crate::metrics::Metrics;

/// How long `/readyz` waits for Redis to answer before it says 503.
pub const READY_PROBE_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

/// How often the node looks for bus subscriptions nobody here wants (left
/// by a failed unsubscribe) and releases them.
pub const STRAY_SUBSCRIPTION_CHECK: Duration = Duration::from_secs(5);

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
    /// The room history archive writer (run by `run`; sessions only note rooms).
    pub archive: Archive,
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
        let archive = Archive::new(metrics.clone());
        Node {
            id,
            config,
            bus,
            hub,
            metrics,
            seats,
            auth,
            chat,
            archive,
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

    /// How many topics have bus bookkeeping here (a lock, subscribed or not).
    #[cfg(test)]
    fn bus_topic_count(&self) -> usize {
        self.bus_subscriptions.len()
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
            if let Err(e) = self.count_bus(self.bus.subscribe_node(topic).await) {
                // No entry stays behind for a name whose subscribe failed (a
                // client could otherwise grow the map during an outage). A
                // subscription the engine recorded anyway is released by
                // `release_stray_subscriptions`.
                drop(subscribed);
                drop(lock);
                self.forget_lock(topic);
                return Err(e);
            }
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
                    // The engine still has the subscription (and subscribes
                    // it again after a reconnect):
                    // `release_stray_subscriptions` retries.
                    tracing::warn!(%topic, error = %e, "bus unsubscribe failed; will retry");
                }
                *subscribed = false;
            }
        }
        drop(lock);
        self.forget_lock(topic);
    }

    /// Forgets the lock of a topic nobody here uses (the caller has dropped
    /// its reference, so a count of one is the map's own).
    fn forget_lock(&self, topic: &Topic) {
        self.bus_subscriptions.remove_if(topic, |_, l| Arc::strong_count(l) == 1 && l.try_lock().is_ok_and(|s| !*s));
    }

    /// Unsubscribes the node on the bus from every topic the engine still
    /// has a subscription to but no local subscriber wants: one whose
    /// `unsubscribe_node` failed, or whose `subscribe_node` failed after the
    /// engine had recorded it. Returns whether every one was released.
    pub async fn release_stray_subscriptions(&self) -> bool {
        let mut released_all = true;
        for topic in self.bus.node_topics() {
            // Wanted (the common case): skip it without waiting.
            if self.bus_subscriptions.get(&topic).is_some_and(|l| l.try_lock().is_ok_and(|s| *s)) {
                continue;
            }
            let lock = self.bus_lock(&topic);
            {
                let subscribed = lock.lock().await;
                if !*subscribed {
                    match self.count_bus(self.bus.unsubscribe_node(&topic).await) {
                        Ok(()) => tracing::info!(%topic, "stray bus subscription released"),
                        Err(e) => {
                            tracing::warn!(%topic, error = %e, "stray bus subscription not released; will retry");
                            released_all = false;
                        }
                    }
                }
            }
            drop(lock);
            self.forget_lock(&topic);
        }
        released_all
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
    ///
    /// Every [`STRAY_SUBSCRIPTION_CHECK`], and after every resync (a
    /// reconnect subscribes again what the engine tracks), it also releases
    /// bus subscriptions no local subscriber wants
    /// ([`Node::release_stray_subscriptions`]).
    pub async fn resync_loop(self: Arc<Self>) {
        let mut check = tokio::time::interval(STRAY_SUBSCRIPTION_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let resync = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.hub.resync_requested() => true,
                _ = check.tick() => false,
            };
            self.release_stray_subscriptions().await;
            if !resync {
                continue;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A node on `redis`, assembled as `run` does (no listener, no loops).
    async fn node_on(redis: &testkit::RedisServer) -> Arc<Node> {
        let mut config = Config::for_tests();
        config.redis_url = Some(redis.url());
        let metrics = Arc::new(Metrics::default());
        let hub = Arc::new(Hub::new(metrics.clone()));
        let bus_config = crate::bus_config_of(&config);
        let stop = CancellationToken::new();
        let redis_bus =
            bus::RedisBus::connect(&redis.url(), bus_config.clone(), hub.clone(), stop.clone()).await.expect("bus");
        let schedule = seats::demo::schedule_from_today().expect("demo schedule");
        // Beside the test's Redis, removed with it.
        let dir = redis.scratch_dir().join("ledger");
        let ledger = ledger::Ledger::open_in_dir(&dir).await.expect("ledger");
        let store = SeatStore::redis(redis_bus.clone(), bus_config.clone(), schedule, config.clock.clone(), ledger);
        let bus = Bus::Redis(redis_bus);
        let chat = ChatQueue::new(&bus, bus_config, config.chat_queue_max);
        let id: Arc<str> = "t".into();
        Arc::new(Node::new(id, config, bus, hub, metrics, store, chat, stop, TaskTracker::new()))
    }

    #[tokio::test]
    async fn a_failed_bus_subscribe_leaves_no_bookkeeping_behind() {
        let redis = testkit::RedisServer::start();
        let node = node_on(&redis).await;
        let (mailbox, _rx) = Mailbox::new(1, 16, 1 << 16);
        // SIGSTOP: every bus subscribe times out, as during an outage in
        // which a client subscribes to fresh names.
        redis.pause();
        let topics: Vec<Topic> =
            (0..20).map(|i| Topic::parse(&format!("room:fresh-{i}")).expect("valid name")).collect();
        let tries = topics.iter().map(|t| node.subscribe(t, mailbox.clone()));
        let results = futures_util::future::join_all(tries).await;
        redis.resume();
        assert!(results.iter().all(Result::is_err), "every subscribe failed while Redis was stopped");
        assert_eq!(node.bus_topic_count(), 0, "no per-topic entry is left for a failed subscribe");
        assert_eq!(node.hub.topics().len(), 0);
        // Once Redis answers, subscribing and leaving works and cleans up.
        let t = &topics[0];
        testkit::eventually(Duration::from_secs(10), "a subscribe succeeds", || async {
            node.subscribe(t, mailbox.clone()).await.ok()
        })
        .await;
        assert_eq!(node.bus_topic_count(), 1);
        node.unsubscribe(t, 1).await;
        assert_eq!(node.bus_topic_count(), 0);
    }
}
