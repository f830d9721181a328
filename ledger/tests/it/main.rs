//! One suite, two engines: every test runs on an embedded SQLite file and on
//! a real PostgreSQL server started for it (initdb into a temp dir, a free
//! loopback port).

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::path::PathBuf;

use ledger::{BookingStatus, Ledger, LedgerError, NewBooking, NewEvent, Recorded};
use testkit::PostgresServer;

/// A database for one test; dropping it stops the server or removes the file.
enum Db {
    Sqlite(PathBuf),
    Postgres(PostgresServer),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Sqlite(dir) => format!("sqlite://{}", dir.join("t.db").display()),
            Db::Postgres(pg) => pg.url(),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Sqlite(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn sqlite() -> Db {
    let dir = std::env::temp_dir().join(format!("marquee-ledger-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    Db::Sqlite(dir)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

async fn run<F, Fut>(db: Db, test: F)
where
    F: FnOnce(Ledger, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let url = db.url();
    let ledger = Ledger::open(&url).await.unwrap();
    test(ledger, url).await;
    drop(db);
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $name() { super::run(super::sqlite(), super::$name).await; })*
        }
        mod on_postgres {
            $(#[tokio::test] async fn $name() { super::run(super::Db::Postgres(testkit::PostgresServer::start()), super::$name).await; })*
        }
    };
}

both!(
    a_booking_is_recorded_with_its_seats_and_events,
    a_sold_seat_cannot_be_sold_again,
    a_retried_confirm_finds_the_first_booking,
    cancelling_frees_the_seats_once,
    one_of_many_concurrent_sales_of_a_seat_wins,
    events_are_claimed_by_one_worker_until_their_lease_ends,
    failing_events_back_off_and_dead_letter_without_blocking_others,
    the_cache_is_told_of_every_change,
    bookings_survive_reopening,
    payment_sagas_move_forward_once,
    unfinished_payments_are_listed_by_age,
    room_messages_are_archived_once_and_paged_back,
    two_writers_archiving_one_room_keep_one_row_each,
);

fn booking(hold: &str, user: &str, seats: &[&str]) -> NewBooking {
    NewBooking {
        booking_id: format!("bk{hold}-st1"),
        code: format!("C{}", hold.to_uppercase()),
        hold_id: hold.to_owned(),
        showtime: "st1".to_owned(),
        user: user.to_owned(),
        seats: seats.iter().map(|s| (*s).to_owned()).collect(),
        details: r#"{"lines":[]}"#.to_owned(),
        amount: 15_000 * seats.len() as i64,
        created_at: 1_000,
    }
}

fn events(hold: &str) -> Vec<NewEvent> {
    ["live", "webhook"]
        .iter()
        .map(|c| NewEvent { channel: (*c).to_owned(), key: format!("{hold}:confirmed:{c}"), payload: "{}".to_owned() })
        .collect()
}

async fn a_booking_is_recorded_with_its_seats_and_events(l: Ledger, _: String) {
    let r = l.record_booking(&booking("h1", "alice", &["A1", "A2"]), &events("h1")).await.unwrap();
    let Recorded::New(b) = r else { panic!("expected a new booking") };
    assert_eq!(b.status, BookingStatus::Confirmed);
    assert_eq!(b.seats, ["A1", "A2"]);
    assert_eq!(b.amount, 30_000);
    assert_eq!(l.booking_by_code("CH1").await.unwrap().unwrap().booking_id, b.booking_id);
    assert_eq!(l.bookings_of("alice").await.unwrap(), vec![b.clone()]);
    assert!(l.bookings_of("bob").await.unwrap().is_empty());
    let sold = l.sold_seats("st1").await.unwrap();
    assert_eq!(sold.iter().map(|s| s.seat.as_str()).collect::<Vec<_>>(), ["A1", "A2"]);
    assert!(sold.iter().all(|s| s.user == "alice" && s.booking_id == b.booking_id));
    assert!(l.sold_seats("st2").await.unwrap().is_empty());
    assert_eq!(l.outbox_stats().await.unwrap().pending, 2);
}

async fn a_sold_seat_cannot_be_sold_again(l: Ledger, _: String) {
    l.record_booking(&booking("h1", "alice", &["A1", "A2"]), &events("h1")).await.unwrap();
    let e = l.record_booking(&booking("h2", "bob", &["A2", "A3"]), &events("h2")).await.unwrap_err();
    assert!(matches!(&e, LedgerError::SeatsSold(s) if s == &["A2"]), "{e:?}");
    // Nothing of the refused sale stands: no booking, no seat, no event.
    assert!(l.booking_by_hold("h2").await.unwrap().is_none());
    assert_eq!(l.sold_seats("st1").await.unwrap().len(), 2);
    assert_eq!(l.outbox_stats().await.unwrap().pending, 2);
    // Another showtime's A2 is another seat.
    let mut other = booking("h3", "bob", &["A2"]);
    other.showtime = "st2".into();
    other.booking_id = "bkh3-st2".into();
    assert!(matches!(l.record_booking(&other, &[]).await.unwrap(), Recorded::New(_)));
}

async fn a_retried_confirm_finds_the_first_booking(l: Ledger, _: String) {
    let first = l.record_booking(&booking("h1", "alice", &["A1"]), &events("h1")).await.unwrap().into_record();
    let mut again = booking("h1", "alice", &["A1"]);
    again.booking_id = "bkother-st1".into();
    again.code = "OTHER".into();
    match l.record_booking(&again, &events("h1")).await.unwrap() {
        Recorded::Existing(b) => assert_eq!(b, first),
        Recorded::New(_) => panic!("a retry made a second booking"),
    }
    let mut changed = booking("h1", "alice", &["A1", "A2"]);
    changed.booking_id = "bkx-st1".into();
    assert!(matches!(l.record_booking(&changed, &[]).await, Err(LedgerError::Conflict)));
    assert_eq!(l.bookings_of("alice").await.unwrap().len(), 1);
    assert_eq!(l.outbox_stats().await.unwrap().pending, 2, "a retry queues no second events");
    // A code clash is told apart from a retry.
    let clash = NewBooking { code: "CH1".into(), ..booking("h9", "bob", &["B1"]) };
    assert!(matches!(l.record_booking(&clash, &[]).await, Err(LedgerError::CodeTaken)));
}

async fn cancelling_frees_the_seats_once(l: Ledger, _: String) {
    let b = l.record_booking(&booking("h1", "alice", &["A1", "A2"]), &[]).await.unwrap().into_record();
    assert!(matches!(l.cancel_booking(&b.booking_id, "bob", 2_000, &[]).await, Err(LedgerError::NotOwner)));
    assert!(matches!(l.cancel_booking("bknope-st1", "alice", 2_000, &[]).await, Err(LedgerError::NotFound)));
    let c = l.cancel_booking(&b.booking_id, "alice", 2_000, &events("h1c")).await.unwrap();
    assert_eq!(c.status, BookingStatus::Cancelled);
    assert_eq!(c.cancelled_at, Some(2_000));
    assert!(l.sold_seats("st1").await.unwrap().is_empty());
    assert!(matches!(l.cancel_booking(&b.booking_id, "alice", 3_000, &[]).await, Err(LedgerError::AlreadyCancelled)));
    assert_eq!(l.outbox_stats().await.unwrap().pending, 2);
    // The seats can be sold again, and both bookings are on record.
    l.record_booking(&booking("h2", "bob", &["A2"]), &[]).await.unwrap();
    assert_eq!(l.bookings_of("alice").await.unwrap()[0].status, BookingStatus::Cancelled);
}

async fn one_of_many_concurrent_sales_of_a_seat_wins(_: Ledger, url: String) {
    // Separate pools, as separate nodes would have.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let l = Ledger::open(&url).await.unwrap();
            let hold = format!("h{i}");
            let r =
                l.record_booking(&booking(&hold, &format!("u{i}"), &["C5", &format!("D{i}")]), &events(&hold)).await;
            l.close().await;
            r
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Recorded::New(_)) => won += 1,
            Err(LedgerError::SeatsSold(s)) => assert_eq!(s, ["C5"]),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    let l = Ledger::open(&url).await.unwrap();
    let sold = l.sold_seats("st1").await.unwrap();
    assert_eq!(sold.len(), 2, "C5 and the winner's D seat: {sold:?}");
    assert_eq!(l.outbox_stats().await.unwrap().pending, 2);
}

async fn events_are_claimed_by_one_worker_until_their_lease_ends(l: Ledger, url: String) {
    l.record_booking(&booking("h1", "alice", &["A1"]), &events("h1")).await.unwrap();
    let other = Ledger::open(&url).await.unwrap();
    let mine = l.claim_events(10_000, 5_000, 10).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|e| e.attempts == 1));
    assert!(other.claim_events(10_001, 5_000, 10).await.unwrap().is_empty(), "leased to the first worker");
    l.delivered(mine[0].id, 10_002).await.unwrap();
    // The first worker dies holding the second event: after the lease any
    // worker, whatever its name, takes it.
    assert!(other.claim_events(14_999, 5_000, 10).await.unwrap().is_empty());
    let taken = other.claim_events(15_000, 5_000, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, mine[1].id);
    assert_eq!(taken[0].attempts, 2);
    other.delivered(taken[0].id, 15_001).await.unwrap();
    assert!(l.claim_events(100_000, 5_000, 10).await.unwrap().is_empty());
    assert_eq!(l.outbox_stats().await.unwrap().pending, 0);
}

