//! The in-process engine: seat state of each showtime behind its own mutex,
//! changed and published (with [`bus::MemoryBus::publish_now`]) under that
//! lock, so version order is offset order. Same semantics as the Redis
//! scripts; it must never await while holding a showtime's lock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use dashmap::DashMap;

use crate::SharedSchedule;
use crate::domain::SeatId;
use crate::engine::{CachedBooking, HoldCmd, Taken, TakenSeat, Target};
use crate::error::SeatError;
use crate::tickets::Tickets;
use crate::types::{
    Delta, ENDED_HOLD_MEMORY, Hold, IDEMPOTENCY_TTL, MAX_EXTENDS, MAX_HOLD_TOTAL, Millis, Released, SeatState,
};

#[derive(Debug, Clone)]
enum Cell {
    Held(String),
    Sold(String),
}

#[derive(Debug, Clone, PartialEq)]
enum HoldStatus {
    Live,
    Expired,
    Released,
    Confirmed(String),
}

#[derive(Debug, Clone)]
struct HoldRec {
    user: String,
    seats: Vec<SeatId>,
    expires: Millis,
    first: Millis,
    ttl: Millis,
    extends: u32,
    status: HoldStatus,
}

#[derive(Debug, Clone)]
struct Remembered {
    expires: Millis,
    seats: Vec<SeatId>,
    result: Result<Hold, SeatError>,
}

#[derive(Default)]
struct Show {
    version: u64,
    seats: HashMap<SeatId, Cell>,
    holds: HashMap<String, HoldRec>,
    /// The cache of the ledger's bookings: booking id → buyer.
    bookings: HashMap<String, String>,
    /// Whether the sold seats were rebuilt from the ledger (holds wait for it).
    synced: bool,
    idem: HashMap<(String, String), Remembered>,
    /// Live holds by expiry, so expiring is O(due holds).
    expiries: BTreeSet<(Millis, String)>,
    /// Ended holds by end time, forgotten after [`ENDED_HOLD_MEMORY`].
    ended: VecDeque<(Millis, String)>,
    /// Idempotency entries by expiry (inserted with a constant TTL, so in order).
    idem_order: VecDeque<(Millis, (String, String))>,
    /// Changes of the operation in progress, published by [`Show::commit`].
    changes: Vec<(SeatId, SeatState)>,
    /// Until when this state is kept (ms; 0: never written): like the Redis
    /// keys' expiry, [`crate::SHOWTIME_STATE_KEEP`] after the show ends. The
    /// sweeper forgets the showtime after that.
    keep_until: Millis,
}

/// The in-process engine. Cheap to clone.
#[derive(Clone)]
pub(crate) struct MemoryEngine {
    bus: bus::MemoryBus,
    schedule: SharedSchedule,
    shows: Arc<DashMap<String, Arc<Mutex<Show>>>>,
    /// The tickets of holds that are not all adult: hold id → (tickets,
    /// remembered until).
    tickets: Arc<DashMap<String, (Tickets, Millis)>>,
}

impl MemoryEngine {
    pub(crate) fn new(bus: bus::MemoryBus, schedule: SharedSchedule) -> MemoryEngine {
        MemoryEngine { bus, schedule, shows: Arc::default(), tickets: Arc::default() }
    }

    /// Remembers the tickets of a hold until `until` unless some are
    /// remembered already; returns the remembered ones.
    pub(crate) async fn put_tickets(
        &self,
        _showtime: &str,
        hold_id: &str,
        tickets: &Tickets,
        until: Millis,
        now: Millis,
    ) -> Result<Tickets, SeatError> {
        let mut e = self.tickets.entry(hold_id.to_owned()).or_insert_with(|| (tickets.clone(), until));
        if e.1 <= now {
            *e = (tickets.clone(), until);
        }
        Ok(e.0.clone())
    }

    /// The remembered tickets of a hold.
    pub(crate) async fn tickets_of(
        &self,
        _showtime: &str,
        hold_id: &str,
        now: Millis,
    ) -> Result<Option<Tickets>, SeatError> {
        Ok(self.tickets.get(hold_id).filter(|e| e.1 > now).map(|e| e.0.clone()))
    }

    fn show(&self, id: &str) -> Arc<Mutex<Show>> {
        self.shows.entry(id.to_owned()).or_default().clone()
    }

    /// Runs `f` on a showtime's state under its lock, after expiring due
    /// holds, then publishes every change made as one delta.
    fn with_show<R>(&self, showtime: &str, now: Millis, f: impl FnOnce(&mut Show) -> R) -> R {
        let show = self.show(showtime);
        let mut st = lock(&show);
        st.expire_due(now);
        let r = f(&mut st);
        self.commit(showtime, &mut st);
        st.keep_until = self.schedule.keep_until(showtime, now);
        r
    }

