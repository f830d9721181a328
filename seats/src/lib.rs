//! Showtimes and live seat maps: the showtime domain, and [`SeatStore`], the
//! one place that changes seat state.
//!
//! Every change (hold, release, expiry, confirm, cancel) happens atomically
//! together with its publication on topic `showtime:<id>` as a versioned
//! [`Delta`], so a viewer that applies deltas in offset order always has the
//! map of some version. Two engines sit behind [`SeatStore`]: in-process
//! (with [`bus::MemoryBus`]) and Redis (the seat functions of the bus's library, with [`bus::RedisBus`]);
//! both pass the same test suite (`tests/it`). This crate knows nothing of
//! HTTP or WebSocket: the gateway maps [`SeatError::code`] to its responses.

pub mod best;
pub mod demo;
pub mod domain;
mod engine;
mod error;
mod lanes;
mod memory;
pub mod metrics;
pub mod notifier;
mod redis;
mod types;
mod webhook;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crate::domain::{Layout, Movie, Prices, Schedule, ScheduleError, Screen, SeatClass, SeatId, Showtime, Theater};
pub use crate::error::SeatError;
pub use crate::redis::{HOLD_INDEX_KEY, NOTIFY_STREAM_KEY, OUTBOX_INDEX_KEY, SCHEDULE_KEY, user_bookings_key};
pub use crate::types::*;

use crate::engine::{HoldCmd, Target};
use crate::memory::MemoryEngine;
use crate::redis::RedisEngine;

/// How often [`SeatStore::run_sweeper`] looks for expired holds by default.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_millis(250);

/// The schedule, replaceable at run time, shared by the store and its engine,
/// with the identity of the cluster's schedule document it came from.
#[derive(Clone)]
pub(crate) struct SharedSchedule {
    current: Arc<RwLock<(Arc<Schedule>, ScheduleId)>>,
}

/// Which cluster schedule document a node holds: its version (0: not from
/// Redis) and the SHA-1 Redis keeps of it (empty when unknown), so that two
/// documents stored under the same version, one before and one after Redis
/// lost the schedule, are told apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScheduleId {
    pub(crate) version: u64,
    pub(crate) digest: String,
}

impl SharedSchedule {
    fn new(s: Schedule) -> SharedSchedule {
        SharedSchedule { current: Arc::new(RwLock::new((Arc::new(s), ScheduleId::default()))) }
    }

    pub(crate) fn get(&self) -> Arc<Schedule> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).0.clone()
    }

    fn set(&self, s: Schedule) {
        self.current.write().unwrap_or_else(PoisonError::into_inner).0 = Arc::new(s);
    }

    fn id(&self) -> ScheduleId {
        self.current.read().unwrap_or_else(PoisonError::into_inner).1.clone()
    }

    /// Installs `s` (`None`: keeps the schedule, an unreadable document) as
    /// `id` when `id` is the cluster's newer one: a higher version, or the
    /// same version of another document. A lower version never replaces a
    /// higher one (two refreshes racing).
    fn install(&self, s: Option<Schedule>, id: ScheduleId) -> bool {
        let mut cur = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let newer = id.version > cur.1.version || (id.version == cur.1.version && id.digest != cur.1.digest);
        if id.version == 0 || !newer {
            return false;
        }
        cur.1 = id;
        if let Some(s) = s {
            cur.0 = Arc::new(s);
        }
        true
    }

    /// Until when the seat state of `showtime` is kept (ms since the epoch):
    /// [`SHOWTIME_STATE_KEEP`] after the showtime ends, and never less than
    /// that from `now` (a change to a long-past showtime still lives a while).
    pub(crate) fn keep_until(&self, showtime: &str, now: Millis) -> Millis {
        let keep = SHOWTIME_STATE_KEEP.as_millis() as i64;
        let schedule = self.get();
        let end = schedule.showtime(showtime).map(|st| {
            let runtime = schedule.movie(&st.movie).map_or(0, |m| i64::from(m.runtime_min) * 60_000);
            st.starts_at.timestamp().as_millisecond() + runtime
        });
        end.unwrap_or(now).max(now) + keep
    }

    /// The price of `seats` at `showtime` (0 for anything not scheduled).
    pub(crate) fn amount(&self, showtime: &str, seats: &[SeatId]) -> u32 {
        let schedule = self.get();
        let (Some(st), Some(layout)) = (schedule.showtime(showtime), schedule.layout_of(showtime)) else {
            return 0;
        };
        seats.iter().filter_map(|s| layout.seat(s.as_str())).map(|s| st.prices.of(s.class)).sum()
    }
}

