//! Integration tests of the seat store. Every test in `store` runs against
//! both engines (in-process and a real redis-server); `race` runs the
//! contention test on Redis with two separate bus connections; `notify` runs
//! the webhook notifier against Redis and a small HTTP server; `mail` the
//! e-mail channel against a real SMTP server (aiosmtpd).

#![allow(clippy::unwrap_used)]

mod checkout;
mod lifecycle;
mod mail;
mod notify;
mod race;
mod store;
mod tickets;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Bus, BusConfig, BusEvent, Deliver, MemoryBus, RedisBus, Topic};
use seats::notifier::OutboxConfig;
use seats::{Booking, Clock, Delta, HoldRequest, Schedule, SeatState, SeatStore};
use testkit::RedisServer;
use tokio_util::sync::CancellationToken;

/// The test schedule: one theater, one screen of three rows with an aisle.
pub(crate) const SCHEDULE: &str = r#"{
  "theaters": [{"id": "t", "name": "Test", "name_ko": "테스트", "screens": [
    {"id": "1", "name": "Screen 1", "rows": [
      {"row": "A", "seats": "SSSS_SSSS"},
      {"row": "B", "seats": "PPPP_PPPP"},
      {"row": "C", "seats": "WSSS_SSSW"}
    ]},
    {"id": "2", "name": "Screen 2", "rows": [
      {"row": "A", "seats": "SSSSS_SSSSS"},
      {"row": "B", "seats": "SSSSS_SSSSS"},
      {"row": "C", "seats": "SSSSS_SSSSS"},
      {"row": "D", "seats": "SSSSS_SSSSS"},
      {"row": "E", "seats": "SSSSS_SSSSS"},
      {"row": "F", "seats": "SSSSS_SSSSS"},
      {"row": "G", "seats": "SSSSS_SSSSS"},
      {"row": "H", "seats": "SSSSS_SSSSS"},
      {"row": "I", "seats": "SSSSS_SSSSS"},
      {"row": "J", "seats": "SSSSS_SSSSS"}
    ]}
  ]}],
  "movies": [{"id": "nsyn-11", "title": "The Matrix", "title_ko": "매트릭스", "runtime_min": 136, "age_rating": "15"},
             {"id": "nsyn-18", "title": "Memories of Murder", "title_ko": "살인의 추억", "runtime_min": 132, "age_rating": "19"}],
  "showtimes": [
    {"id": "st-1", "movie": "nsyn-11", "theater": "t", "screen": "1",
     "starts_at": "2027-01-15T19:30:00+09:00[Asia/Seoul]",
     "prices": {"standard": 15000, "premium": 19000, "wheelchair": 15000},
     "fares": {"teen": {"standard": 12000, "premium": 16000, "wheelchair": 12000},
               "child": {"standard": 9000, "premium": 13000, "wheelchair": 9000},
               "disabled": {"standard": 5000, "premium": 5000, "wheelchair": 5000}}},
    {"id": "st-2", "movie": "nsyn-11", "theater": "t", "screen": "1",
     "starts_at": "2027-01-15T22:00:00+09:00[Asia/Seoul]",
     "prices": {"standard": 15000, "premium": 19000, "wheelchair": 15000}},
    {"id": "st-big", "movie": "nsyn-11", "theater": "t", "screen": "2",
     "starts_at": "2027-01-16T19:30:00+09:00[Asia/Seoul]",
     "prices": {"standard": 12000, "premium": 12000, "wheelchair": 12000}},
    {"id": "st-adult", "movie": "nsyn-18", "theater": "t", "screen": "1",
     "starts_at": "2027-01-16T22:00:00+09:00[Asia/Seoul]",
     "prices": {"standard": 15000, "premium": 19000, "wheelchair": 15000},
     "fares": {"teen": {"standard": 12000, "premium": 16000, "wheelchair": 12000},
               "child": {"standard": 9000, "premium": 13000, "wheelchair": 9000}}}
  ]
}"#;

/// Where the manual clock starts (2027-01-15).
pub(crate) const T0: i64 = 1_800_000_000_000;

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Memory,
    Redis,
}

/// A sink that keeps every event it is handed.
#[derive(Default)]
pub(crate) struct Collect(pub Mutex<Vec<(String, BusEvent)>>);

impl Deliver for Collect {
    fn deliver(&self, topic: &Topic, event: BusEvent) {
        self.0.lock().unwrap().push((topic.as_str().to_owned(), event));
    }
    fn resync(&self) {}
}

impl Collect {
    /// The publications delivered for `topic`, in order.
    pub(crate) fn publications(&self, topic: &str) -> Vec<(u64, String)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == topic)
            .filter_map(|(_, e)| match e {
                BusEvent::Publication { offset, data, .. } => {
                    Some((*offset, String::from_utf8_lossy(data).into_owned()))
                }
                _ => None,
            })
            .collect()
    }
}

/// A store on one engine, with its bus, sink and manual clock.
pub(crate) struct Env {
    pub(crate) kind: Kind,
    pub(crate) store: SeatStore,
    pub(crate) bus: Bus,
    pub(crate) sink: Arc<Collect>,
    pub(crate) clock: Clock,
    pub(crate) redis: Option<RedisServer>,
    pub(crate) shutdown: CancellationToken,
    /// The ledger's SQLite file lives here.
    pub(crate) data_dir: std::path::PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A fresh ledger (an SQLite file in a new temp directory).
pub(crate) async fn ledger_in_temp() -> (ledger::Ledger, std::path::PathBuf) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("marquee-seats-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (ledger::Ledger::open_in_dir(&dir).await.unwrap(), dir)
}

pub(crate) fn schedule() -> Schedule {
    Schedule::from_json(SCHEDULE).unwrap()
}

pub(crate) fn bus_config() -> BusConfig {
    BusConfig { history_size: 100_000, ..BusConfig::default() }
}

impl Env {
    /// A store with its outbox worker delivering the live channel.
    pub(crate) async fn new(kind: Kind) -> Env {
        let env = Env::bare(kind).await;
        env.start_outbox(OutboxConfig::new(None));
        env
    }

