//! Showtimes and live seat maps: the showtime domain, and [`SeatStore`], the
//! one place that changes seat state.
//!
//! Bookings are the [`ledger::Ledger`]'s (the system of record): a confirm
//! commits the booking there first and only then sells the seats in the
//! engine, which is a cache of the ledger's sold seats, rebuilt from it
//! whenever an engine has lost them (Redis restarted empty, FLUSHALL, a fresh
//! process) before any hold on that showtime is accepted.
//!
//! Every change (hold, release, expiry, confirm, cancel) happens atomically
//! together with its publication on topic `showtime:<id>` as a versioned
//! [`Delta`], so a viewer that applies deltas in offset order always has the
//! map of some version. Two engines sit behind [`SeatStore`]: in-process
//! (with [`bus::MemoryBus`]) and Redis (the seat functions of the bus's library, with [`bus::RedisBus`]);
//! both pass the same test suite (`tests/it`). This crate knows nothing of
//! HTTP or WebSocket: the gateway maps [`SeatError::code`] to its responses.

pub mod best;
pub mod checkout;
mod code;
pub mod demo;
pub mod domain;
mod engine;
mod error;
mod lanes;
pub mod mail;
mod memory;
pub mod metrics;
pub mod nearby;
pub mod notifier;
mod redis;
pub mod tickets;
mod types;
mod webhook;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crate::code::{BookingCode, CODE_ALPHABET, CODE_LEN};
pub use crate::domain::{
    GeoPoint, Layout, Movie, Prices, Schedule, ScheduleError, Screen, SeatClass, SeatId, Showtime, Theater,
};
pub use crate::error::SeatError;
pub use crate::redis::{HOLD_INDEX_KEY, SCHEDULE_KEY};
pub use crate::tickets::{AgeRating, Fares, Line, TicketType, Tickets};
pub use crate::types::*;

use crate::engine::{CachedBooking, HoldCmd, Target};
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

    /// The priced lines of `seats` (sorted) at `showtime` sold as
    /// `tickets` (see [`tickets::assign`]).
    pub(crate) fn lines(&self, showtime: &str, seats: &[SeatId], tickets: &Tickets) -> Result<Vec<Line>, SeatError> {
        let schedule = self.get();
        let (Some(st), Some(layout)) = (schedule.showtime(showtime), schedule.layout_of(showtime)) else {
            return Err(unknown_showtime(showtime));
        };
        let rating = schedule.movie(&st.movie).map(|m| m.age_rating).unwrap_or_default();
        tickets::assign(layout, &st.fares, rating, seats, tickets)
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
    ledger: ledger::Ledger,
    /// The outbox channels every booking event is queued for (`live` first).
    channels: Arc<[String]>,
    /// Wakes the outbox workers when a change queued events.
    kick: Arc<tokio::sync::Notify>,
    /// Wakes the payment reconciler when a cancel made a refund due.
    refunds: Arc<tokio::sync::Notify>,
    /// The buyers' e-mail addresses (from their tokens) for `email` rows.
    contacts: mail::Contacts,
}

/// The channel of the live `user:<id>` event, always queued.
pub const LIVE_CHANNEL: &str = "live";
/// How long a confirm keeps its hold alive at least (its first step) while
/// the ledger commits the sale: the sale must reach the cache before the
/// hold could run out, or another customer could hold a seat the ledger has
/// just sold (the ledger would still refuse to sell it twice).
const CONFIRM_PIN_MS: Millis = 30_000;
/// How many times a confirm draws a new booking code when one clashes.
const CODE_ATTEMPTS: usize = 4;

impl SeatStore {
    /// A single-node store publishing through `bus`, with bookings in `ledger`.
    pub fn memory(bus: bus::MemoryBus, schedule: Schedule, clock: Clock, ledger: ledger::Ledger) -> SeatStore {
        let schedule = SharedSchedule::new(schedule);
        SeatStore::with_engine(Engine::Memory(MemoryEngine::new(bus, schedule.clone())), schedule, clock, ledger)
    }

    /// A store over the Redis that `bus` is connected to, with bookings in
    /// `ledger`; `config` must be the bus's own (history length and TTL of
    /// the showtime topics).
    pub fn redis(
        bus: bus::RedisBus,
        config: bus::BusConfig,
        schedule: Schedule,
        clock: Clock,
        ledger: ledger::Ledger,
    ) -> SeatStore {
        let schedule = SharedSchedule::new(schedule);
        SeatStore::with_engine(Engine::Redis(RedisEngine::new(bus, config, schedule.clone())), schedule, clock, ledger)
    }