    /// Like [`MemoryEngine::with_show`], but `f` runs before due holds
    /// expire (a confirm of a sale the ledger committed wins over an expiry
    /// that fell due meanwhile).
    fn with_show_then_expire<R>(&self, showtime: &str, now: Millis, f: impl FnOnce(&mut Show) -> R) -> R {
        let show = self.show(showtime);
        let mut st = lock(&show);
        let r = f(&mut st);
        st.expire_due(now);
        self.commit(showtime, &mut st);
        st.keep_until = self.schedule.keep_until(showtime, now);
        r
    }

    fn commit(&self, showtime: &str, st: &mut Show) {
        if st.changes.is_empty() {
            return;
        }
        st.version += 1;
        let json = Delta::to_json(showtime, st.version, &st.changes);
        st.changes.clear();
        if let Ok(topic) = bus::Topic::new(bus::TopicKind::Showtime, showtime) {
            self.bus.publish_now(&topic, Bytes::from(json));
        }
    }

    pub(crate) async fn snapshot(&self, showtime: &str, viewer: Option<&str>) -> Result<Taken, SeatError> {
        // Reads do not create state: an untouched showtime is all free.
        let Some(show) = self.shows.get(showtime).map(|e| e.value().clone()) else {
            return Ok(Taken::default());
        };
        let st = lock(&show);
        let mut taken = Taken { version: st.version, synced: st.synced, seats: HashMap::with_capacity(st.seats.len()) };
        for (seat, cell) in &st.seats {
            let t = match cell {
                Cell::Held(h) => {
                    let rec = st.holds.get(h);
                    let mine = viewer.is_some() && rec.map(|r| r.user.as_str()) == viewer;
                    TakenSeat {
                        state: SeatState::Held,
                        mine,
                        hold: if mine { rec.map(|r| (r.expires, h.clone())) } else { None },
                    }
                }
                Cell::Sold(b) => {
                    let mine = viewer.is_some() && st.bookings.get(b).map(String::as_str) == viewer;
                    TakenSeat { state: SeatState::Sold, mine, hold: None }
                }
            };
            taken.seats.insert(seat.clone(), t);
        }
        Ok(taken)
    }

    pub(crate) async fn hold(&self, cmd: HoldCmd<'_>) -> Result<Hold, SeatError> {
        self.with_show(cmd.showtime, cmd.now, |st| {
            if !st.synced {
                return Err(SeatError::Unsynced);
            }
            let key = (cmd.user.to_owned(), cmd.key.to_owned());
            if let Some(r) = st.idem.get(&key).filter(|r| r.expires > cmd.now) {
                return if r.seats == cmd.seats { r.result.clone() } else { Err(SeatError::IdempotencyConflict) };
            }
            let taken: Vec<SeatId> = cmd.seats.iter().filter(|s| st.seats.contains_key(*s)).cloned().collect();
            let result = if taken.is_empty() {
                let expires = cmd.now + cmd.ttl_ms;
                for s in cmd.seats {
                    st.seats.insert(s.clone(), Cell::Held(cmd.hold_id.clone()));
                    st.changes.push((s.clone(), SeatState::Held));
                }
                st.expiries.insert((expires, cmd.hold_id.clone()));
                st.holds.insert(
                    cmd.hold_id.clone(),
                    HoldRec {
                        user: cmd.user.to_owned(),
                        seats: cmd.seats.to_vec(),
                        expires,
                        first: cmd.now,
                        ttl: cmd.ttl_ms,
                        extends: 0,
                        status: HoldStatus::Live,
                    },
                );
                Ok(Hold {
                    hold_id: cmd.hold_id.clone(),
                    showtime: cmd.showtime.to_owned(),
                    seats: cmd.seats.to_vec(),
                    expires_at: expires,
                    extends_left: MAX_EXTENDS,
                    // The version this hold's delta will carry.
                    version: st.version + 1,
                    lines: Vec::new(),
                    tickets: Tickets::default(),
                    amount: 0,
                })
            } else {
                Err(SeatError::Unavailable(taken))
            };
            let expires = cmd.now + IDEMPOTENCY_TTL.as_millis() as i64;
            st.idem_order.push_back((expires, key.clone()));
            st.idem.insert(key, Remembered { expires, seats: cmd.seats.to_vec(), result: result.clone() });
            result
        })
    }

