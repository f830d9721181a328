//! The store's behaviour, every test once per engine.

use std::time::Duration;

use seats::{
    Booking, BookingEvent, BookingStatus, MAX_EXTENDS, ReleaseTarget, SeatClass, SeatError, SeatId, SeatState,
};

use crate::{Env, Kind, WAIT, assert_replay_matches, engines, req};

fn ids(v: &[&str]) -> Vec<SeatId> {
    v.iter().map(|s| SeatId::parse(s).unwrap()).collect()
}

fn state_of(map: &seats::SeatMap, seat: &str) -> (SeatState, bool) {
    let s = map.seats.iter().find(|s| s.seat.as_str() == seat).unwrap();
    (s.state, s.mine)
}

engines!(fresh_showtime_is_all_free_at_version_zero, |env: Env| async move {
    let map = env.store.snapshot("st-1", None).await.unwrap();
    assert_eq!(map.version, 0);
    assert_eq!(map.seats.len(), 24);
    assert!(map.seats.iter().all(|s| s.state == SeatState::Free && !s.mine));
    assert_eq!(map.seats[8].seat.as_str(), "B1");
    assert_eq!(map.seats[8].class, SeatClass::Premium);
    // Where the aisle is: A4 left of it, A5 right of it, one position apart.
    assert_eq!((map.columns, map.aisles.clone()), (9, vec![4]));
    let col = |id: &str| map.seats.iter().find(|s| s.seat.as_str() == id).unwrap().column;
    assert_eq!((col("A1"), col("A4"), col("A5"), col("C8")), (0, 3, 5, 8));
});

engines!(hold_shows_mine_only_to_its_owner, |env: Env| async move {
    let h = env.store.hold(req("alice", &["A2", "A1"], "k1")).await.unwrap();
    assert_eq!(h.seats, ids(&["A1", "A2"]));
    assert_eq!(h.version, 1);
    assert_eq!(h.expires_at, crate::T0 + 600_000);
    assert_eq!(h.extends_left, MAX_EXTENDS);
    let mine = env.store.snapshot("st-1", Some("alice")).await.unwrap();
    assert_eq!(state_of(&mine, "A1"), (SeatState::Held, true));
    let a1 = mine.seats.iter().find(|s| s.seat.as_str() == "A1").unwrap();
    assert_eq!(a1.until, Some(h.expires_at));
    assert_eq!(a1.hold_id.as_deref(), Some(h.hold_id.as_str()));
    let theirs = env.store.snapshot("st-1", Some("bob")).await.unwrap();
    assert_eq!(state_of(&theirs, "A1"), (SeatState::Held, false));
    let b1 = theirs.seats.iter().find(|s| s.seat.as_str() == "A1").unwrap();
    assert_eq!((b1.until, b1.hold_id.as_ref()), (None, None));
    // The other showtime is untouched.
    assert_eq!(env.store.snapshot("st-2", None).await.unwrap().version, 0);
});

engines!(hold_is_all_or_nothing_and_names_the_taken_seats, |env: Env| async move {
    env.store.hold(req("alice", &["A3", "A4"], "k1")).await.unwrap();
    let err = env.store.hold(req("bob", &["A2", "A3", "A4", "A5"], "k2")).await.unwrap_err();
    assert_eq!(err, SeatError::Unavailable(ids(&["A3", "A4"])));
    assert_eq!(err.code(), "seats_unavailable");
    let map = env.store.snapshot("st-1", None).await.unwrap();
    assert_eq!(state_of(&map, "A2").0, SeatState::Free);
    assert_eq!(state_of(&map, "A5").0, SeatState::Free);
    assert_eq!(map.version, 1, "a failed hold changes nothing");
});

engines!(hold_of_a_sold_seat_fails, |env: Env| async move {
    let h = env.store.hold(req("alice", &["B4"], "k1")).await.unwrap();
    env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    let err = env.store.hold(req("bob", &["B4"], "k2")).await.unwrap_err();
    assert_eq!(err, SeatError::Unavailable(ids(&["B4"])));
    let err = env.store.hold(req("alice", &["B4"], "k3")).await.unwrap_err();
    assert_eq!(err, SeatError::Unavailable(ids(&["B4"])), "not even to its buyer");
});

