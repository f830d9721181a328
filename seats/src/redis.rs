//! The Redis engine: seat state per showtime under the topic's hash tag
//! (`bus::keys::ShowtimeKeys`), changed only by the seat functions of the
//! bus's library (`bus/lua/seats.lua`), which publish each delta on the bus
//! in the same atomic step. Redis is reached through `bus::RedisHandle`.
//!
//! One thing crosses slots and so happens right after a script, never inside
//! it: the global index of showtimes with live holds (for the sweeper).
//! Bookings live in the ledger; Redis holds a cache of their seats (who
//! bought a sold seat), rebuilt by `seats_apply` when Redis lost it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Deserializer};

use bus::keys::{ShowtimeKeys, seats as keys};
use bus::{Arg, BusConfig, Function, RedisHandle, Reply as RedisReply, Topic, TopicKind};

use crate::domain::SeatId;
use crate::engine::{CachedBooking, HoldCmd, Taken, TakenSeat, Target};
use crate::error::SeatError;
use crate::lanes::{Committer, Lanes, Op, Pending};
use crate::tickets::Tickets;
use crate::types::{Hold, IDEMPOTENCY_TTL, MAX_EXTENDS, MAX_HOLD_TOTAL, Millis, Released, SeatState};
use crate::{ScheduleId, SharedSchedule};

/// Sorted set: showtime id → earliest time one of its holds may expire.
pub const HOLD_INDEX_KEY: &str = keys::HOLD_INDEX;
/// Hash holding the cluster's schedule: `v` (version, bumped by every admin
/// load), `doc` (the schedule JSON) and `h` (its SHA-1). Nodes compare `v`
/// and `h` with theirs every sweep interval and reload on a change; a node
/// finding it missing or older than its own offers its own (`schedule_share`).
pub const SCHEDULE_KEY: &str = keys::SCHEDULE;
/// Most showtimes one sweep pass handles.
const SWEEP_BATCH: i64 = 256;
/// How often a node re-checks every scheduled showtime's earliest hold
/// against the global index (repairs the entry of a hold whose node died
/// between its script and its index update).
const REINDEX_EVERY: Millis = 30_000;

/// The Redis engine. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RedisEngine {
    inner: Arc<Inner>,
}

struct Inner {
    redis: RedisHandle,
    bus: bus::Bus,
    config: BusConfig,
    schedule: SharedSchedule,
    /// When this node last ran [`RedisEngine::reindex`] (ms).
    reindexed_at: AtomicI64,
    /// Hold, extend and release wait here for their showtime's next batch.
    lanes: Arc<Lanes<Reply>>,
}

/// What every seat function returns (fields depend on the function).
#[derive(Debug, Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    err: Option<String>,
    #[serde(default, deserialize_with = "seat_list")]
    seats: Vec<SeatId>,
    #[serde(default, deserialize_with = "seat_list")]
    req: Vec<SeatId>,
    #[serde(default)]
    hold: Option<String>,
    #[serde(default)]
    e: Option<Millis>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    first: bool,
    #[serde(default)]
    next: Option<Millis>,
    #[serde(default)]
    freed: usize,
    #[serde(default)]
    version: u64,
}

impl Reply {
    fn check(self) -> Result<Reply, SeatError> {
        if self.ok {
            Ok(self)
        } else {
            let code = self.err.unwrap_or_default();
            Err(SeatError::from_script(&code, self.seats))
        }
    }
}