    pub(crate) async fn extend(
        &self,
        showtime: &str,
        user: &str,
        hold_id: &str,
        now: Millis,
    ) -> Result<Hold, SeatError> {
        self.with_show(showtime, now, |st| {
            // Extending changes no public state; only expiries swept now do.
            let version = st.version + u64::from(!st.changes.is_empty());
            let rec = st.holds.get_mut(hold_id).ok_or(SeatError::HoldNotFound)?;
            live_hold_of(rec, user)?;
            let cap = rec.first + MAX_HOLD_TOTAL.as_millis() as i64;
            let new = (now + rec.ttl).min(cap);
            if rec.extends >= MAX_EXTENDS || new <= rec.expires {
                return Err(SeatError::ExtendLimit);
            }
            let old = rec.expires;
            rec.expires = new;
            rec.extends += 1;
            let hold = Hold {
                hold_id: hold_id.to_owned(),
                showtime: showtime.to_owned(),
                seats: rec.seats.clone(),
                expires_at: new,
                extends_left: MAX_EXTENDS - rec.extends,
                version,
                lines: Vec::new(),
                tickets: Tickets::default(),
                amount: 0,
            };
            st.expiries.remove(&(old, hold_id.to_owned()));
            st.expiries.insert((new, hold_id.to_owned()));
            Ok(hold)
        })
    }

    pub(crate) async fn release(
        &self,
        showtime: &str,
        user: &str,
        target: &Target,
        now: Millis,
    ) -> Result<Released, SeatError> {
        self.with_show(showtime, now, |st| {
            let mut freed = Vec::new();
            let mut ended = Vec::new();
            match target {
                Target::Hold(id) => {
                    let rec = st.holds.get_mut(id).ok_or(SeatError::HoldNotFound)?;
                    live_hold_of(rec, user)?;
                    rec.status = HoldStatus::Released;
                    freed = rec.seats.clone();
                    ended.push((rec.expires, id.clone()));
                }
                Target::Seats(seats) => {
                    for s in seats {
                        let Some(Cell::Held(h)) = st.seats.get(s) else { continue };
                        let Some(rec) = st.holds.get_mut(h) else { continue };
                        if rec.user != user || rec.status != HoldStatus::Live {
                            continue;
                        }
                        rec.seats.retain(|x| x != s);
                        if rec.seats.is_empty() {
                            rec.status = HoldStatus::Released;
                            ended.push((rec.expires, h.clone()));
                        }
                        freed.push(s.clone());
                    }
                }
            }
            for (expires, id) in ended {
                st.note_ended(expires, id, now);
            }
            for s in &freed {
                st.seats.remove(s);
                st.changes.push((s.clone(), SeatState::Free));
            }
            let version = st.version + u64::from(!st.changes.is_empty());
            Ok(Released { seats: freed, version })
        })
    }

    /// Makes the user's live hold live at least `pin_ms` from now (the
    /// first step of a confirm); returns its seats.
    pub(crate) async fn pin(
        &self,
        showtime: &str,
        user: &str,
        hold_id: &str,
        pin_ms: i64,
        now: Millis,
    ) -> Result<Vec<SeatId>, SeatError> {
        self.with_show(showtime, now, |st| {
            let rec = st.holds.get_mut(hold_id).ok_or(SeatError::HoldNotFound)?;
            live_hold_of(rec, user)?;
            let seats = rec.seats.clone();
            let old = rec.expires;
            if old < now + pin_ms {
                rec.expires = now + pin_ms;
                st.expiries.remove(&(old, hold_id.to_owned()));
                st.expiries.insert((now + pin_ms, hold_id.to_owned()));
            }
            Ok(seats)
        })
    }

    /// Publishes `data` on `topic` (the outbox's live channel).
    pub(crate) async fn publish(&self, topic: &bus::Topic, data: Bytes) -> Result<(), SeatError> {
        self.bus.publish_now(topic, data);
        Ok(())
    }

    /// Sells the user's live hold to `booking_id`, which the ledger committed.
    pub(crate) async fn confirm(
        &self,
        showtime: &str,
        user: &str,
        hold_id: &str,
        booking_id: &str,
        now: Millis,
    ) -> Result<u64, SeatError> {
        self.with_show_then_expire(showtime, now, |st| {
            let rec = st.holds.get_mut(hold_id).ok_or(SeatError::HoldNotFound)?;
            if rec.user != user {
                return Err(SeatError::NotOwner);
            }
            match &rec.status {
                HoldStatus::Live => {}
                HoldStatus::Confirmed(b) if b == booking_id => return Ok(st.version),
                HoldStatus::Expired => return Err(SeatError::HoldExpired),
                HoldStatus::Released | HoldStatus::Confirmed(_) => return Err(SeatError::HoldNotFound),
            }
            rec.status = HoldStatus::Confirmed(booking_id.to_owned());
            let seats = rec.seats.clone();
            let expires = rec.expires;
            st.note_ended(expires, hold_id.to_owned(), now);
            for s in &seats {
                st.seats.insert(s.clone(), Cell::Sold(booking_id.to_owned()));
                st.changes.push((s.clone(), SeatState::Sold));
            }
            st.bookings.insert(booking_id.to_owned(), user.to_owned());
            Ok(st.version + 1)
        })
    }

