//! How long seat state lives in Redis (key expiry), the cluster-wide
//! schedule, and the repair of the hold-expiry index, against a real
//! redis-server.

use std::time::Duration;

use seats::{SHOWTIME_STATE_KEEP, Schedule};

use crate::store::{redis_cmd, showtime_keys};
use crate::{Env, Kind, T0, req, schedule};

/// When `showtime`'s state must expire: its end plus the keep period.
fn expected_expiry(showtime: &str) -> i64 {
    let s = schedule();
    let st = s.showtime(showtime).unwrap();
    let runtime = i64::from(s.movie(&st.movie).unwrap().runtime_min) * 60_000;
    st.starts_at.timestamp().as_millisecond() + runtime + SHOWTIME_STATE_KEEP.as_millis() as i64
}

async fn expire_time(env: &Env, key: &str) -> i64 {
    redis_cmd(env, "PEXPIRETIME", vec![key.into()]).await.as_i64().unwrap()
}

#[tokio::test]
async fn every_showtime_key_expires_some_days_after_the_show_and_idempotency_keys_sooner() {
    let env = Env::new(Kind::Redis).await;
    let h = env.store.hold(req("alice", &["A1", "A2"], "k1")).await.unwrap();
    env.store.hold(req("bob", &["A3"], "k2")).await.unwrap();
    env.store.release("st-1", "alice", seats::ReleaseTarget::Seats(vec!["A2".into()])).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    let at = expected_expiry("st-1");
    assert!(at > T0 + SHOWTIME_STATE_KEEP.as_millis() as i64, "after the show, not from now");
    let k = showtime_keys("st-1");
    for key in [&k.seats, &k.version, &k.holds, &k.hold_expiry, &k.holds_ended, &k.bookings] {
        assert_eq!(redis_cmd(&env, "EXISTS", vec![key.as_str().into()]).await.as_u64(), Some(1), "{key}");
        assert_eq!(expire_time(&env, key).await, at, "{key} expires with the showtime");
    }
    // The idempotency key lives its own, shorter life.
    let idem = expire_time(&env, &k.hold_idempotency("alice", "k1")).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let idem_ttl = seats::IDEMPOTENCY_TTL.as_millis() as i64;
    assert!(idem > now && idem <= now + idem_ttl + 1_000, "idempotency key expires within 3 h: {idem}");
    // A key that empties and comes back gets its expiry again: free every
    // seat (the seats hash disappears), then hold again.
    env.store.cancel_booking("alice", &b.booking_id).await.unwrap();
    env.store.release("st-1", "bob", seats::ReleaseTarget::Seats(vec!["A3".into()])).await.unwrap();
    assert_eq!(redis_cmd(&env, "EXISTS", vec![k.seats.as_str().into()]).await.as_u64(), Some(0));
    env.store.hold(req("bob", &["C1"], "k3")).await.unwrap();
    assert_eq!(expire_time(&env, &k.seats).await, at);
    assert_eq!(expire_time(&env, &k.synced).await, at, "the rebuilt mark goes with the state");
}

#[tokio::test]
async fn bookings_outlive_the_showtimes_redis_state_and_its_seats_come_back_sold() {
    let env = Env::new(Kind::Redis).await;
    let h = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    let h2 = env.store.hold(HoldOn::st2("alice", "A1", "k2")).await.unwrap();
    let b2 = env.store.confirm("st-2", "alice", &h2.hold_id).await.unwrap();
    let mut both = vec![crate::listed(&b), crate::listed(&b2)];
    both.sort_by(|x, y| x.booking_id.cmp(&y.booking_id));
    assert_eq!(env.store.my_bookings("alice").await.unwrap(), both, "same time: ordered by id");
    // What Redis does when st-1's keys reach their expiry (or it loses them).
    let k = showtime_keys("st-1");
    for key in [&k.seats, &k.version, &k.holds, &k.hold_expiry, &k.holds_ended, &k.bookings, &k.synced] {
        redis_cmd(&env, "DEL", vec![key.as_str().into()]).await;
    }
    assert_eq!(env.store.my_bookings("alice").await.unwrap(), both, "the ledger keeps every booking");
    // The sold seat is rebuilt from the ledger before anyone may hold it.
    let err = env.store.hold(req("bob", &["A1"], "kb")).await.unwrap_err();
    assert_eq!(err, seats::SeatError::Unavailable(vec![seats::SeatId::parse("A1").unwrap()]));
    let map = env.store.snapshot("st-1", Some("alice")).await.unwrap();
    let a1 = map.seats.iter().find(|s| s.seat.as_str() == "A1").unwrap();
    assert_eq!((a1.state, a1.mine), (seats::SeatState::Sold, true));
}