#[derive(Clone)]
enum Engine {
    Memory(MemoryEngine),
    Redis(RedisEngine),
}

macro_rules! dispatch {
    ($self:ident, $e:ident => $body:expr) => {
        match &$self.engine {
            Engine::Memory($e) => $body,
            Engine::Redis($e) => $body,
        }
    };
}

/// The seat store. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct SeatStore {
    engine: Engine,
    schedule: SharedSchedule,
    clock: Clock,
}

impl SeatStore {
    /// A single-node store publishing through `bus`.
    pub fn memory(bus: bus::MemoryBus, schedule: Schedule, clock: Clock) -> SeatStore {
        let schedule = SharedSchedule::new(schedule);
        SeatStore { engine: Engine::Memory(MemoryEngine::new(bus, schedule.clone())), schedule, clock }
    }

    /// A store over the Redis that `bus` is connected to; `config` must be the
    /// bus's own (history length and TTL of the showtime topics).
    pub fn redis(bus: bus::RedisBus, config: bus::BusConfig, schedule: Schedule, clock: Clock) -> SeatStore {
        let schedule = SharedSchedule::new(schedule);
        SeatStore { engine: Engine::Redis(RedisEngine::new(bus, config, schedule.clone())), schedule, clock }
    }

    /// The current schedule.
    pub fn schedule(&self) -> Arc<Schedule> {
        self.schedule.get()
    }

    /// Replaces the schedule of this node only (seat state of showtimes kept
    /// in both is untouched). Use [`SeatStore::publish_schedule`] to reach
    /// every node.
    pub fn replace_schedule(&self, schedule: Schedule) {
        self.schedule.set(schedule);
    }

    /// Makes the cluster's schedule this node's: with Redis, stores this
    /// node's schedule as the cluster's unless one is stored already (the
    /// first node seeds it), then adopts the stored one. A node started later
    /// thus gets the schedule an admin loaded, not its own seed. In process,
    /// nothing to do.
    pub async fn share_schedule(&self) -> Result<(), SeatError> {
        let Engine::Redis(e) = &self.engine else { return Ok(()) };
        let (id, doc) = e.share_schedule(&self.schedule.get().to_json(), self.schedule.id().version).await?;
        self.adopt_schedule(id, doc.as_deref());
        Ok(())
    }

    /// Replaces the schedule of every node: with Redis, stores it as the
    /// cluster's schedule under a new version; this node switches at once,
    /// the others within one sweep interval ([`SeatStore::run_sweeper`] calls
    /// [`SeatStore::refresh_schedule`]). Seat state of showtimes in both the
    /// old and the new schedule is untouched.
    pub async fn publish_schedule(&self, schedule: Schedule) -> Result<(), SeatError> {
        match &self.engine {
            Engine::Memory(_) => self.schedule.set(schedule),
            Engine::Redis(e) => {
                let version = e.store_schedule(&schedule.to_json()).await?;
                // Its digest is learnt on the next refresh (one more read).
                self.schedule.install(Some(schedule), ScheduleId { version, digest: String::new() });
            }
        }
        Ok(())
    }