async fn failing_events_back_off_and_dead_letter_without_blocking_others(l: Ledger, _: String) {
    l.record_booking(&booking("h1", "alice", &["A1"]), &events("h1")).await.unwrap();
    l.record_booking(&booking("h2", "bob", &["A2"]), &events("h2")).await.unwrap();
    let first = l.claim_events(10_000, 5_000, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    l.retry_at(first[0].id, 60_000, "503 from the webhook").await.unwrap();
    // The failing event waits for its due time; the others go on.
    let rest = l.claim_events(10_001, 5_000, 10).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert!(rest.iter().all(|e| e.id != first[0].id));
    for e in &rest {
        l.delivered(e.id, 10_002).await.unwrap();
    }
    let again = l.claim_events(60_000, 5_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].last_error.as_deref(), Some("503 from the webhook"));
    l.dead_letter(again[0].id, 60_001, "410 gone").await.unwrap();
    assert!(l.claim_events(1_000_000, 5_000, 10).await.unwrap().is_empty());
    let stats = l.outbox_stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (0, 1));
    let dead = l.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key, first[0].key);
    assert_eq!(dead[0].last_error.as_deref(), Some("410 gone"));
}

async fn the_cache_is_told_of_every_change(l: Ledger, _: String) {
    let b = l.record_booking(&booking("h1", "alice", &["A1"]), &[]).await.unwrap().into_record();
    assert!(!b.applied);
    assert_eq!(l.unapplied(10).await.unwrap().len(), 1);
    l.mark_applied(&b.booking_id, BookingStatus::Confirmed).await.unwrap();
    assert!(l.unapplied(10).await.unwrap().is_empty());
    assert!(l.booking(&b.booking_id).await.unwrap().unwrap().applied);
    // A cancellation is a change the cache must hear of too.
    l.cancel_booking(&b.booking_id, "alice", 2_000, &[]).await.unwrap();
    let pending = l.unapplied(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, BookingStatus::Cancelled);
    l.mark_applied(&b.booking_id, BookingStatus::Cancelled).await.unwrap();
    assert!(l.unapplied(10).await.unwrap().is_empty());
}