    /// A store whose booking events are also queued for a webhook, with no
    /// outbox worker running yet (see [`Env::start_outbox`]).
    pub(crate) async fn with_webhook(kind: Kind) -> Env {
        Env::with_channels(kind, &[seats::notifier::WEBHOOK_CHANNEL]).await
    }

    /// A store whose booking events are also queued for `channels`, with no
    /// outbox worker running yet.
    pub(crate) async fn with_channels(kind: Kind, channels: &[&str]) -> Env {
        let mut env = Env::bare(kind).await;
        env.store = env.store.clone().with_channels(channels);
        env
    }

    /// Runs an outbox worker with `config` until the env is dropped.
    pub(crate) fn start_outbox(&self, config: OutboxConfig) {
        tokio::spawn(seats::notifier::run_outbox(self.store.clone(), config, self.shutdown.clone()));
    }

    async fn bare(kind: Kind) -> Env {
        let sink = Arc::new(Collect::default());
        let clock = Clock::manual(T0);
        let shutdown = CancellationToken::new();
        let (ledger, data_dir) = ledger_in_temp().await;
        match kind {
            Kind::Memory => {
                let mem = MemoryBus::new(bus_config(), sink.clone());
                let store = SeatStore::memory(mem.clone(), schedule(), clock.clone(), ledger);
                Env { kind, store, bus: Bus::Memory(mem), sink, clock, redis: None, shutdown, data_dir }
            }
            Kind::Redis => {
                let server = RedisServer::start();
                let rb = RedisBus::connect(&server.url(), bus_config(), sink.clone(), shutdown.clone()).await.unwrap();
                let bus = Bus::Redis(rb.clone());
                for t in
                    ["showtime:st-1", "showtime:st-2", "showtime:st-big", "showtime:st-adult", "user:alice", "user:bob"]
                {
                    bus.subscribe_node(&Topic::parse(t).unwrap()).await.unwrap();
                }
                let store = SeatStore::redis(rb, bus_config(), schedule(), clock.clone(), ledger);
                Env { kind, store, bus, sink, clock, redis: Some(server), shutdown, data_dir }
            }
        }
    }

    /// Another node on the same Redis (or the same store in memory).
    pub(crate) async fn second_node(&self) -> (SeatStore, Bus) {
        match &self.redis {
            None => (self.store.clone(), self.bus.clone()),
            Some(server) => {
                let sink = Arc::new(Collect::default());
                let rb = RedisBus::connect(&server.url(), bus_config(), sink, self.shutdown.clone()).await.unwrap();
                let ledger = self.store.ledger().clone();
                (SeatStore::redis(rb.clone(), bus_config(), schedule(), self.clock.clone(), ledger), Bus::Redis(rb))
            }
        }
    }
}

/// `b` as listings show it (the showtime version is known only in the
/// answer of the change itself).
pub(crate) fn listed(b: &Booking) -> Booking {
    Booking { version: 0, ..b.clone() }
}

pub(crate) fn req(user: &str, seats: &[&str], key: &str) -> HoldRequest {
    HoldRequest {
        showtime: "st-1".into(),
        user: user.into(),
        seats: seats.iter().map(|s| (*s).to_owned()).collect(),
        ttl: None,
        idempotency_key: key.into(),
        tickets: None,
    }
}

/// Replays every delta stored for `showtime` from version 1, checking that
/// versions are consecutive; returns the final version and non-free seats.
pub(crate) async fn replay(bus: &Bus, showtime: &str) -> (u64, HashMap<String, SeatState>) {
    let topic = Topic::parse(&format!("showtime:{showtime}")).unwrap();
    let page = bus.history_after(&topic, 0, 1_000_000).await.unwrap();
    let mut version = 0;
    let mut seats = HashMap::new();
    for entry in page.entries {
        let d: Delta = serde_json::from_slice(&entry.data).unwrap();
        assert_eq!(d.kind, "seats");
        assert_eq!(d.showtime, showtime);
        assert_eq!(d.version, version + 1, "versions must be consecutive in offset order");
        version = d.version;
        for c in d.changes {
            if c.state == SeatState::Free {
                seats.remove(c.seat.as_str());
            } else {
                seats.insert(c.seat.as_str().to_owned(), c.state);
            }
        }
    }
    (version, seats)
}

/// Asserts that the snapshot equals the replay of all published deltas.
pub(crate) async fn assert_replay_matches(store: &SeatStore, bus: &Bus, showtime: &str) {
    let map = store.snapshot(showtime, None).await.unwrap();
    let (version, replayed) = replay(bus, showtime).await;
    assert_eq!(map.version, version);
    let taken: HashMap<String, SeatState> = map
        .seats
        .iter()
        .filter(|s| s.state != SeatState::Free)
        .map(|s| (s.seat.as_str().to_owned(), s.state))
        .collect();
    assert_eq!(taken, replayed);
}

/// Declares a test that runs once per engine: `engines!(name, |env| async move { .. })`.
#[macro_export]
macro_rules! engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn memory() {
                let env = $crate::Env::new($crate::Kind::Memory).await;
                ($body)(env).await;
            }

            #[tokio::test]
            async fn redis() {
                let env = $crate::Env::new($crate::Kind::Redis).await;
                ($body)(env).await;
            }
        }
    };
}

/// A short pause for pub/sub delivery checks.
pub(crate) const WAIT: Duration = Duration::from_secs(5);