    /// Makes this node's schedule the cluster's one, whatever happened to
    /// Redis (one `HMGET` when nothing changed); returns whether this node's
    /// schedule changed. A stored schedule that differs from this node's
    /// (another version, or the same version of another document) is
    /// adopted, so nodes never keep two schedules. When the stored one is
    /// missing or older than this node's (Redis restarted empty, or another
    /// node seeded its own first), this node offers its own in one
    /// compare-and-set step and adopts whatever won: of nodes offering at
    /// once, the highest version wins and everyone converges on it.
    pub async fn refresh_schedule(&self) -> Result<bool, SeatError> {
        let Engine::Redis(e) = &self.engine else { return Ok(false) };
        let mine = self.schedule.id();
        let stored = e.schedule_id().await?;
        if stored.version == 0 || stored.version < mine.version {
            tracing::warn!(
                stored = stored.version,
                mine = mine.version,
                "the cluster's schedule is missing or older than this node's; offering this node's"
            );
            let (id, doc) = e.share_schedule(&self.schedule.get().to_json(), mine.version).await?;
            return Ok(self.adopt_schedule(id, doc.as_deref()));
        }
        if stored == mine {
            return Ok(false);
        }
        let (id, doc) = e.load_schedule().await?;
        Ok(self.adopt_schedule(id, doc.as_deref()))
    }