    /// Applies the ledger's bookings whatever the cache holds (see
    /// `seats_apply` in `bus/lua/seats.lua`); `mark` records the showtime as
    /// rebuilt. Returns the version after.
    pub(crate) async fn apply(
        &self,
        showtime: &str,
        bookings: &[CachedBooking],
        mark: bool,
        now: Millis,
    ) -> Result<u64, SeatError> {
        Ok(self.with_show(showtime, now, |st| {
            for b in bookings {
                if b.confirmed {
                    for s in &b.seats {
                        if !matches!(st.seats.get(s), Some(Cell::Sold(id)) if *id == b.booking_id) {
                            st.seats.insert(s.clone(), Cell::Sold(b.booking_id.clone()));
                            st.changes.push((s.clone(), SeatState::Sold));
                        }
                    }
                    st.bookings.insert(b.booking_id.clone(), b.user.clone());
                } else {
                    for s in &b.seats {
                        if matches!(st.seats.get(s), Some(Cell::Sold(id)) if *id == b.booking_id) {
                            st.seats.remove(s);
                            st.changes.push((s.clone(), SeatState::Free));
                        }
                    }
                    st.bookings.remove(&b.booking_id);
                }
            }
            if mark {
                st.synced = true;
            }
            st.version + u64::from(!st.changes.is_empty())
        }))
    }

    pub(crate) async fn sweep(&self, now: Millis) -> Result<usize, SeatError> {
        let shows: Vec<(String, Arc<Mutex<Show>>)> =
            self.shows.iter().map(|e| (e.key().clone(), e.value().clone())).collect();
        let mut freed = 0;
        let mut past = Vec::new();
        for (id, show) in shows {
            let mut st = lock(&show);
            freed += st.expire_due(now);
            self.commit(&id, &mut st);
            if st.keep_until != 0 && st.keep_until <= now {
                past.push(id);
            }
        }
        self.forget(&past, now);
        self.tickets.retain(|_, e| e.1 > now);
        Ok(freed)
    }

    /// Drops the state of showtimes kept long enough, as Redis expires their
    /// keys (the ledger keeps the bookings; a later read rebuilds from it).
    fn forget(&self, showtimes: &[String], now: Millis) {
        if showtimes.is_empty() {
            return;
        }
        for id in showtimes {
            // Re-checked under the lock: an operation may have written since.
            self.shows.remove_if(id, |_, show| {
                let st = lock(show);
                st.keep_until != 0 && st.keep_until <= now
            });
        }
    }
}

impl Show {
    /// Ends every live hold whose time is up and forgets old ended holds and
    /// idempotency entries; returns how many seats were freed.
    fn expire_due(&mut self, now: Millis) -> usize {
        let mut freed = 0;
        while let Some((expires, id)) = self.expiries.first().cloned() {
            if expires > now {
                break;
            }
            self.expiries.pop_first();
            let Some(rec) = self.holds.get_mut(&id) else { continue };
            rec.status = HoldStatus::Expired;
            for s in &rec.seats {
                if matches!(self.seats.get(s), Some(Cell::Held(h)) if *h == id) {
                    self.seats.remove(s);
                    self.changes.push((s.clone(), SeatState::Free));
                    freed += 1;
                }
            }
            self.ended.push_back((now, id));
        }
        let forget_before = now - ENDED_HOLD_MEMORY.as_millis() as i64;
        while self.ended.front().is_some_and(|(at, _)| *at <= forget_before) {
            if let Some((_, id)) = self.ended.pop_front() {
                self.holds.remove(&id);
            }
        }
        while self.idem_order.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((at, key)) = self.idem_order.pop_front()
                && self.idem.get(&key).is_some_and(|r| r.expires == at)
            {
                self.idem.remove(&key);
            }
        }
        freed
    }

    /// Records that a live hold ended (released or confirmed) at `now`.
    fn note_ended(&mut self, expires: Millis, id: String, now: Millis) {
        self.expiries.remove(&(expires, id.clone()));
        self.ended.push_back((now, id));
    }
}

/// Checks that `rec` is a live hold of `user`.
fn live_hold_of(rec: &HoldRec, user: &str) -> Result<(), SeatError> {
    if rec.user != user {
        return Err(SeatError::NotOwner);
    }
    match rec.status {
        HoldStatus::Live => Ok(()),
        HoldStatus::Expired => Err(SeatError::HoldExpired),
        HoldStatus::Released | HoldStatus::Confirmed(_) => Err(SeatError::HoldNotFound),
    }
}

/// Locks a showtime, recovering from poisoning: every operation validates
/// before it mutates, so a panic cannot leave a half-applied change.
fn lock(m: &Mutex<Show>) -> MutexGuard<'_, Show> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