    fn with_engine(engine: Engine, schedule: SharedSchedule, clock: Clock, ledger: ledger::Ledger) -> SeatStore {
        SeatStore {
            engine,
            schedule,
            clock,
            ledger,
            channels: Arc::from(vec![LIVE_CHANNEL.to_owned()]),
            kick: Arc::default(),
            refunds: Arc::default(),
            contacts: mail::Contacts::default(),
        }
    }

    /// Queues every booking event for `channels` too (e.g. `webhook`, as
    /// configured; [`notifier::run_outbox`] must deliver each of them).
    pub fn with_channels(mut self, channels: &[&str]) -> SeatStore {
        let mut all = vec![LIVE_CHANNEL.to_owned()];
        all.extend(channels.iter().filter(|c| **c != LIVE_CHANNEL).map(|c| (*c).to_owned()));
        self.channels = Arc::from(all);
        self
    }

    /// Where the `email` channel finds each buyer's address (see [`mail`]).
    pub fn contacts(&self) -> &mail::Contacts {
        &self.contacts
    }

    /// The system of record.
    pub fn ledger(&self) -> &ledger::Ledger {
        &self.ledger
    }

    /// Resolves when a change queued outbox events (or at once if one did
    /// since the last call): the outbox workers' wake-up.
    pub async fn outbox_kicked(&self) {
        self.kick.notified().await;
    }

