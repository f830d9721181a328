//! Contention on the Redis engine: many clients on two nodes (two separate
//! bus connections) race for the same seats with multi-seat holds, retries
//! with the same idempotency key on the other node, confirms, releases and
//! expiries. Afterwards no seat is sold twice, every sold seat has exactly one
//! booking, the map equals the replay of the published deltas, and every
//! successful confirm produced exactly one notification.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use seats::{Booking, BookingStatus, ReleaseTarget, SeatError, SeatState};
use tokio::task::JoinSet;

use crate::{Env, Kind, WAIT, assert_replay_matches, req};

/// The showtime raced for: 100 seats in ten rows.
const SHOWTIME: &str = "st-big";
const CLIENTS: usize = 300;
const ATTEMPTS: usize = 5;

#[derive(Default)]
struct Outcome {
    bookings: Vec<Booking>,
    held: usize,
    refused: usize,
    expired: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_clients_on_two_nodes_never_double_sell() {
    let env = Env::new(Kind::Redis).await;
    let (node_b, bus_b) = env.second_node().await;
    let nodes = [env.store.clone(), node_b];
    let all_seats: Vec<String> =
        env.store.snapshot(SHOWTIME, None).await.unwrap().seats.iter().map(|s| s.seat.as_str().to_owned()).collect();

    // Both nodes sweep all the time while the clients race and time moves on,
    // so holds expire under the clients' feet (a confirm may fail as expired).
    let ticking = tokio_util::sync::CancellationToken::new();
    let ticker = {
        let (ticking, nodes) = (ticking.clone(), nodes.clone());
        tokio::spawn(async move {
            while !ticking.is_cancelled() {
                let (a, b) = tokio::join!(nodes[0].sweep_expired(), nodes[1].sweep_expired());
                a.unwrap();
                b.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut tasks = JoinSet::new();
    for client in 0..CLIENTS {
        let first = nodes[client % 2].clone();
        let second = nodes[(client + 1) % 2].clone();
        let all_seats = all_seats.clone();
        let clock = env.clock.clone();
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(client as u64);
            let user = format!("u{client}");
            let mut outcome = Outcome::default();
            for attempt in 0..ATTEMPTS {
                // Every attempt moves the shared clock on a little, so holds
                // expire while others are still racing for their seats.
                clock.advance(Duration::from_millis(50));
                let n = rng.gen_range(1..=3);
                let seats: Vec<&str> = all_seats.choose_multiple(&mut rng, n).map(String::as_str).collect();
                let key = format!("k-{attempt}");
                let mut r = req(&user, &seats, &key);
                r.showtime = SHOWTIME.into();
                r.ttl = Some(Duration::from_secs(rng.gen_range(10..=60)));
                let held = first.hold(r.clone()).await;
                // A retry with the same key on the other node gets the same answer.
                let retried = second.hold(r).await;
                assert_eq!(held, retried, "idempotent retry across nodes");
                let hold = match held {
                    Ok(h) => h,
                    Err(SeatError::Unavailable(taken)) => {
                        assert!(!taken.is_empty());
                        outcome.refused += 1;
                        continue;
                    }
                    Err(e) => panic!("unexpected hold error {e:?}"),
                };
                outcome.held += 1;
                match rng.gen_range(0..6) {
                    0 => match first.confirm(SHOWTIME, &user, &hold.hold_id).await {
                        Ok(b) => {
                            // A retried confirm on the other node returns the same booking.
                            let again = second.confirm(SHOWTIME, &user, &hold.hold_id).await.unwrap();
                            assert_eq!(again.booking_id, b.booking_id);
                            outcome.bookings.push(b);
                        }
                        Err(SeatError::HoldExpired) => outcome.expired += 1,
                        Err(e) => panic!("unexpected confirm error {e:?}"),
                    },
                    1 | 2 => match second.release(SHOWTIME, &user, ReleaseTarget::Hold(hold.hold_id.clone())).await {
                        Ok(r) => assert_eq!(r.seats, hold.seats),
                        Err(SeatError::HoldExpired) => outcome.expired += 1,
                        Err(e) => panic!("unexpected release error {e:?}"),
                    },
                    _ => {} // left to expire
                }
            }
            outcome
        });
    }
    let mut confirmed: Vec<Booking> = Vec::new();
    let (mut held, mut refused, mut expired) = (0, 0, 0);
    while let Some(r) = tasks.join_next().await {
        let o = r.unwrap();
        confirmed.extend(o.bookings);
        (held, refused, expired) = (held + o.held, refused + o.refused, expired + o.expired);
    }
    ticking.cancel();
    ticker.await.unwrap();
    assert!(!confirmed.is_empty(), "some confirms must win");
    assert!(refused > 0 && held >= 100, "the test must actually contend: held {held}, refused {refused}");

    // Let every remaining hold expire; both nodes sweep at once.
    env.clock.advance(Duration::from_secs(3600));
    let (a, b) = tokio::join!(nodes[0].sweep_expired(), nodes[1].sweep_expired());
    a.unwrap();
    b.unwrap();

    let map = env.store.snapshot(SHOWTIME, None).await.unwrap();
    assert!(map.seats.iter().all(|s| s.state != SeatState::Held), "no ghost holds after expiry");
    let sold: HashSet<String> =
        map.seats.iter().filter(|s| s.state == SeatState::Sold).map(|s| s.seat.as_str().to_owned()).collect();

    // Every sold seat has exactly one booking, and every booking's seats are sold.
    let mut owners: HashMap<String, usize> = HashMap::new();
    let mut stored = 0;
    for client in 0..CLIENTS {
        for b in env.store.my_bookings(&format!("u{client}")).await.unwrap() {
            assert_eq!(b.status, BookingStatus::Confirmed);
            stored += 1;
            for s in &b.seats {
                *owners.entry(s.as_str().to_owned()).or_default() += 1;
            }
        }
    }
    assert_eq!(stored, confirmed.len(), "each successful confirm is one booking");
    assert!(owners.values().all(|n| *n == 1), "a seat sold at most once");
    assert_eq!(owners.keys().cloned().collect::<HashSet<_>>(), sold);

    // Both nodes read the same history, and it replays to the map.
    assert_replay_matches(&env.store, &env.bus, SHOWTIME).await;
    assert_replay_matches(&nodes[1], &bus_b, SHOWTIME).await;

    // The live deltas reached the subscribed node in offset order.
    let version = map.version;
    let live = testkit::eventually(WAIT, "all deltas delivered live", || async {
        let p = env.sink.publications(&format!("showtime:{SHOWTIME}"));
        (p.len() as u64 == version).then_some(p)
    })
    .await;
    assert!(live.iter().enumerate().all(|(i, (offset, _))| *offset == i as u64 + 1));

    // The ledger, the system of record, agrees: its sold seats are the map's,
    // and each confirm queued exactly one live event (the outbox worker of
    // the first node delivers them, once each).
    let ledger_sold: HashSet<String> =
        env.store.ledger().sold_seats(SHOWTIME).await.unwrap().into_iter().map(|s| s.seat).collect();
    assert_eq!(ledger_sold, sold);
    let notified = testkit::eventually(WAIT, "every confirmation on its user's topic", || async {
        let mut ids = Vec::new();
        for c in 0..CLIENTS {
            let topic = bus::Topic::parse(&format!("user:u{c}")).unwrap();
            for e in env.bus.history_after(&topic, 0, 1_000).await.unwrap().entries {
                ids.push(serde_json::from_slice::<seats::BookingEvent>(&e.data).unwrap().booking.booking_id);
            }
        }
        (ids.len() >= confirmed.len()).then_some(ids)
    })
    .await;
    assert_eq!(notified.len(), confirmed.len(), "one notification per confirm, none twice");
    let expected: HashSet<String> = confirmed.iter().map(|b| b.booking_id.clone()).collect();
    assert_eq!(notified.into_iter().collect::<HashSet<_>>(), expected);
    tracing::info!(clients = CLIENTS, held, refused, expired, confirmed = confirmed.len(), version, "race done");
}