async fn bookings_survive_reopening(l: Ledger, url: String) {
    let b = l.record_booking(&booking("h1", "alice", &["A1"]), &events("h1")).await.unwrap().into_record();
    l.close().await;
    // Opening again applies no migration twice and finds everything.
    let l = Ledger::open(&url).await.unwrap();
    assert_eq!(l.bookings_of("alice").await.unwrap(), vec![b]);
    assert_eq!(l.sold_seats("st1").await.unwrap().len(), 1);
    assert_eq!(l.outbox_stats().await.unwrap().pending, 2);
    l.ping().await.unwrap();
}

fn new_payment(order: &str, now: i64) -> ledger::NewPayment {
    ledger::NewPayment {
        order_id: order.into(),
        showtime: "st-1".into(),
        user: "alice".into(),
        amount: 30000,
        payment_key: String::new(),
        provider: "toss".into(),
        tickets: String::new(),
        now,
    }
}

async fn payment_sagas_move_forward_once(l: Ledger, _url: String) {
    use ledger::{PaymentState as P, Step};
    let p = l.begin_payment(&new_payment("h1", 10)).await.unwrap();
    assert_eq!((p.state, p.amount, p.attempts), (P::Pending, 30000, 0));
    // Beginning again finds the same saga.
    let again = l.begin_payment(&ledger::NewPayment { amount: 1, ..new_payment("h1", 20) }).await.unwrap();
    assert_eq!(again, p);
    let approved = Step { payment_key: Some("pk1"), ..Step::default() };
    assert!(l.transition_payment("h1", &[P::Pending], P::Approved, approved.clone(), 30).await.unwrap());
    assert!(!l.transition_payment("h1", &[P::Pending], P::Approved, approved, 31).await.unwrap());
    // Confirm and refund race: exactly one wins.
    let confirm = l
        .transition_payment("h1", &[P::Approved], P::Confirmed, Step { booking_id: Some("bk1"), ..Step::default() }, 40)
        .await
        .unwrap();
    let refund = l
        .transition_payment("h1", &[P::Approved], P::RefundPending, Step { reason: Some("x"), ..Step::default() }, 41)
        .await
        .unwrap();
    assert!(confirm && !refund);
    let p = l.payment("h1").await.unwrap().unwrap();
    assert_eq!((p.state, p.payment_key.as_str(), p.booking_id.as_deref()), (P::Confirmed, "pk1", Some("bk1")));
    assert!(p.state.is_final());
    l.note_payment_attempt("h1", "boom", 50).await.unwrap();
    let p = l.payment("h1").await.unwrap().unwrap();
    assert_eq!((p.attempts, p.last_error.as_deref(), p.updated_at), (1, Some("boom"), 50));
    assert!(l.payment("h2").await.unwrap().is_none());
}