#[tokio::test]
async fn the_in_process_engine_forgets_a_showtime_some_days_after_it_ended() {
    let env = Env::new(Kind::Memory).await;
    let h = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    let h2 = env.store.hold(HoldOn::st2("alice", "A1", "k2")).await.unwrap();
    let b2 = env.store.confirm("st-2", "alice", &h2.hold_id).await.unwrap();
    let forget_at = expected_expiry("st-1");
    assert!(expected_expiry("st-2") > forget_at, "the test needs st-2 to end later");

    // Just before: nothing is forgotten.
    env.clock.advance(Duration::from_millis((forget_at - T0 - 1) as u64));
    env.store.sweep_expired().await.unwrap();
    let mine = env.store.my_bookings("alice").await.unwrap();
    assert!(mine.len() == 2 && mine.contains(&crate::listed(&b)) && mine.contains(&crate::listed(&b2)), "{mine:?}");
    assert_eq!(env.store.snapshot("st-1", None).await.unwrap().version, 2);

    // At the keep time, the sweeper drops st-1's state, as Redis expires the
    // keys; the bookings stay in the ledger, and a later look at st-1
    // rebuilds its sold seat from there.
    env.clock.advance(Duration::from_millis(1));
    env.store.sweep_expired().await.unwrap();
    assert_eq!(env.store.my_bookings("alice").await.unwrap().len(), 2);
    let map = env.store.snapshot("st-1", None).await.unwrap();
    assert_eq!(map.version, 1, "a fresh state: the rebuild is its first change");
    let sold: Vec<&str> =
        map.seats.iter().filter(|s| s.state == seats::SeatState::Sold).map(|s| s.seat.as_str()).collect();
    assert_eq!(sold, ["A1"]);
}

/// Hold requests on other showtimes of the test schedule.
struct HoldOn;

impl HoldOn {
    fn st2(user: &str, seat: &str, key: &str) -> seats::HoldRequest {
        let mut r = req(user, &[seat], key);
        r.showtime = "st-2".into();
        r
    }
}

fn one_showtime_schedule(id: &str) -> Schedule {
    let text = crate::SCHEDULE.replace("\"st-1\"", &format!("\"{id}\""));
    Schedule::from_json(&text).unwrap()
}

#[tokio::test]
async fn a_schedule_published_on_one_node_reaches_the_others_and_later_nodes() {
    let env = Env::new(Kind::Redis).await;
    let (other, _) = env.second_node().await;
    env.store.share_schedule().await.unwrap();
    other.share_schedule().await.unwrap();
    assert!(!other.refresh_schedule().await.unwrap(), "nothing new yet");

    let next = one_showtime_schedule("st-new");
    env.store.publish_schedule(next.clone()).await.unwrap();
    assert!(env.store.schedule().showtime("st-new").is_some(), "the publishing node switches at once");
    assert!(other.schedule().showtime("st-new").is_none());
    assert!(other.refresh_schedule().await.unwrap(), "the other node sees the new version");
    assert_eq!(other.schedule().showtimes(), next.showtimes());
    assert!(!other.refresh_schedule().await.unwrap(), "and loads it once");

    // A node that starts later with its own seed (say, the demo week) takes
    // the cluster's schedule instead.
    let (late, _) = env.second_node().await;
    late.replace_schedule(Schedule::empty());
    late.share_schedule().await.unwrap();
    assert_eq!(late.schedule().showtimes(), next.showtimes());

    // A document this build cannot read is skipped, keeping the schedule.
    redis_cmd(&env, "HSET", vec![seats::SCHEDULE_KEY.into(), "doc".into(), "{not json".into()]).await;
    redis_cmd(&env, "HINCRBY", vec![seats::SCHEDULE_KEY.into(), "v".into(), 1.into()]).await;
    assert!(other.refresh_schedule().await.unwrap());
    assert_eq!(other.schedule().showtimes(), next.showtimes());
}