impl Committer<Reply> for RedisEngine {
    /// Encodes the batch for `seats_ops` (see `bus/lua/seats.lua`): one
    /// instant for all (the latest of the operations'), and each distinct
    /// idempotency key once among the KEYS.
    async fn commit(&self, showtime: &str, ops: &[Pending<Reply>]) -> Result<Vec<Reply>, SeatError> {
        let now = ops.iter().map(|p| p.now).max().unwrap_or_default();
        let mut keys = Self::keys(showtime)?.function_keys();
        let mut args = self.common_args(showtime, now);
        args.push(Arg::Int(ops.len() as i64));
        for p in ops {
            let at = args.len();
            let (kind, user) = match &p.op {
                Op::Hold { user, .. } => ("h", user),
                Op::Extend { user, .. } => ("e", user),
                Op::Release { user, .. } => ("r", user),
            };
            args.extend([Arg::from(kind), Arg::from(user.as_str()), Arg::Int(0)]);
            match &p.op {
                Op::Hold { hold_id, ttl_ms, idem_key, seats, .. } => {
                    let index = match keys.iter().position(|k| k == idem_key) {
                        Some(i) => i + 1,
                        None => {
                            keys.push(idem_key.clone());
                            keys.len()
                        }
                    };
                    args.extend([
                        Arg::from(hold_id.as_str()),
                        Arg::Int(*ttl_ms),
                        Arg::Int(now + *ttl_ms),
                        Arg::Int(IDEMPOTENCY_TTL.as_millis() as i64),
                        Arg::Int(index as i64),
                    ]);
                    args.extend(seats.iter().map(|s| Arg::from(s.as_str())));
                }
                Op::Extend { hold_id, .. } => args.extend([
                    Arg::from(hold_id.as_str()),
                    Arg::Int(MAX_HOLD_TOTAL.as_millis() as i64),
                    Arg::from(MAX_EXTENDS),
                ]),
                Op::Release { target: Target::Hold(id), .. } => {
                    args.extend([Arg::from("hold"), Arg::from(id.as_str())])
                }
                Op::Release { target: Target::Seats(seats), .. } => {
                    args.push(Arg::from("seats"));
                    args.extend(seats.iter().map(|s| Arg::from(s.as_str())));
                }
            }
            args[at + 2] = Arg::Int((args.len() - at - 3) as i64);
        }
        let reply = self.inner.redis.call(Function::SeatsOps, keys, args).await?;
        json_reply(&reply)
    }
}

/// Lua's cjson encodes an empty list as `{}`: accept that as empty.
fn seat_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SeatId>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(items) => {
            items.into_iter().map(|v| serde_json::from_value(v).map_err(serde::de::Error::custom)).collect()
        }
        _ => Ok(Vec::new()),
    }
}

#[derive(Deserialize)]
struct SnapshotReply {
    version: u64,
    #[serde(default)]
    synced: u8,
    seats: Vec<(SeatId, String, u8, Millis, String)>,
}

impl RedisEngine {
    pub(crate) fn new(bus: bus::RedisBus, config: BusConfig, schedule: SharedSchedule) -> RedisEngine {
        RedisEngine {
            inner: Arc::new(Inner {
                redis: bus.handle().clone(),
                bus: bus::Bus::Redis(bus),
                config,
                schedule,
                reindexed_at: AtomicI64::new(0),
                lanes: Lanes::new(),
            }),
        }
    }

    fn topic(showtime: &str) -> Result<Topic, SeatError> {
        Topic::new(TopicKind::Showtime, showtime).map_err(|_| SeatError::UnknownShowtime(showtime.to_owned()))
    }

    fn keys(showtime: &str) -> Result<ShowtimeKeys, SeatError> {
        Ok(ShowtimeKeys::new(&Self::topic(showtime)?))
    }

    /// ARGV 1 to 6, which every seat function takes.
    fn common_args(&self, showtime: &str, now: Millis) -> Vec<Arg> {
        let c = &self.inner.config;
        vec![
            Arg::Int(now),
            Arg::Int(c.history_size as i64),
            Arg::Int(c.history_ttl.as_secs() as i64),
            Arg::from(format!("{:08x}", rand::random::<u32>())),
            Arg::from(showtime),
            Arg::Int(self.inner.schedule.keep_until(showtime, now)),
        ]
    }

    async fn run(&self, function: Function, showtime: &str, now: Millis, args: Vec<Arg>) -> Result<Reply, SeatError> {
        let keys = Self::keys(showtime)?.function_keys();
        let mut all = self.common_args(showtime, now);
        all.extend(args);
        let reply = self.inner.redis.call(function, keys, all).await?;
        json_reply(&reply)
    }

    /// Queues `op` for the showtime's next batch (see [`crate::lanes`]).
    async fn submit(&self, showtime: &str, op: Op, now: Millis) -> Result<Reply, SeatError> {
        self.inner.lanes.clone().submit(self, showtime, op, now).await
    }

    async fn cmd(&self, name: &'static str, args: Vec<Arg>) -> Result<RedisReply, SeatError> {
        Ok(self.inner.redis.cmd(name, args).await?)
    }