async fn unfinished_payments_are_listed_by_age(l: Ledger, _url: String) {
    use ledger::{PaymentState as P, Step};
    for (order, now) in [("h1", 100), ("h2", 200), ("h3", 300), ("h4", 50)] {
        l.begin_payment(&new_payment(order, now)).await.unwrap();
    }
    l.transition_payment("h4", &[P::Pending], P::Declined, Step::default(), 60).await.unwrap();
    l.transition_payment("h2", &[P::Pending], P::Approved, Step::default(), 150).await.unwrap();
    let old: Vec<String> = l.unfinished_payments(250, 10).await.unwrap().into_iter().map(|p| p.order_id).collect();
    assert_eq!(old, ["h1", "h2"]);
    assert_eq!(l.unfinished_payments(1000, 1).await.unwrap().len(), 1);
}

/// `n` room messages `from..from+n` as (offset, payload) pairs.
fn room_batch(from: u64, n: u64) -> Vec<(u64, String)> {
    (from..from + n).map(|o| (o, format!(r#"{{"data":{{"text":"m{o}"}}}}"#))).collect()
}

fn refs(batch: &[(u64, String)]) -> Vec<(u64, &str)> {
    batch.iter().map(|(o, p)| (*o, p.as_str())).collect()
}

async fn room_messages_are_archived_once_and_paged_back(l: Ledger, url: String) {
    assert_eq!(l.last_archived("room:a", "e1").await.unwrap(), 0);
    // More than one statement's worth, in one call.
    let first = room_batch(1, 250);
    assert_eq!(l.archive_messages("room:a", "e1", &refs(&first), 7).await.unwrap(), 250);
    // Writing an overlapping range again adds only what is new, and keeps
    // the first copy of what was there.
    let mut again = room_batch(200, 60);
    again[0].1 = r#"{"data":"changed"}"#.to_owned();
    assert_eq!(l.archive_messages("room:a", "e1", &refs(&again), 8).await.unwrap(), 9);
    assert_eq!(l.last_archived("room:a", "e1").await.unwrap(), 259);
    // Another epoch and another room are other sequences.
    l.archive_messages("room:a", "e2", &refs(&room_batch(1, 3)), 9).await.unwrap();
    l.archive_messages("room:b", "e1", &refs(&room_batch(1, 400)), 9).await.unwrap();
    assert_eq!(l.last_archived("room:a", "e2").await.unwrap(), 3);
    assert_eq!(l.last_archived("room:a", "e9").await.unwrap(), 0);

    let page = l.messages_before("room:a", "e1", 201, 3).await.unwrap();
    assert_eq!(page.iter().map(|m| m.offset).collect::<Vec<_>>(), [200, 199, 198]);
    assert_eq!(page[0].payload, r#"{"data":{"text":"m200"}}"#);
    assert_eq!(page[0].archived_at, 7);
    // Paging back from the top reaches offset 1 with every offset once.
    let mut seen = Vec::new();
    let mut before = u64::MAX;
    loop {
        let page = l.messages_before("room:a", "e1", before, 100).await.unwrap();
        let Some(last) = page.last() else { break };
        before = last.offset;
        seen.extend(page.iter().map(|m| m.offset));
    }
    assert_eq!(seen, (1..=259).rev().collect::<Vec<_>>());
    // Forward reads stop below their bound.
    let fwd = l.messages_after("room:a", "e1", 10, 14, 100).await.unwrap();
    assert_eq!(fwd.iter().map(|m| m.offset).collect::<Vec<_>>(), [11, 12, 13]);
    assert_eq!(l.messages_after("room:a", "e1", 0, u64::MAX, 5000).await.unwrap().len(), 259);
    assert!(l.messages_before("room:a", "e1", 1, 10).await.unwrap().is_empty());
    assert!(l.archive_messages("room:a", "e1", &[], 1).await.unwrap() == 0);
    // The archive survives reopening.
    l.close().await;
    let l = Ledger::open(&url).await.unwrap();
    assert_eq!(l.last_archived("room:b", "e1").await.unwrap(), 400);
}

async fn two_writers_archiving_one_room_keep_one_row_each(_: Ledger, url: String) {
    // Separate pools, as two nodes' archive writers would have, writing
    // overlapping ranges at the same time.
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let l = Ledger::open(&url).await.unwrap();
            let mut added = 0;
            for start in (1 + w * 10..=300).step_by(50) {
                added += l.archive_messages("room:r", "e", &refs(&room_batch(start, 50)), 1).await.unwrap();
            }
            l.close().await;
            added
        }));
    }
    let mut added = 0;
    for t in tasks {
        added += t.await.unwrap();
    }
    let l = Ledger::open(&url).await.unwrap();
    let all = l.messages_after("room:r", "e", 0, u64::MAX, 1000).await.unwrap();
    let offsets: Vec<u64> = all.iter().map(|m| m.offset).collect();
    let top = *offsets.last().unwrap();
    assert_eq!(offsets, (1..=top).collect::<Vec<_>>(), "one row per offset, no gap");
    assert_eq!(added, top, "every row was counted new exactly once");
}