engines!(idempotent_retry_returns_the_original_result, |env: Env| async move {
    let first = env.store.hold(req("alice", &["A1", "A2"], "key-1")).await.unwrap();
    env.clock.advance(Duration::from_secs(5));
    let again = env.store.hold(req("alice", &["A2", "A1"], "key-1")).await.unwrap();
    assert_eq!(again, first, "same key, same seats: the very same hold");
    assert_eq!(env.store.snapshot("st-1", None).await.unwrap().version, 1, "held once");
    // The same key for other seats is refused, not silently applied.
    let err = env.store.hold(req("alice", &["A3"], "key-1")).await.unwrap_err();
    assert_eq!(err, SeatError::IdempotencyConflict);
    // A failed hold is remembered too, even after the seats become free.
    let failed = env.store.hold(req("bob", &["A1"], "key-b")).await.unwrap_err();
    env.store.release("st-1", "alice", ReleaseTarget::Hold(first.hold_id.clone())).await.unwrap();
    let retried = env.store.hold(req("bob", &["A1"], "key-b")).await.unwrap_err();
    assert_eq!(retried, failed);
    // Keys are per user: bob may use alice's key.
    env.store.hold(req("bob", &["A1", "A2"], "key-1")).await.unwrap();
});

engines!(unknown_showtime_seat_and_malformed_requests_are_typed_errors, |env: Env| async move {
    let s = &env.store;
    let mut r = req("alice", &["A1"], "k");
    r.showtime = "nope".into();
    assert_eq!(s.hold(r).await.unwrap_err().code(), "unknown_showtime");
    assert_eq!(s.snapshot("nope", None).await.unwrap_err().code(), "unknown_showtime");
    assert_eq!(s.confirm("nope", "alice", "h0000000000000000").await.unwrap_err().code(), "unknown_showtime");
    let err = s.hold(req("alice", &["A1", "Z9", "A5x", "A9"], "k")).await.unwrap_err();
    assert_eq!(err, SeatError::UnknownSeats(vec!["Z9".into(), "A5x".into(), "A9".into()]));
    assert_eq!(err.code(), "unknown_seat");
    assert_eq!(s.hold(req("alice", &[], "k")).await.unwrap_err().code(), "invalid_request");
    let eleven: Vec<&str> = vec!["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "B1", "B2", "B3"];
    assert_eq!(s.hold(req("alice", &eleven, "k")).await.unwrap_err().code(), "invalid_request");
    assert_eq!(s.hold(req("bad user", &["A1"], "k")).await.unwrap_err().code(), "invalid_request");
    assert_eq!(s.hold(req("alice", &["A1"], "")).await.unwrap_err().code(), "invalid_request");
    assert_eq!(s.hold(req("alice", &["A1"], "key with space")).await.unwrap_err().code(), "invalid_request");
    let mut r = req("alice", &["A1"], "k");
    r.ttl = Some(Duration::from_secs(1));
    assert_eq!(s.hold(r).await.unwrap_err().code(), "invalid_request");
    let mut r = req("alice", &["A1"], "k");
    r.ttl = Some(Duration::from_secs(3600));
    assert_eq!(s.hold(r).await.unwrap_err().code(), "invalid_request");
    assert_eq!(s.confirm("st-1", "alice", "not-a-hold").await.unwrap_err(), SeatError::HoldNotFound);
    assert_eq!(s.confirm("st-1", "alice", "h0123456789abcdef").await.unwrap_err(), SeatError::HoldNotFound);
    assert_eq!(s.cancel_booking("alice", "garbage").await.unwrap_err(), SeatError::BookingNotFound);
    assert_eq!(s.cancel_booking("alice", "bk0123456789ab-st-1").await.unwrap_err(), SeatError::BookingNotFound);
    assert_eq!(s.snapshot("st-1", None).await.unwrap().version, 0, "nothing changed");
});

engines!(confirm_of_someone_elses_hold_fails, |env: Env| async move {
    let h = env.store.hold(req("alice", &["A1"], "k")).await.unwrap();
    let err = env.store.confirm("st-1", "bob", &h.hold_id).await.unwrap_err();
    assert_eq!(err, SeatError::NotOwner);
    assert_eq!(err.code(), "not_owner");
    assert_eq!(env.store.extend("st-1", "bob", &h.hold_id).await.unwrap_err(), SeatError::NotOwner);
    assert_eq!(
        env.store.release("st-1", "bob", ReleaseTarget::Hold(h.hold_id.clone())).await.unwrap_err(),
        SeatError::NotOwner
    );
    let r = env.store.release("st-1", "bob", ReleaseTarget::Seats(vec!["A1".into()])).await.unwrap();
    assert!(r.seats.is_empty(), "releasing by seat touches only the caller's own holds");
    let map = env.store.snapshot("st-1", Some("alice")).await.unwrap();
    assert_eq!(state_of(&map, "A1"), (SeatState::Held, true));
    assert_eq!(map.version, 1);
    // Confirming on the wrong showtime does not find the hold.
    assert_eq!(env.store.confirm("st-2", "alice", &h.hold_id).await.unwrap_err(), SeatError::HoldNotFound);
});

engines!(confirm_after_expiry_fails_cleanly, |env: Env| async move {
    let mut r = req("alice", &["A1", "A2"], "k");
    r.ttl = Some(Duration::from_secs(60));
    let h = env.store.hold(r).await.unwrap();
    env.clock.advance(Duration::from_secs(60));
    let err = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap_err();
    assert_eq!(err, SeatError::HoldExpired);
    assert_eq!(err.code(), "hold_expired");
    // The failed confirm still released and published the expiry.
    let map = env.store.snapshot("st-1", None).await.unwrap();
    assert!(map.seats.iter().all(|s| s.state == SeatState::Free));
    assert_eq!(map.version, 2);
    // Asking again, and after a sweep, still says expired (not "not found").
    env.store.sweep_expired().await.unwrap();
    assert_eq!(env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap_err(), SeatError::HoldExpired);
    assert_eq!(env.store.extend("st-1", "alice", &h.hold_id).await.unwrap_err(), SeatError::HoldExpired);
    assert!(env.store.my_bookings("alice").await.unwrap().is_empty());
    assert_replay_matches(&env.store, &env.bus, "st-1").await;
});

engines!(confirm_sells_exactly_the_hold_and_is_retry_safe, |env: Env| async move {
    let h = env.store.hold(req("alice", &["B1", "A1"], "k")).await.unwrap();
    let other = env.store.hold(req("alice", &["A5"], "k2")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    assert_eq!(b.seats, ids(&["A1", "B1"]));
    assert_eq!(b.status, BookingStatus::Confirmed);
    assert_eq!(b.amount, 15_000 + 19_000);
    assert_eq!(b.user, "alice");
    assert_eq!(b.version, 3);
    assert!(b.booking_id.starts_with("bk") && b.booking_id.ends_with("-st-1"));
    let again = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    assert_eq!(again, crate::listed(&b), "a retried confirm returns the same booking");
    let map = env.store.snapshot("st-1", Some("alice")).await.unwrap();
    assert_eq!(state_of(&map, "A1"), (SeatState::Sold, true));
    assert_eq!(state_of(&map, "A5"), (SeatState::Held, true), "the other hold is untouched");
    assert_eq!(state_of(&env.store.snapshot("st-1", Some("bob")).await.unwrap(), "A1"), (SeatState::Sold, false));
    assert_eq!(map.version, 3);
    assert_eq!(env.store.my_bookings("alice").await.unwrap(), vec![crate::listed(&b)]);
    // Releasing a confirmed hold is refused; its seats stay sold.
    assert_eq!(
        env.store.release("st-1", "alice", ReleaseTarget::Hold(h.hold_id.clone())).await.unwrap_err(),
        SeatError::HoldNotFound
    );
    let _ = other;
    assert_replay_matches(&env.store, &env.bus, "st-1").await;
});

engines!(extend_allows_ten_and_more_but_caps_count_and_two_hours, |env: Env| async move {
    let h = env.store.hold(req("alice", &["A1"], "k")).await.unwrap();
    let mut last = h.expires_at;
    for i in 0..MAX_EXTENDS {
        env.clock.advance(Duration::from_secs(60));
        let e = env.store.extend("st-1", "alice", &h.hold_id).await.unwrap();
        assert!(e.expires_at > last);
        assert_eq!(e.expires_at, crate::T0 + i64::from(i + 1) * 60_000 + 600_000);
        assert_eq!(e.extends_left, MAX_EXTENDS - i - 1);
        last = e.expires_at;
    }
    const { assert!(MAX_EXTENDS >= 10) };
    env.clock.advance(Duration::from_secs(60));
    let err = env.store.extend("st-1", "alice", &h.hold_id).await.unwrap_err();
    assert_eq!((err.code(), err), ("extend_limit", SeatError::ExtendLimit));
    // Extending publishes nothing: no public state changed.
    assert_eq!(env.store.snapshot("st-1", None).await.unwrap().version, 1);

    // The two-hour cap: a 30-minute hold extended every 20 minutes.
    let mut r = req("alice", &["A2"], "k2");
    r.ttl = Some(Duration::from_secs(1800));
    let h = env.store.hold(r).await.unwrap();
    let start = env.store.clock().now_ms();
    for _ in 0..5 {
        env.clock.advance(Duration::from_secs(1200));
        let e = env.store.extend("st-1", "alice", &h.hold_id).await.unwrap();
        assert!(e.expires_at <= start + 7_200_000);
    }
    env.clock.advance(Duration::from_secs(600));
    assert_eq!(env.store.extend("st-1", "alice", &h.hold_id).await.unwrap_err(), SeatError::ExtendLimit);
    let map = env.store.snapshot("st-1", Some("alice")).await.unwrap();
    let a2 = map.seats.iter().find(|s| s.seat.as_str() == "A2").unwrap();
    assert_eq!(a2.until, Some(start + 7_200_000));
});

engines!(concurrent_operations_of_one_showtime_each_keep_their_own_result, |env: Env| async move {
    // Erin's hold exists before; then six operations arrive at once. The
    // Redis engine sends them as one batch (see `lanes`): each must still be
    // all or nothing, see the ones before it, and get its own answer.
    let erin = env.store.hold(req("erin", &["B1"], "ke")).await.unwrap();
    env.clock.advance(Duration::from_secs(30));
    let s = &env.store;
    let (a, a_again, bob, carol, extended, released) = tokio::join!(
        s.hold(req("alice", &["A1", "A2"], "ka")),
        s.hold(req("alice", &["A2", "A1"], "ka")),
        s.hold(req("bob", &["A2", "A3"], "kb")),
        s.hold(req("carol", &["A4"], "kc")),
        s.extend("st-1", "erin", &erin.hold_id),
        s.release("st-1", "erin", ReleaseTarget::Hold(erin.hold_id.clone())),
    );
    let a = a.unwrap();
    assert_eq!(a_again.unwrap(), a, "a retry arriving with the original gets the same hold");
    assert_eq!(bob.unwrap_err(), SeatError::Unavailable(ids(&["A2"])), "bob sees alice's seats taken");
    assert_eq!(carol.unwrap().seats, ids(&["A4"]));
    assert_eq!(extended.unwrap().extends_left, MAX_EXTENDS - 1);
    assert_eq!(released.unwrap().seats, ids(&["B1"]));
    let map = env.store.snapshot("st-1", Some("alice")).await.unwrap();
    assert_eq!(state_of(&map, "A1"), (SeatState::Held, true));
    assert_eq!(state_of(&map, "A2"), (SeatState::Held, true));
    assert_eq!(state_of(&map, "A3").0, SeatState::Free, "bob's failed hold took nothing");
    assert_eq!(state_of(&map, "A4"), (SeatState::Held, false));
    assert_eq!(state_of(&map, "B1").0, SeatState::Free);
    if env.kind == Kind::Redis {
        assert_eq!(map.version, erin.version + 1, "one batch: one commit, one delta");
    }
    assert_replay_matches(&env.store, &env.bus, "st-1").await;
});

engines!(release_by_hold_and_by_seat, |env: Env| async move {
    let h = env.store.hold(req("alice", &["A1", "A2", "A3"], "k")).await.unwrap();
    let r = env.store.release("st-1", "alice", ReleaseTarget::Seats(vec!["A2".into(), "A8".into()])).await.unwrap();
    assert_eq!(r.seats, ids(&["A2"]));
    assert_eq!(r.version, 2);
    let map = env.store.snapshot("st-1", Some("alice")).await.unwrap();
    assert_eq!(state_of(&map, "A2").0, SeatState::Free);
    assert_eq!(state_of(&map, "A1"), (SeatState::Held, true));
    // Confirming the rest of the hold sells only what is still held.
    let r = env.store.release("st-1", "alice", ReleaseTarget::Hold(h.hold_id.clone())).await.unwrap();
    assert_eq!(r.seats, ids(&["A1", "A3"]));
    assert_eq!(r.version, 3);
    assert_eq!(
        env.store.release("st-1", "alice", ReleaseTarget::Hold(h.hold_id.clone())).await.unwrap_err(),
        SeatError::HoldNotFound
    );
    assert_eq!(env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap_err(), SeatError::HoldNotFound);
    // Releasing every seat of a hold one by one ends it too.
    let h2 = env.store.hold(req("alice", &["C2"], "k2")).await.unwrap();
    env.store.release("st-1", "alice", ReleaseTarget::Seats(vec!["C2".into()])).await.unwrap();
    assert_eq!(env.store.confirm("st-1", "alice", &h2.hold_id).await.unwrap_err(), SeatError::HoldNotFound);
    assert_replay_matches(&env.store, &env.bus, "st-1").await;
});

engines!(sweeper_releases_expired_holds_and_publishes_the_release, |env: Env| async move {
    let mut r = req("alice", &["A1", "A2"], "k");
    r.ttl = Some(Duration::from_secs(30));
    env.store.hold(r).await.unwrap();
    let mut r = req("bob", &["B1"], "k");
    r.ttl = Some(Duration::from_secs(90));
    let keep = env.store.hold(r).await.unwrap();
    assert_eq!(env.store.sweep_expired().await.unwrap(), 0);
    env.clock.advance(Duration::from_secs(31));
    assert_eq!(env.store.sweep_expired().await.unwrap(), 2);
    assert_eq!(env.store.sweep_expired().await.unwrap(), 0, "sweeping again changes nothing");
    let map = env.store.snapshot("st-1", None).await.unwrap();
    assert_eq!(map.version, 3);
    assert_eq!(state_of(&map, "A1").0, SeatState::Free);
    assert_eq!(state_of(&map, "B1").0, SeatState::Held);
    // The release reached the node's sink like any change.
    let pubs = testkit::eventually(WAIT, "expiry delta delivered", || async {
        let p = env.sink.publications("showtime:st-1");
        (p.len() == 3).then_some(p)
    })
    .await;
    assert_eq!(pubs[2].0, 3);
    assert!(pubs[2].1.contains(r#""version":3"#) && pubs[2].1.contains(r#"{"seat":"A1","state":"free"}"#));
    // A hold extended past its first expiry is not swept early.
    env.clock.advance(Duration::from_secs(50));
    env.store.extend("st-1", "bob", &keep.hold_id).await.unwrap();
    env.clock.advance(Duration::from_secs(30));
    assert_eq!(env.store.sweep_expired().await.unwrap(), 0);
    env.clock.advance(Duration::from_secs(61));
    assert_eq!(env.store.sweep_expired().await.unwrap(), 1);
    assert_replay_matches(&env.store, &env.bus, "st-1").await;
});

engines!(cancel_frees_the_seats_and_only_the_owner_may, |env: Env| async move {
    let h = env.store.hold(req("alice", &["C1", "C2"], "k")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    assert_eq!(b.amount, 30_000);
    assert_eq!(env.store.cancel_booking("bob", &b.booking_id).await.unwrap_err(), SeatError::NotOwner);
    let c = env.store.cancel_booking("alice", &b.booking_id).await.unwrap();
    assert_eq!(c.status, BookingStatus::Cancelled);
    assert_eq!(c.version, 3);
    assert_eq!(env.store.cancel_booking("alice", &b.booking_id).await.unwrap_err(), SeatError::AlreadyCancelled);
    let map = env.store.snapshot("st-1", None).await.unwrap();
    assert_eq!(state_of(&map, "C1").0, SeatState::Free);
    let list = env.store.my_bookings("alice").await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, BookingStatus::Cancelled);
    assert!(env.store.my_bookings("bob").await.unwrap().is_empty());
    // The freed seats can be sold again.
    let h = env.store.hold(req("bob", &["C1"], "k")).await.unwrap();
    env.store.confirm("st-1", "bob", &h.hold_id).await.unwrap();
    assert_replay_matches(&env.store, &env.bus, "st-1").await;
});

engines!(confirmation_reaches_the_users_topic, |env: Env| async move {
    let h = env.store.hold(req("alice", &["A4"], "k")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    // Through the outbox (its live channel), once.
    let live = testkit::eventually(WAIT, "user topic delivered", || async {
        let p = env.sink.publications("user:alice");
        (!p.is_empty()).then_some(p)
    })
    .await;
    let ev: BookingEvent = serde_json::from_str(&live[0].1).unwrap();
    assert_eq!(ev.kind, "booking");
    assert_eq!(ev.event, BookingStatus::Confirmed);
    assert_eq!(ev.booking, crate::listed(&b));
    let topic = bus::Topic::parse("user:alice").unwrap();
    let page = env.bus.history_after(&topic, 0, 10).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    // The row is marked delivered after the publication went out: wait for it.
    testkit::eventually(WAIT, "outbox row marked delivered", || async {
        (env.store.ledger().outbox_stats().await.unwrap().pending == 0).then_some(())
    })
    .await;
});

engines!(best_available_then_hold, |env: Env| async move {
    let s = &env.store;
    let pick = s.best_available("st-1", 2, None).await.unwrap();
    assert_eq!(pick.len(), 2);
    let pick = s.best_available("st-1", 4, Some(SeatClass::Premium)).await.unwrap();
    assert!(pick == ids(&["B1", "B2", "B3", "B4"]) || pick == ids(&["B5", "B6", "B7", "B8"]), "{pick:?}");
    let seats: Vec<&str> = pick.iter().map(SeatId::as_str).collect();
    s.hold(req("alice", &seats, "k")).await.unwrap();
    let next = s.best_available("st-1", 4, Some(SeatClass::Premium)).await.unwrap();
    assert!(next.iter().all(|x| !pick.contains(x)));
    assert_eq!(s.best_available("st-1", 5, None).await.unwrap_err(), SeatError::NoFit(5), "aisles split rows");
    assert_eq!(s.best_available("st-1", 2, Some(SeatClass::Wheelchair)).await.unwrap_err().code(), "no_fit");
    assert_eq!(s.best_available("st-1", 0, None).await.unwrap_err().code(), "invalid_request");
    let w = s.best_available("st-1", 1, Some(SeatClass::Wheelchair)).await.unwrap();
    assert!(w == ids(&["C1"]) || w == ids(&["C8"]));
});

engines!(a_second_node_sees_and_respects_the_same_state, |env: Env| async move {
    let (other, _) = env.second_node().await;
    let h = env.store.hold(req("alice", &["A1"], "k")).await.unwrap();
    assert_eq!(other.hold(req("bob", &["A1"], "k")).await.unwrap_err(), SeatError::Unavailable(ids(&["A1"])));
    // The retry lands on the other node: same result.
    assert_eq!(other.hold(req("alice", &["A1"], "k")).await.unwrap(), h);
    let b: Booking = other.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    assert_eq!(env.store.my_bookings("alice").await.unwrap(), vec![crate::listed(&b)]);
});

engines!(the_sweeper_task_runs_until_cancelled, |env: Env| async move {
    let mut r = req("alice", &["A1"], "k");
    r.ttl = Some(Duration::from_secs(10));
    env.store.hold(r).await.unwrap();
    env.clock.advance(Duration::from_secs(11));
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(env.store.clone().run_sweeper(Duration::from_millis(20), stop.clone()));
    testkit::eventually(WAIT, "sweeper released the hold", || async {
        let map = env.store.snapshot("st-1", None).await.unwrap();
        (map.version == 2).then_some(())
    })
    .await;
    stop.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
});

/// Runs a raw command on the test's Redis.
pub(crate) async fn redis_cmd(env: &Env, name: &'static str, args: Vec<bus::Arg>) -> bus::Reply {
    let bus::Bus::Redis(rb) = &env.bus else { panic!("redis only") };
    rb.handle().cmd(name, args).await.unwrap()
}

/// The Redis keys of `showtime` (the names belong to `bus`).
pub(crate) fn showtime_keys(showtime: &str) -> bus::keys::ShowtimeKeys {
    let topic = bus::Topic::new(bus::TopicKind::Showtime, showtime).unwrap();
    bus::keys::ShowtimeKeys::new(&topic)
}