    async fn index_lower(&self, showtime: &str, at: Millis) -> Result<(), SeatError> {
        let args = vec![Arg::Int(at), Arg::from(showtime)];
        self.inner.redis.call(Function::HoldIndexLower, vec![HOLD_INDEX_KEY.into()], args).await?;
        Ok(())
    }

    /// Offers `doc` (this node's schedule, at `version`, 0 for a seed) as the
    /// cluster's: stored unless a schedule of at least that version is;
    /// returns the stored identity and document.
    pub(crate) async fn share_schedule(
        &self,
        doc: &str,
        version: u64,
    ) -> Result<(ScheduleId, Option<String>), SeatError> {
        let args = vec![doc.into(), Arg::Int(version as i64)];
        let reply = self.inner.redis.call(Function::ScheduleShare, vec![SCHEDULE_KEY.into()], args).await?;
        Ok(id_and_doc(reply))
    }

    /// Stores `doc` as the cluster's schedule; returns its new version.
    pub(crate) async fn store_schedule(&self, doc: &str) -> Result<u64, SeatError> {
        let v = self.inner.redis.call(Function::ScheduleStore, vec![SCHEDULE_KEY.into()], vec![doc.into()]).await?;
        Ok(v.as_u64().unwrap_or(0))
    }

    /// The identity of the cluster's schedule (version 0: none stored).
    pub(crate) async fn schedule_id(&self) -> Result<ScheduleId, SeatError> {
        let reply = self.cmd("HMGET", vec![SCHEDULE_KEY.into(), "v".into(), "h".into()]).await?;
        Ok(id_and_doc(reply).0)
    }

    /// The cluster's schedule: identity and document, read together.
    pub(crate) async fn load_schedule(&self) -> Result<(ScheduleId, Option<String>), SeatError> {
        let reply = self.cmd("HMGET", vec![SCHEDULE_KEY.into(), "v".into(), "h".into(), "doc".into()]).await?;
        Ok(id_and_doc(reply))
    }

    pub(crate) async fn snapshot(&self, showtime: &str, viewer: Option<&str>) -> Result<Taken, SeatError> {
        let args = vec![
            Arg::Int(0),
            Arg::Int(0),
            Arg::Int(0),
            Arg::from(""),
            Arg::from(showtime),
            Arg::Int(0),
            Arg::from(viewer.unwrap_or("")),
        ];
        let reply = self.inner.redis.call(Function::SeatsSnapshot, Self::keys(showtime)?.function_keys(), args).await?;
        let r: SnapshotReply = json_reply(&reply)?;
        let mut seats = HashMap::with_capacity(r.seats.len());
        for (seat, kind, mine, until, hold_id) in r.seats {
            let state = if kind == "h" { SeatState::Held } else { SeatState::Sold };
            let hold = (mine == 1 && state == SeatState::Held).then_some((until, hold_id));
            seats.insert(seat, TakenSeat { state, mine: mine == 1, hold });
        }
        Ok(Taken { version: r.version, synced: r.synced == 1, seats })
    }

    pub(crate) async fn hold(&self, cmd: HoldCmd<'_>) -> Result<Hold, SeatError> {
        let expires = cmd.now + cmd.ttl_ms;
        let op = Op::Hold {
            user: cmd.user.to_owned(),
            hold_id: cmd.hold_id,
            ttl_ms: cmd.ttl_ms,
            idem_key: Self::keys(cmd.showtime)?.hold_idempotency(cmd.user, cmd.key),
            seats: cmd.seats.to_vec(),
        };
        let r = self.submit(cmd.showtime, op, cmd.now).await?;
        if r.err.as_deref() == Some("unsynced") {
            return Err(SeatError::Unsynced);
        }
        if r.req != cmd.seats {
            return Err(SeatError::IdempotencyConflict);
        }
        let r = r.check()?;
        let expires_at = r.e.unwrap_or(expires);
        // Only when no live hold of the showtime expires earlier (otherwise
        // the index entry is at or before that one already); after the script,
        // which, with the sweeper's re-read, closes the race with a sweeper
        // that is moving the entry (see `sweep`). A node that dies between
        // the script and this step leaves the hold for `reindex` to find.
        if r.first {
            self.index_lower(cmd.showtime, expires_at).await?;
        }
        Ok(Hold {
            hold_id: r.hold.unwrap_or_default(),
            showtime: cmd.showtime.to_owned(),
            seats: r.seats,
            expires_at,
            extends_left: MAX_EXTENDS.saturating_sub(r.n.unwrap_or(0)),
            version: r.version,
            lines: Vec::new(),
            tickets: Tickets::default(),
            amount: 0,
        })
    }