    /// Resolves when a cancel made a refund due (or at once if one did
    /// since the last call): the payment reconciler's wake-up.
    pub async fn refund_kicked(&self) {
        self.refunds.notified().await;
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

    /// Publishes `data` on `topic` through the store's bus (the outbox's
    /// live channel).
    pub async fn publish(&self, topic: &bus::Topic, data: bytes::Bytes) -> Result<(), SeatError> {
        dispatch!(self, e => e.publish(topic, data).await)
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
        let mut taken = dispatch!(self, e => e.snapshot(showtime, viewer).await)?;
        if !taken.synced {
            self.rebuild(showtime).await?;
            taken = dispatch!(self, e => e.snapshot(showtime, viewer).await)?;
        }
        let seats = layout
            .seats()
            .map(|s| match taken.seats.get(&s.id) {
                None => SeatStatus {
                    seat: s.id.clone(),
                    class: s.class,
                    column: column(s.column),
                    state: SeatState::Free,
                    mine: false,
                    until: None,
                    hold_id: None,
                },
                Some(t) => SeatStatus {
                    seat: s.id.clone(),
                    class: s.class,
                    column: column(s.column),
                    state: t.state,
                    mine: t.mine,
                    until: t.hold.as_ref().map(|h| h.0),
                    hold_id: t.hold.as_ref().map(|h| h.1.clone()),
                },
            })
            .collect();
        let aisles = layout.aisles().into_iter().map(column).collect();
        Ok(SeatMap {
            showtime: showtime.to_owned(),
            version: taken.version,
            seats,
            columns: column(layout.width()),
            aisles,
        })
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
        let tickets = req.tickets.as_ref().map_or_else(|| Tickets::adults(seats.len()), Tickets::normalised);
        // Checked before anything is held.
        let lines = self.schedule.lines(&req.showtime, &seats, &tickets)?;
        let cmd = HoldCmd {
            showtime: &req.showtime,
            user: &req.user,
            seats: &seats,
            ttl_ms: ttl.as_millis() as i64,
            key: &req.idempotency_key,
            hold_id: engine::new_hold_id(),
            now: self.clock.now_ms(),
        };
        let first = dispatch!(self, e => e.hold(cmd.clone()).await);
        let result = match first {
            Err(SeatError::Unsynced) => {
                self.rebuild(&req.showtime).await?;
                dispatch!(self, e => e.hold(cmd).await)
            }
            other => other,
        };
        let mut hold = metrics::op("hold", result)?;
        if tickets != Tickets::adults(seats.len()) {
            // Only tickets that are not all adult are remembered (the default
            // costs nothing on the hot path). A retry with other tickets is a
            // different request.
            let until = self.clock.now_ms() + (MAX_HOLD_TOTAL + ENDED_HOLD_MEMORY).as_millis() as i64;
            let now = self.clock.now_ms();
            let stored = dispatch!(self, e => e.put_tickets(&req.showtime, &hold.hold_id, &tickets, until, now).await)?;
            if stored != tickets {
                return Err(SeatError::IdempotencyConflict);
            }
        }
        hold.amount = tickets::amount(&lines);
        hold.lines = lines;
        hold.tickets = tickets;
        Ok(hold)
    }

    /// The tickets a hold was made with (all adult unless it said otherwise).
    async fn hold_tickets(&self, showtime: &str, hold_id: &str, seats: usize) -> Result<Tickets, SeatError> {
        let now = self.clock.now_ms();
        let stored = dispatch!(self, e => e.tickets_of(showtime, hold_id, now).await)?;
        Ok(stored.filter(|t| t.total() == seats as u64).unwrap_or_else(|| Tickets::adults(seats)))
    }

    /// Fills in a hold's tickets, lines and amount from what it was made with.
    async fn priced(&self, mut hold: Hold) -> Result<Hold, SeatError> {
        let tickets = self.hold_tickets(&hold.showtime, &hold.hold_id, hold.seats.len()).await?;
        // A schedule changed since the hold may no longer price it; the hold stands.
        if let Ok(lines) = self.schedule.lines(&hold.showtime, &hold.seats, &tickets) {
            hold.amount = tickets::amount(&lines);
            hold.lines = lines;
            hold.tickets = tickets;
        }
        Ok(hold)
    }

    /// Rebuilds the engine's sold seats of `showtime` from the ledger and
    /// marks the showtime rebuilt, so holds on it are accepted again.
    async fn rebuild(&self, showtime: &str) -> Result<(), SeatError> {
        let sold = self.ledger.sold_seats(showtime).await?;
        let mut by_booking: Vec<CachedBooking> = Vec::new();
        for s in sold {
            let Some(seat) = SeatId::parse(&s.seat) else { continue };
            match by_booking.iter_mut().find(|b| b.booking_id == s.booking_id) {
                Some(b) => b.seats.push(seat),
                None => by_booking.push(CachedBooking {
                    booking_id: s.booking_id,
                    user: s.user,
                    seats: vec![seat],
                    confirmed: true,
                }),
            }
        }
        let now = self.clock.now_ms();
        dispatch!(self, e => e.apply(showtime, &by_booking, true, now).await)?;
        tracing::info!(%showtime, bookings = by_booking.len(), "seat map rebuilt from the ledger");
        Ok(())
    }

    /// Extends `hold_id` by its original TTL from now, at most
    /// [`MAX_EXTENDS`] times and never past [`MAX_HOLD_TOTAL`] after it was made.
    pub async fn extend(&self, showtime: &str, user: &str, hold_id: &str) -> Result<Hold, SeatError> {
        self.check_showtime(showtime)?;
        validate_user(user)?;
        validate_hold_id(hold_id)?;
        let now = self.clock.now_ms();
        let hold = metrics::op("extend", dispatch!(self, e => e.extend(showtime, user, hold_id, now).await))?;
        self.priced(hold).await
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

    /// Sells the caller's unexpired hold: the booking is committed to the
    /// ledger first (where a seat sold before refuses the sale, whatever
    /// the cache said), then the cache sells the seats and publishes the
    /// delta. Confirming again returns the same booking. The tickets are the
    /// hold's (all adult unless the hold said otherwise).
    pub async fn confirm(&self, showtime: &str, user: &str, hold_id: &str) -> Result<Booking, SeatError> {
        self.confirm_with(showtime, user, hold_id, None).await
    }

    /// [`SeatStore::confirm`] with `tickets` instead of the hold's (`None`:
    /// the hold's); the store prices them from the schedule.
    pub async fn confirm_with(
        &self,
        showtime: &str,
        user: &str,
        hold_id: &str,
        tickets: Option<Tickets>,
    ) -> Result<Booking, SeatError> {
        self.check_showtime(showtime)?;
        validate_user(user)?;
        validate_hold_id(hold_id)?;
        let b = metrics::op("confirm", self.confirm_inner(showtime, user, hold_id, tickets).await)?;
        Ok(b)
    }

    async fn confirm_inner(
        &self,
        showtime: &str,
        user: &str,
        hold_id: &str,
        tickets: Option<Tickets>,
    ) -> Result<Booking, SeatError> {
        if let Some(prior) = self.ledger.booking_by_hold(hold_id).await? {
            if prior.user != user {
                return Err(SeatError::NotOwner);
            }
            if !prior.applied {
                self.apply_record(&prior).await;
            }
            return Ok(self.booking_of(&prior, 0));
        }
        let now = self.clock.now_ms();
        // The hold cannot run out while the ledger commits (see CONFIRM_PIN_MS).
        let seats = dispatch!(self, e => e.pin(showtime, user, hold_id, CONFIRM_PIN_MS, now).await)?;
        let tickets = match tickets {
            Some(t) => t.normalised(),
            None => self.hold_tickets(showtime, hold_id, seats.len()).await?,
        };
        let lines = self.schedule.lines(showtime, &seats, &tickets)?;
        let amount = tickets::amount(&lines);
        let details = serde_json::to_string(&Details { tickets: tickets.clone(), lines: lines.clone() })
            .map_err(|e| SeatError::Storage(e.to_string()))?;
        let booking_id = engine::new_booking_id(showtime);
        let mut draft = Booking {
            booking_id: booking_id.clone(),
            code: String::new(),
            showtime: showtime.to_owned(),
            user: user.to_owned(),
            seats: seats.clone(),
            created_at: now,
            status: BookingStatus::Confirmed,
            amount,
            version: 0,
            lines,
            tickets,
            refund: None,
        };
        let mut recorded = None;
        for _ in 0..CODE_ATTEMPTS {
            draft.code = engine::new_booking_code();
            let new = ledger::NewBooking {
                booking_id: booking_id.clone(),
                code: draft.code.clone(),
                hold_id: hold_id.to_owned(),
                showtime: showtime.to_owned(),
                user: user.to_owned(),
                seats: seats.iter().map(|s| s.as_str().to_owned()).collect(),
                details: details.clone(),
                amount: i64::from(amount),
                created_at: now,
            };
            match self.ledger.record_booking(&new, &self.events(&draft)?).await {
                Err(ledger::LedgerError::CodeTaken) => continue,
                Err(ledger::LedgerError::SeatsSold(seats)) => {
                    // The cache did not show a sale the ledger has: bring it up to date.
                    if let Err(e) = self.rebuild(showtime).await {
                        tracing::warn!(%showtime, error = %e, "seat map rebuild after a refused sale failed");
                    }
                    return Err(ledger::LedgerError::SeatsSold(seats).into());
                }
                other => {
                    recorded = Some(other?.into_record());
                    break;
                }
            }
        }
        let record = recorded.ok_or_else(|| SeatError::Storage("no free booking code".into()))?;
        self.kick.notify_one();
        if record.booking_id != booking_id {
            // A concurrent confirm of the same hold committed first.
            self.apply_record(&record).await;
            return Ok(self.booking_of(&record, 0));
        }
        let cached = dispatch!(self, e => e.confirm(showtime, user, hold_id, &booking_id, now).await);
        let version = match cached {
            Ok(v) => {
                self.mark_applied(&record).await;
                v
            }
            // The hold ended between the check and the sale (it expired, or
            // the cache lost it): the committed sale wins.
            Err(SeatError::HoldExpired | SeatError::HoldNotFound | SeatError::NotOwner) => {
                self.apply_record(&record).await
            }
            Err(e) => {
                // Committed: the reconciler brings the cache up to date.
                tracing::warn!(%showtime, booking = %booking_id, error = %e, "booking committed; seat cache not updated yet");
                0
            }
        };
        Ok(self.booking_of(&record, version))
    }

    /// Cancels the caller's booking in the ledger, then frees its seats in
    /// the cache.
    pub async fn cancel_booking(&self, user: &str, booking_id: &str) -> Result<Booking, SeatError> {
        validate_user(user)?;
        let showtime = engine::showtime_of_booking(booking_id).ok_or(SeatError::BookingNotFound)?;
        // Only scheduled showtimes: a made-up id must not create state.
        self.check_showtime(showtime).map_err(|_| SeatError::BookingNotFound)?;
        let now = self.clock.now_ms();
        let result = async {
            let prior = self.ledger.booking(booking_id).await?.ok_or(SeatError::BookingNotFound)?;
            let mut draft = self.booking_of(&prior, 0);
            draft.status = BookingStatus::Cancelled;
            if prior.payment == Some(ledger::PaymentState::Confirmed) {
                // The cancel's transaction makes the refund owed: its event says so.
                draft.refund = Some(Refund::Pending);
            }
            let record = self.ledger.cancel_booking(booking_id, user, now, &self.events(&draft)?).await?;
            self.kick.notify_one();
            if record.payment == Some(ledger::PaymentState::RefundPending) {
                self.refunds.notify_one();
            }
            let version = self.apply_record(&record).await;
            Ok(self.booking_of(&record, version))
        }
        .await;
        metrics::op("cancel", result)
    }

    /// One of the caller's bookings, from the ledger (`not_owner` for
    /// someone else's).
    pub async fn booking(&self, user: &str, booking_id: &str) -> Result<Booking, SeatError> {
        validate_user(user)?;
        let record = self.ledger.booking(booking_id).await?.ok_or(SeatError::BookingNotFound)?;
        if record.user != user {
            return Err(SeatError::NotOwner);
        }
        Ok(self.booking_of(&record, 0))
    }

    /// One of the caller's bookings by its code (`not_owner` for someone
    /// else's; the code as a person may type it, see [`BookingCode::parse`]).
    pub async fn booking_by_code(&self, user: &str, code: &str) -> Result<Booking, SeatError> {
        validate_user(user)?;
        let code = BookingCode::parse(code).ok_or(SeatError::BookingNotFound)?;
        let record = self.ledger.booking_by_code(code.as_str()).await?.ok_or(SeatError::BookingNotFound)?;
        if record.user != user {
            return Err(SeatError::NotOwner);
        }
        Ok(self.booking_of(&record, 0))
    }

    /// The caller's bookings (confirmed and cancelled), oldest first, from
    /// the ledger.
    pub async fn my_bookings(&self, user: &str) -> Result<Vec<Booking>, SeatError> {
        validate_user(user)?;
        let list = self.ledger.bookings_of(user).await?;
        Ok(list.iter().map(|b| self.booking_of(b, 0)).collect())
    }

    /// Brings the cache up to date with bookings whose last change it did not
    /// hear of (a node died between the commit and the cache update, or
    /// Redis failed then); returns how many were applied. Run by the sweeper.
    pub async fn reconcile(&self) -> Result<usize, SeatError> {
        let pending = self.ledger.unapplied(RECONCILE_BATCH).await?;
        for b in &pending {
            if self.schedule.get().showtime(&b.showtime).is_some() {
                self.apply_record(b).await;
            } else {
                // Not scheduled here: nothing is cached for it.
                self.mark_applied(b).await;
            }
        }
        Ok(pending.len())
    }

    /// Applies one ledger booking to the cache and records that it was;
    /// returns the showtime version after (0 when the cache failed: the
    /// reconciler tries again).
    async fn apply_record(&self, b: &ledger::BookingRecord) -> u64 {
        let cached = CachedBooking {
            booking_id: b.booking_id.clone(),
            user: b.user.clone(),
            seats: b.seats.iter().filter_map(|s| SeatId::parse(s)).collect(),
            confirmed: b.status == ledger::BookingStatus::Confirmed,
        };
        let now = self.clock.now_ms();
        match dispatch!(self, e => e.apply(&b.showtime, std::slice::from_ref(&cached), false, now).await) {
            Ok(v) => {
                self.mark_applied(b).await;
                v
            }
            Err(e) => {
                tracing::warn!(booking = %b.booking_id, error = %e, "seat cache not updated; retrying later");
                0
            }
        }
    }

    async fn mark_applied(&self, b: &ledger::BookingRecord) {
        if let Err(e) = self.ledger.mark_applied(&b.booking_id, b.status).await {
            // Harmless: applying again changes nothing.
            tracing::warn!(booking = %b.booking_id, error = %e, "could not record the cache update");
        }
    }

    /// The outbox events announcing `b`: one per channel, each with its
    /// idempotency key `<booking>:<status>:<channel>`.
    fn events(&self, b: &Booking) -> Result<Vec<ledger::NewEvent>, SeatError> {
        let payload =
            serde_json::to_string(&BookingEvent::new(b.clone())).map_err(|e| SeatError::Storage(e.to_string()))?;
        let status = match b.status {
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
        };
        let all = self
            .channels
            .iter()
            .map(|c| ledger::NewEvent {
                channel: c.clone(),
                key: format!("{}:{status}:{c}", b.booking_id),
                payload: payload.clone(),
            })
            .collect();
        Ok(mail::addressed(all, &self.contacts, &b.user))
    }

    /// Proposes `n` adjacent seats (see [`best::best_available`]) from the
    /// current map; hold them with [`SeatStore::hold`].
    pub async fn best_available(
        &self,
        showtime: &str,
        n: usize,
        class: Option<SeatClass>,
    ) -> Result<Vec<SeatId>, SeatError> {
        self.best_for(showtime, &best::Wish::seats(n, class)).await
    }

    /// Proposes the adjacent seats of `wish` (see [`best::best_for`]: a
    /// placement, wheelchair spaces with companions beside them) from the
    /// current map; hold them with [`SeatStore::hold`].
    pub async fn best_for(&self, showtime: &str, wish: &best::Wish) -> Result<Vec<SeatId>, SeatError> {
        let n = wish.n;
        if n == 0 || n > MAX_SEATS_PER_HOLD {
            return Err(SeatError::Invalid(format!("ask for 1-{MAX_SEATS_PER_HOLD} seats")));
        }
        if wish.wheelchair > n {
            return Err(SeatError::Invalid("more wheelchair spaces than seats".to_owned()));
        }
        let map = self.snapshot(showtime, None).await?;
        let schedule = self.schedule.get();
        let layout = schedule.layout_of(showtime).ok_or_else(|| unknown_showtime(showtime))?;
        let taken: std::collections::HashSet<&SeatId> =
            map.seats.iter().filter(|s| s.state != SeatState::Free).map(|s| &s.seat).collect();
        best::best_for(layout, |s| taken.contains(s), wish).ok_or(SeatError::NoFit(n))
    }

    /// Releases every hold that expired by now and publishes the releases;
    /// returns how many seats were freed. Safe to run on every node at once.
    pub async fn sweep_expired(&self) -> Result<usize, SeatError> {
        let now = self.clock.now_ms();
        metrics::swept(dispatch!(self, e => e.sweep(now).await))
    }

    /// Runs [`SeatStore::refresh_schedule`], [`SeatStore::reconcile`] and
    /// [`SeatStore::sweep_expired`] every `every` until `shutdown`.
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
                    if let Err(e) = self.reconcile().await {
                        tracing::warn!(error = %e, "reconciling the seat cache with the ledger failed; retrying next tick");
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

/// Most bookings one reconcile pass applies.
const RECONCILE_BATCH: i64 = 64;

/// What the ledger's `details` column holds for a booking: its tickets and
/// priced lines (`{}` for bookings made before ticket types).
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Details {
    #[serde(default)]
    tickets: Tickets,
    #[serde(default)]
    lines: Vec<Line>,
}

impl SeatStore {
    /// The wire shape of a ledger booking; `version` is the showtime version
    /// after its last change when known (0: not known here).
    fn booking_of(&self, b: &ledger::BookingRecord, version: u64) -> Booking {
        let mut booking = booking_of(b, version);
        let details: Details = serde_json::from_str(&b.details).unwrap_or_default();
        if details.lines.is_empty() {
            // Before ticket types: all adult, at the schedule's prices.
            let tickets = Tickets::adults(booking.seats.len());
            if let Ok(lines) = self.schedule.lines(&b.showtime, &booking.seats, &tickets) {
                booking.lines = lines;
                booking.tickets = tickets;
            }
        } else {
            booking.lines = details.lines;
            booking.tickets = details.tickets;
        }
        booking
    }
}

fn booking_of(b: &ledger::BookingRecord, version: u64) -> Booking {
    Booking {
        booking_id: b.booking_id.clone(),
        code: b.code.clone(),
        showtime: b.showtime.clone(),
        user: b.user.clone(),
        seats: b.seats.iter().filter_map(|s| SeatId::parse(s)).collect(),
        created_at: b.created_at,
        status: match b.status {
            ledger::BookingStatus::Confirmed => BookingStatus::Confirmed,
            ledger::BookingStatus::Cancelled => BookingStatus::Cancelled,
        },
        amount: u32::try_from(b.amount).unwrap_or(u32::MAX),
        version,
        lines: Vec::new(),
        tickets: Tickets::default(),
        refund: match (b.status, b.payment) {
            (ledger::BookingStatus::Cancelled, Some(ledger::PaymentState::RefundPending)) => Some(Refund::Pending),
            (ledger::BookingStatus::Cancelled, Some(ledger::PaymentState::Refunded)) => Some(Refund::Refunded),
            _ => None,
        },
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

/// A layout position as it goes on the wire (a row has at most
/// [`domain::MAX_ROW_WIDTH`] positions, so it always fits).
fn column(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}