#[tokio::test]
async fn after_redis_loses_the_schedule_every_node_converges_on_one_schedule() {
    let env = Env::new(Kind::Redis).await;
    let (other, _) = env.second_node().await;
    env.store.share_schedule().await.unwrap();
    other.share_schedule().await.unwrap();
    let admin = one_showtime_schedule("st-admin");
    env.store.publish_schedule(admin.clone()).await.unwrap();
    other.refresh_schedule().await.unwrap();
    assert_eq!(other.schedule().showtimes(), admin.showtimes());

    // Redis restarts empty, and a node started now seeds its own schedule
    // first: the nodes holding the admin's (a higher version) offer it
    // again, and the new node takes it.
    redis_cmd(&env, "FLUSHALL", vec![]).await;
    let (late, _) = env.second_node().await;
    late.share_schedule().await.unwrap();
    assert!(late.schedule().showtime("st-admin").is_none(), "it seeded its own");
    env.store.refresh_schedule().await.unwrap();
    other.refresh_schedule().await.unwrap();
    late.refresh_schedule().await.unwrap();
    for (name, node) in [("first", &env.store), ("other", &other), ("late", &late)] {
        assert_eq!(node.schedule().showtimes(), admin.showtimes(), "{name} has the admin's schedule");
    }

    // Lost again; a new node seeds, and an admin loads another schedule
    // through it, which gets the same version number the others hold: the
    // document differs, so they take it rather than keep theirs.
    redis_cmd(&env, "FLUSHALL", vec![]).await;
    let (fresh, _) = env.second_node().await;
    fresh.share_schedule().await.unwrap();
    let newer = one_showtime_schedule("st-newer");
    fresh.publish_schedule(newer.clone()).await.unwrap();
    for (name, node) in [("first", &env.store), ("other", &other), ("late", &late), ("fresh", &fresh)] {
        node.refresh_schedule().await.unwrap();
        assert_eq!(node.schedule().showtimes(), newer.showtimes(), "{name} has the newest load");
    }
    assert!(!env.store.refresh_schedule().await.unwrap(), "and keeps it");

    // Two nodes offering different schedules at once: exactly one is stored
    // and both end up with it.
    redis_cmd(&env, "FLUSHALL", vec![]).await;
    let ((x, _), (y, _)) = (env.second_node().await, env.second_node().await);
    x.replace_schedule(one_showtime_schedule("st-x"));
    y.replace_schedule(one_showtime_schedule("st-y"));
    let (rx, ry) = tokio::join!(x.share_schedule(), y.share_schedule());
    rx.unwrap();
    ry.unwrap();
    assert_eq!(x.schedule().showtimes(), y.schedule().showtimes(), "one schedule");
}

#[tokio::test]
async fn in_process_the_schedule_is_replaced_by_publish() {
    let env = Env::new(Kind::Memory).await;
    env.store.share_schedule().await.unwrap();
    env.store.publish_schedule(one_showtime_schedule("st-new")).await.unwrap();
    assert!(env.store.schedule().showtime("st-new").is_some());
    assert!(!env.store.refresh_schedule().await.unwrap());
}

#[tokio::test]
async fn a_hold_whose_index_update_was_lost_is_still_swept() {
    let env = Env::new(Kind::Redis).await;
    let mut r = req("alice", &["A1"], "k1");
    r.ttl = Some(Duration::from_secs(10));
    env.store.hold(r).await.unwrap();
    // As if the node died between the hold's script and its index update.
    redis_cmd(&env, "DEL", vec![seats::HOLD_INDEX_KEY.into()]).await;
    env.clock.advance(Duration::from_secs(11));
    // The sweeper's periodic re-index finds the hold and frees the seat.
    let freed = env.store.sweep_expired().await.unwrap();
    assert_eq!(freed, 1);
    let map = env.store.snapshot("st-1", None).await.unwrap();
    assert!(map.seats.iter().all(|s| s.state == seats::SeatState::Free));
    crate::assert_replay_matches(&env.store, &env.bus, "st-1").await;
}

#[tokio::test]
async fn only_the_earliest_hold_touches_the_global_index() {
    let env = Env::new(Kind::Redis).await;
    let mut short = req("alice", &["A1"], "k1");
    short.ttl = Some(Duration::from_secs(20));
    env.store.hold(short).await.unwrap();
    let score = |v: bus::Reply| v.as_f64().map(|f| f as i64);
    let first = score(redis_cmd(&env, "ZSCORE", vec![seats::HOLD_INDEX_KEY.into(), "st-1".into()]).await);
    assert_eq!(first, Some(T0 + 20_000));
    // A later-expiring hold leaves the entry alone; an earlier one lowers it.
    env.store.hold(req("bob", &["A2"], "k2")).await.unwrap();
    let same = score(redis_cmd(&env, "ZSCORE", vec![seats::HOLD_INDEX_KEY.into(), "st-1".into()]).await);
    assert_eq!(same, first);
    let mut shorter = req("carol", &["A3"], "k3");
    shorter.ttl = Some(Duration::from_secs(10));
    env.store.hold(shorter).await.unwrap();
    let lowered = score(redis_cmd(&env, "ZSCORE", vec![seats::HOLD_INDEX_KEY.into(), "st-1".into()]).await);
    assert_eq!(lowered, Some(T0 + 10_000));
    // Every hold is swept in time all the same.
    for (advance, left) in [(11, 2), (10, 1), (580, 0)] {
        env.clock.advance(Duration::from_secs(advance));
        env.store.sweep_expired().await.unwrap();
        let map = env.store.snapshot("st-1", None).await.unwrap();
        let held = map.seats.iter().filter(|s| s.state == seats::SeatState::Held).count();
        assert_eq!(held, left, "{} s after the first hold", (env.clock.now_ms() - T0) / 1000);
    }
}