    /// Installs a schedule document read from Redis. A document this build
    /// cannot read is logged and skipped (its identity is remembered so it
    /// is not parsed again), keeping the schedule the node has.
    fn adopt_schedule(&self, id: ScheduleId, doc: Option<&str>) -> bool {
        let cur = self.schedule.id();
        if id.version == 0 || id == cur || id.version < cur.version {
            return false;
        }
        let parsed = match doc.map(Schedule::from_json) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                tracing::error!(version = id.version, error = %e, "stored schedule is invalid; keeping the current one");
                None
            }
            None => None,
        };
        let showtimes = parsed.as_ref().map(|s| s.showtimes().len());
        let version = id.version;
        let changed = self.schedule.install(parsed, id);
        if changed && let Some(showtimes) = showtimes {
            tracing::info!(version, showtimes, "schedule loaded from the cluster");
        }
        changed
    }

    /// In process: connects a bounded queue of booking events (confirmed and
    /// cancelled, as JSON [`BookingEvent`]s) for [`notifier::run_local_notifier`]
    /// and returns its receiving end. While it is full, confirm and cancel
    /// fail with `unavailable` and change nothing, so no event is dropped.
    /// `None` with Redis (the notifier reads the stream there) or when a
    /// queue is connected already.
    pub fn local_notifications(&self, capacity: usize) -> Option<tokio::sync::mpsc::Receiver<String>> {
        match &self.engine {
            Engine::Memory(e) => e.notifications(capacity),
            Engine::Redis(_) => None,
        }
    }

    /// The store's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The full seat map of `showtime` with its version; `viewer`'s own holds
    /// and bookings are flagged `mine` (nobody else's are identified).
    pub async fn snapshot(&self, showtime: &str, viewer: Option<&str>) -> Result<SeatMap, SeatError> {
        let schedule = self.schedule.get();
        let layout = schedule.layout_of(showtime).ok_or_else(|| unknown_showtime(showtime))?;
        if let Some(v) = viewer {
            validate_user(v)?;
        }
        let taken = dispatch!(self, e => e.snapshot(showtime, viewer).await)?;
        let seats = layout
            .seats()
            .map(|s| match taken.seats.get(&s.id) {
                None => SeatStatus {
                    seat: s.id.clone(),
                    class: s.class,
                    state: SeatState::Free,
                    mine: false,
                    until: None,
                    hold_id: None,
                },
                Some(t) => SeatStatus {
                    seat: s.id.clone(),
                    class: s.class,
                    state: t.state,
                    mine: t.mine,
                    until: t.hold.as_ref().map(|h| h.0),
                    hold_id: t.hold.as_ref().map(|h| h.1.clone()),
                },
            })
            .collect();
        Ok(SeatMap { showtime: showtime.to_owned(), version: taken.version, seats })
    }

    /// Holds all of `req.seats` for `req.user`, or none: a failure names the
    /// seats that were not free. A retry with the same idempotency key returns
    /// the first result (success or failure) and never holds twice.
    pub async fn hold(&self, req: HoldRequest) -> Result<Hold, SeatError> {
        validate_user(&req.user)?;
        validate_key(&req.idempotency_key)?;
        let seats = self.seats_of(&req.showtime, &req.seats)?;
        if seats.is_empty() || seats.len() > MAX_SEATS_PER_HOLD {
            return Err(SeatError::Invalid(format!("hold 1-{MAX_SEATS_PER_HOLD} seats")));
        }
        let ttl = req.ttl.unwrap_or(DEFAULT_HOLD_TTL);
        if !(MIN_HOLD_TTL..=MAX_HOLD_TTL).contains(&ttl) {
            return Err(SeatError::Invalid(format!(
                "ttl must be {}-{} seconds",
                MIN_HOLD_TTL.as_secs(),
                MAX_HOLD_TTL.as_secs()
            )));
        }
        let cmd = HoldCmd {
            showtime: &req.showtime,
            user: &req.user,
            seats: &seats,
            ttl_ms: ttl.as_millis() as i64,
            key: &req.idempotency_key,
            hold_id: engine::new_hold_id(),
            now: self.clock.now_ms(),
        };
        metrics::op("hold", dispatch!(self, e => e.hold(cmd).await))
    }

    /// Extends `hold_id` by its original TTL from now, at most
    /// [`MAX_EXTENDS`] times and never past [`MAX_HOLD_TOTAL`] after it was made.
    pub async fn extend(&self, showtime: &str, user: &str, hold_id: &str) -> Result<Hold, SeatError> {
        self.check_showtime(showtime)?;
        validate_user(user)?;
        validate_hold_id(hold_id)?;
        let now = self.clock.now_ms();
        metrics::op("extend", dispatch!(self, e => e.extend(showtime, user, hold_id, now).await))
    }

    /// Releases the caller's hold, or those of `seats` the caller holds
    /// (others' seats are left alone and not reported).
    pub async fn release(&self, showtime: &str, user: &str, what: ReleaseTarget) -> Result<Released, SeatError> {
        validate_user(user)?;
        let target = match what {
            ReleaseTarget::Hold(id) => {
                self.check_showtime(showtime)?;
                validate_hold_id(&id)?;
                Target::Hold(id)
            }
            ReleaseTarget::Seats(seats) => Target::Seats(self.seats_of(showtime, &seats)?),
        };
        let now = self.clock.now_ms();
        metrics::op("release", dispatch!(self, e => e.release(showtime, user, &target, now).await))
    }

    /// Turns the caller's unexpired hold into a sale in one atomic step and
    /// returns the booking. Confirming again returns the same booking.
    pub async fn confirm(&self, showtime: &str, user: &str, hold_id: &str) -> Result<Booking, SeatError> {
        self.check_showtime(showtime)?;
        validate_user(user)?;
        validate_hold_id(hold_id)?;
        let now = self.clock.now_ms();
        let booking_id = engine::new_booking_id(showtime);
        let b =
            metrics::op("confirm", dispatch!(self, e => e.confirm(showtime, user, hold_id, booking_id, now).await))?;
        Ok(self.priced(b))
    }

    /// Cancels the caller's booking and frees its seats.
    pub async fn cancel_booking(&self, user: &str, booking_id: &str) -> Result<Booking, SeatError> {
        validate_user(user)?;
        let showtime = engine::showtime_of_booking(booking_id).ok_or(SeatError::BookingNotFound)?;
        // Only scheduled showtimes: a made-up id must not create state.
        self.check_showtime(showtime).map_err(|_| SeatError::BookingNotFound)?;
        let now = self.clock.now_ms();
        let b = metrics::op("cancel", dispatch!(self, e => e.cancel(showtime, user, booking_id, now).await))?;
        Ok(self.priced(b))
    }

    /// The caller's bookings (confirmed and cancelled), oldest first.
    pub async fn my_bookings(&self, user: &str) -> Result<Vec<Booking>, SeatError> {
        validate_user(user)?;
        let mut list = dispatch!(self, e => e.bookings_of(user).await)?;
        list.sort_by(|a, b| (a.created_at, &a.booking_id).cmp(&(b.created_at, &b.booking_id)));
        Ok(list.into_iter().map(|b| self.priced(b)).collect())
    }

    /// Proposes `n` adjacent seats (see [`best::best_available`]) from the
    /// current map; hold them with [`SeatStore::hold`].
    pub async fn best_available(
        &self,
        showtime: &str,
        n: usize,
        class: Option<SeatClass>,
    ) -> Result<Vec<SeatId>, SeatError> {
        if n == 0 || n > MAX_SEATS_PER_HOLD {
            return Err(SeatError::Invalid(format!("ask for 1-{MAX_SEATS_PER_HOLD} seats")));
        }
        let map = self.snapshot(showtime, None).await?;
        let schedule = self.schedule.get();
        let layout = schedule.layout_of(showtime).ok_or_else(|| unknown_showtime(showtime))?;
        let taken: std::collections::HashSet<&SeatId> =
            map.seats.iter().filter(|s| s.state != SeatState::Free).map(|s| &s.seat).collect();
        best::best_available(layout, |s| taken.contains(s), n, class).ok_or(SeatError::NoFit(n))
    }

    /// Releases every hold that expired by now and publishes the releases;
    /// returns how many seats were freed. With Redis, also delivers booking
    /// events left in outboxes. Safe to run on every node at once.
    pub async fn sweep_expired(&self) -> Result<usize, SeatError> {
        let now = self.clock.now_ms();
        metrics::swept(dispatch!(self, e => e.sweep(now).await))
    }

    /// Runs [`SeatStore::refresh_schedule`] and [`SeatStore::sweep_expired`]
    /// every `every` until `shutdown`.
    /// Errors are logged here (and retried next tick), not returned.
    pub async fn run_sweeper(self, every: Duration, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = self.refresh_schedule().await {
                        tracing::warn!(error = %e, "schedule check failed; retrying next tick");
                    }
                    match self.sweep_expired().await {
                        Ok(0) => {}
                        Ok(freed) => tracing::debug!(freed, "expired holds released"),
                        Err(e) => tracing::warn!(error = %e, "sweep failed; retrying next tick"),
                    }
                }
            }
        }
    }

    fn priced(&self, mut b: Booking) -> Booking {
        b.amount = self.schedule.amount(&b.showtime, &b.seats);
        b
    }

    fn check_showtime(&self, showtime: &str) -> Result<(), SeatError> {
        match self.schedule.get().showtime(showtime) {
            Some(_) => Ok(()),
            None => Err(unknown_showtime(showtime)),
        }
    }

    /// Validates seat ids against the showtime's layout: sorted, deduplicated.
    fn seats_of(&self, showtime: &str, seats: &[String]) -> Result<Vec<SeatId>, SeatError> {
        let schedule = self.schedule.get();
        let layout = schedule.layout_of(showtime).ok_or_else(|| unknown_showtime(showtime))?;
        if seats.len() > 4 * MAX_SEATS_PER_HOLD {
            return Err(SeatError::Invalid("too many seats".into()));
        }
        let mut unknown = Vec::new();
        let mut ids = Vec::with_capacity(seats.len());
        for s in seats {
            match layout.seat(s) {
                Some(seat) => ids.push(seat.id.clone()),
                None => unknown.push(s.chars().take(8).collect::<String>()),
            }
        }
        if !unknown.is_empty() {
            return Err(SeatError::UnknownSeats(unknown));
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

fn unknown_showtime(showtime: &str) -> SeatError {
    SeatError::UnknownShowtime(showtime.chars().take(bus::MAX_TOPIC_ID_LEN).collect())
}

/// User ids become topic ids (`user:<id>`): 1-64 of `[A-Za-z0-9_.-]`.
fn validate_user(user: &str) -> Result<(), SeatError> {
    domain::validate_id(user).map_err(|_| SeatError::Invalid("user id must be 1-64 of A-Z a-z 0-9 _ . -".into()))
}

/// Idempotency keys: 1-64 of `[A-Za-z0-9_.:-]`.
fn validate_key(key: &str) -> Result<(), SeatError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok { Ok(()) } else { Err(SeatError::Invalid("idempotency key must be 1-64 of A-Z a-z 0-9 _ . : -".into())) }
}

/// Hold ids are `h` + 16 hex digits; anything else cannot exist.
fn validate_hold_id(id: &str) -> Result<(), SeatError> {
    let ok = id.len() == 17 && id.starts_with('h') && id[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok { Ok(()) } else { Err(SeatError::HoldNotFound) }
}