    pub(crate) async fn extend(
        &self,
        showtime: &str,
        user: &str,
        hold_id: &str,
        now: Millis,
    ) -> Result<Hold, SeatError> {
        let op = Op::Extend { user: user.to_owned(), hold_id: hold_id.to_owned() };
        let r = self.submit(showtime, op, now).await?.check()?;
        // The index entry is at or before the old expiry, which is enough: the
        // sweeper then finds nothing due and re-indexes the new expiry.
        Ok(Hold {
            hold_id: hold_id.to_owned(),
            showtime: showtime.to_owned(),
            seats: r.seats,
            expires_at: r.e.unwrap_or(now),
            extends_left: MAX_EXTENDS.saturating_sub(r.n.unwrap_or(0)),
            version: r.version,
            lines: Vec::new(),
            tickets: Tickets::default(),
            amount: 0,
        })
    }

    pub(crate) async fn release(
        &self,
        showtime: &str,
        user: &str,
        target: &Target,
        now: Millis,
    ) -> Result<Released, SeatError> {
        let op = Op::Release { user: user.to_owned(), target: target.clone() };
        let r = self.submit(showtime, op, now).await?.check()?;
        Ok(Released { seats: r.seats, version: r.version })
    }

    /// The key of a hold's tickets (beside the showtime's own keys).
    fn tickets_key(showtime: &str, hold_id: &str) -> Result<String, SeatError> {
        Ok(format!("{}:tix:{hold_id}", bus::keys::TopicKeys::tag(&Self::topic(showtime)?)))
    }

    /// Remembers the tickets of a hold until `until` unless some are
    /// remembered already (`SET NX GET`); returns the remembered ones.
    pub(crate) async fn put_tickets(
        &self,
        showtime: &str,
        hold_id: &str,
        tickets: &Tickets,
        until: Millis,
        now: Millis,
    ) -> Result<Tickets, SeatError> {
        let json = serde_json::to_string(tickets).map_err(|e| SeatError::Storage(e.to_string()))?;
        let args = vec![
            Self::tickets_key(showtime, hold_id)?.into(),
            json.into(),
            "PX".into(),
            Arg::Int((until - now).max(1)),
            "NX".into(),
            "GET".into(),
        ];
        match self.cmd("SET", args).await?.to_text() {
            None => Ok(tickets.clone()),
            Some(old) => serde_json::from_str(&old).map_err(|e| SeatError::Storage(format!("stored tickets: {e}"))),
        }
    }

    /// The remembered tickets of a hold.
    pub(crate) async fn tickets_of(
        &self,
        showtime: &str,
        hold_id: &str,
        _now: Millis,
    ) -> Result<Option<Tickets>, SeatError> {
        match self.cmd("GET", vec![Self::tickets_key(showtime, hold_id)?.into()]).await?.to_text() {
            None => Ok(None),
            Some(text) => {
                serde_json::from_str(&text).map(Some).map_err(|e| SeatError::Storage(format!("stored tickets: {e}")))
            }
        }
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
        let args = vec![Arg::from(user), Arg::from(hold_id), Arg::Int(pin_ms)];
        Ok(self.run(Function::SeatsPin, showtime, now, args).await?.check()?.seats)
    }

    /// Publishes `data` on `topic` (the outbox's live channel).
    pub(crate) async fn publish(&self, topic: &Topic, data: bytes::Bytes) -> Result<(), SeatError> {
        self.inner.bus.publish(topic, data).await?;
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
        let args = vec![Arg::from(user), Arg::from(hold_id), Arg::from(booking_id)];
        Ok(self.run(Function::SeatsConfirm, showtime, now, args).await?.check()?.version)
    }

    /// Applies the ledger's bookings whatever the cache holds (`seats_apply`);
    /// `mark` records the showtime as rebuilt.
    pub(crate) async fn apply(
        &self,
        showtime: &str,
        bookings: &[CachedBooking],
        mark: bool,
        now: Millis,
    ) -> Result<u64, SeatError> {
        let list = serde_json::to_string(bookings).map_err(|e| SeatError::Storage(e.to_string()))?;
        let args = vec![Arg::from(if mark { "1" } else { "0" }), Arg::from(list)];
        Ok(self.run(Function::SeatsApply, showtime, now, args).await?.check()?.version)
    }

    /// Expires due holds of every showtime the index says is due.
    ///
    /// Index upkeep without losing a hold: after its script the sweeper sets
    /// the entry to the next expiry (or drops it), then re-reads the earliest
    /// expiry and lowers the entry to it (`ZADD LT`). A hold either committed
    /// before that re-read (and is seen) or its own post-script `ZADD LT`
    /// comes after the sweeper's write. Concurrent sweepers on several nodes
    /// are harmless: the script is idempotent and publishes only real changes.
    pub(crate) async fn sweep(&self, now: Millis) -> Result<usize, SeatError> {
        let last = self.inner.reindexed_at.load(Ordering::Relaxed);
        if now - last >= REINDEX_EVERY || now < last {
            self.inner.reindexed_at.store(now, Ordering::Relaxed);
            self.reindex().await?;
        }
        let due = self
            .cmd(
                "ZRANGEBYSCORE",
                vec![
                    HOLD_INDEX_KEY.into(),
                    "-inf".into(),
                    Arg::Int(now),
                    "LIMIT".into(),
                    Arg::Int(0),
                    Arg::Int(SWEEP_BATCH),
                ],
            )
            .await?;
        let mut freed = 0;
        for showtime in due.into_array() {
            let Some(showtime) = showtime.to_text() else { continue };
            if Self::topic(&showtime).is_err() {
                self.cmd("ZREM", vec![HOLD_INDEX_KEY.into(), showtime.into()]).await?;
                continue;
            }
            let r = self.run(Function::SeatsSweep, &showtime, now, vec![]).await?.check()?;
            freed += r.freed;
            match r.next {
                Some(next) if next >= 0 => {
                    self.cmd("ZADD", vec![HOLD_INDEX_KEY.into(), Arg::Int(next), showtime.as_str().into()]).await?;
                }
                _ => {
                    self.cmd("ZREM", vec![HOLD_INDEX_KEY.into(), showtime.as_str().into()]).await?;
                }
            }
            self.lower_to_earliest(&showtime).await?;
        }
        Ok(freed)
    }

    /// Lowers the index entry of every scheduled showtime to its earliest
    /// live hold. Only needed after a node died between a hold's script and
    /// its index update; runs every [`REINDEX_EVERY`] on every node.
    pub(crate) async fn reindex(&self) -> Result<(), SeatError> {
        let schedule = self.inner.schedule.get();
        for st in schedule.showtimes() {
            self.lower_to_earliest(&st.id).await?;
        }
        Ok(())
    }

    /// Lowers the showtime's index entry to its earliest live hold, if any.
    async fn lower_to_earliest(&self, showtime: &str) -> Result<(), SeatError> {
        let hz = Self::keys(showtime)?.hold_expiry;
        let args = vec![hz.into(), Arg::Int(0), Arg::Int(0), "WITHSCORES".into()];
        let first = self.cmd("ZRANGE", args).await?.into_array();
        if let Some(score) = first.get(1).and_then(RedisReply::as_f64) {
            self.index_lower(showtime, score as i64).await?;
        }
        Ok(())
    }
}

/// Reads a `[version, doc]` reply.
/// `[version, digest, doc?]` of the schedule hash (missing fields: version
/// 0, an empty digest, no document).
fn id_and_doc(reply: RedisReply) -> (ScheduleId, Option<String>) {
    let mut parts = reply.into_array().into_iter();
    let version = parts.next().and_then(|v| v.as_u64()).unwrap_or(0);
    let digest = parts.next().and_then(|d| d.to_text()).unwrap_or_default();
    let doc = parts.next().and_then(|d| d.to_text());
    (ScheduleId { version, digest }, doc)
}

/// Decodes a function's JSON text reply.
fn json_reply<T: serde::de::DeserializeOwned>(reply: &RedisReply) -> Result<T, SeatError> {
    let text = reply.as_str().ok_or_else(|| SeatError::Storage("function reply is not text".into()))?;
    serde_json::from_str(text).map_err(|e| SeatError::Storage(format!("function reply: {e}")))
}
