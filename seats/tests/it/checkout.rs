//! The payment saga (`seats::checkout`) against a real redis-server, the
//! ledger on SQLite and on PostgreSQL, and the local Toss protocol server:
//! declines release the hold, an approval after the hold expired is
//! refunded, a saga abandoned between payment and confirm is reconciled
//! exactly once, duplicate confirms charge once.

use std::sync::Arc;
use std::time::Duration;

use bus::{RedisBus, Topic};
use ledger::PaymentState;
use payment::{PaymentProvider, TossClient};
use seats::checkout::{self, CheckoutError, PaymentInput, RECONCILE_AFTER};
use seats::{Clock, SeatState, SeatStore};
use testkit::toss::Behaviour;
use testkit::{PostgresServer, RedisServer, TossServer};
use tokio_util::sync::CancellationToken;

use crate::{Collect, T0, bus_config, ledger_in_temp, req, schedule};

struct Saga {
    store: SeatStore,
    clock: Clock,
    toss: TossServer,
    provider: PaymentProvider,
    _redis: RedisServer,
    _pg: Option<PostgresServer>,
    shutdown: CancellationToken,
    dir: Option<std::path::PathBuf>,
}

impl Drop for Saga {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Saga {
    async fn new(postgres: bool, timeout: Duration) -> Saga {
        let (ledger, pg, dir) = if postgres {
            let pg = PostgresServer::start();
            (ledger::Ledger::open(&pg.url()).await.unwrap(), Some(pg), None)
        } else {
            let (l, dir) = ledger_in_temp().await;
            (l, None, Some(dir))
        };
        let redis = RedisServer::start();
        let shutdown = CancellationToken::new();
        let sink = Arc::new(Collect::default());
        let rb = RedisBus::connect(&redis.url(), bus_config(), sink, shutdown.clone()).await.unwrap();
        bus::Bus::Redis(rb.clone()).subscribe_node(&Topic::parse("showtime:st-1").unwrap()).await.unwrap();
        let clock = Clock::manual(T0);
        let store = SeatStore::redis(rb, bus_config(), schedule(), clock.clone(), ledger);
        let toss = TossServer::start().await;
        let provider = PaymentProvider::Toss(TossClient::new(&toss.base_url(), "test_sk_x", timeout).unwrap());
        Saga { store, clock, toss, provider, _redis: redis, _pg: pg, shutdown, dir }
    }

    /// Holds A1 and A2 (30,000 won) for alice for five minutes.
    async fn hold(&self) -> String {
        let mut r = req("alice", &["A1", "A2"], "k1");
        r.ttl = Some(Duration::from_secs(300));
        self.store.hold(r).await.unwrap().hold_id
    }

    fn paid(hold: &str) -> PaymentInput {
        PaymentInput::Toss { payment_key: format!("tpk-{hold}"), order_id: hold.to_owned(), amount: 30000 }
    }

    async fn checkout(&self, hold: &str) -> Result<seats::Booking, CheckoutError> {
        checkout::checkout(&self.store, &self.provider, "st-1", "alice", hold, None, &Saga::paid(hold)).await
    }

    async fn state(&self, hold: &str) -> PaymentState {
        self.store.ledger().payment(hold).await.unwrap().unwrap().state
    }

    async fn seat(&self, seat: &str) -> SeatState {
        let map = self.store.snapshot("st-1", None).await.unwrap();
        map.seats.iter().find(|s| s.seat.as_str() == seat).unwrap().state
    }

    async fn bookings(&self) -> usize {
        self.store.ledger().bookings_of("alice").await.unwrap().len()
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $name() { super::$name(false).await; })*
        }
        mod on_postgres {
            $(#[tokio::test] async fn $name() { super::$name(true).await; })*
        }
    };
}

on_both!(
    approved_payment_books_once,
    declined_payment_releases_the_hold,
    approval_after_hold_expiry_is_refunded,
    killed_between_payment_and_confirm_is_reconciled_once,
    duplicate_confirms_charge_once,
    timeout_is_looked_up_before_deciding,
    unanswered_payment_that_never_charged_is_declined_by_the_reconciler,
    a_cancelled_paid_booking_is_refunded_once,
    a_refund_the_provider_failed_is_retried_until_it_succeeds,
);

async fn approved_payment_books_once(pg: bool) {
    let s = Saga::new(pg, Duration::from_secs(5)).await;
    let hold = s.hold().await;
    let quote = s.store.quote("st-1", "alice", &hold, None).await.unwrap();
    assert_eq!(quote.amount, 30000);
    let b = s.checkout(&hold).await.unwrap();
    assert_eq!(b.amount, 30000);
    let p = s.store.ledger().payment(&hold).await.unwrap().unwrap();
    assert_eq!(
        (p.state, p.provider.as_str(), p.booking_id.as_deref()),
        (PaymentState::Confirmed, "toss", Some(&*b.booking_id))
    );
    assert_eq!(s.seat("A1").await, SeatState::Sold);
    assert_eq!(s.toss.charges(), 1);
    // A wrong amount is refused before anything is charged.
    let mut r = req("alice", &["A3"], "k2");
    r.ttl = Some(Duration::from_secs(300));
    let h2 = s.store.hold(r).await.unwrap().hold_id;
    let wrong = PaymentInput::Toss { payment_key: "x".into(), order_id: h2.clone(), amount: 1 };
    let e = checkout::checkout(&s.store, &s.provider, "st-1", "alice", &h2, None, &wrong).await.unwrap_err();
    assert_eq!(e.code(), "payment_mismatch");
    assert_eq!(s.toss.charges(), 1);
}

async fn declined_payment_releases_the_hold(pg: bool) {
    let s = Saga::new(pg, Duration::from_secs(5)).await;
    s.toss.script([Behaviour::Decline { code: "REJECT_CARD_PAYMENT".into(), message: "한도초과".into() }]);
    let hold = s.hold().await;
    let e = s.checkout(&hold).await.unwrap_err();
    assert_eq!(e.code(), "payment_declined");
    assert_eq!(e, CheckoutError::Declined { code: "REJECT_CARD_PAYMENT".into(), message: "한도초과".into() });
    assert_eq!(s.state(&hold).await, PaymentState::Declined);
    assert_eq!(s.seat("A1").await, SeatState::Free);
    assert_eq!(s.seat("A2").await, SeatState::Free);
    // Retrying tells the same, and never charges.
    assert_eq!(s.checkout(&hold).await.unwrap_err().code(), "payment_declined");
    assert_eq!((s.toss.charges(), s.bookings().await), (0, 0));
}

async fn approval_after_hold_expiry_is_refunded(pg: bool) {
    let s = Saga::new(pg, Duration::from_secs(5)).await;
    let hold = s.hold().await;
    // Approved; then the hold runs out before the confirm.
    let p = checkout::pay(&s.store, &s.provider, "st-1", "alice", &hold, None, &Saga::paid(&hold)).await.unwrap();
    assert_eq!(p.state, PaymentState::Approved);
    s.clock.advance(Duration::from_secs(301));
    let e = s.checkout(&hold).await.unwrap_err();
    assert_eq!(e, CheckoutError::Refunded { reason: "hold_expired".into() });
    assert_eq!(e.code(), "payment_refunded");
    assert_eq!(s.state(&hold).await, PaymentState::Refunded);
    assert_eq!(s.toss.status_of(&hold).as_deref(), Some("CANCELED"));
    let cancel = s.toss.requests().into_iter().find(|r| r.path.ends_with("/cancel")).unwrap();
    assert_eq!(cancel.path, format!("/v1/payments/tpk-{hold}/cancel"));
    assert_eq!(cancel.idempotency_key, Some(format!("cancel:{hold}")));
    // Nothing left for the reconciler; retries refund nothing more.
    s.clock.advance(RECONCILE_AFTER * 2);
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 0);
    assert_eq!(s.checkout(&hold).await.unwrap_err().code(), "payment_refunded");
    assert_eq!((s.toss.charges(), s.toss.cancels(), s.bookings().await), (1, 1, 0));
}

async fn killed_between_payment_and_confirm_is_reconciled_once(pg: bool) {
    let s = Saga::new(pg, Duration::from_secs(5)).await;
    let hold = s.hold().await;
    // The process "dies" after the provider approved, before the confirm.
    let p = checkout::pay(&s.store, &s.provider, "st-1", "alice", &hold, None, &Saga::paid(&hold)).await.unwrap();
    assert_eq!(p.state, PaymentState::Approved);
    // Within the grace period the reconciler leaves it to the checkout.
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 0);
    assert_eq!(s.bookings().await, 0);
    s.clock.advance(RECONCILE_AFTER + Duration::from_secs(1));
    // Two nodes' reconcilers at once, then again: one booking, no refund.
    let (a, b) = tokio::join!(
        checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER),
        checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER),
    );
    assert!(a.unwrap() + b.unwrap() >= 1);
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 0);
    assert_eq!(s.state(&hold).await, PaymentState::Confirmed);
    assert_eq!(s.bookings().await, 1);
    assert_eq!(s.seat("A1").await, SeatState::Sold);
    // The client's retry gets that booking.
    let booked = s.checkout(&hold).await.unwrap();
    assert_eq!(Some(booked.booking_id), s.store.ledger().payment(&hold).await.unwrap().unwrap().booking_id);
    assert_eq!((s.toss.charges(), s.toss.cancels(), s.bookings().await), (1, 0, 1));
}

async fn duplicate_confirms_charge_once(pg: bool) {
    let s = Saga::new(pg, Duration::from_secs(5)).await;
    let hold = s.hold().await;
    let (a, b) = tokio::join!(s.checkout(&hold), s.checkout(&hold));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.booking_id, b.booking_id);
    let c = s.checkout(&hold).await.unwrap();
    assert_eq!(c.booking_id, a.booking_id);
    assert_eq!((s.toss.charges(), s.toss.cancels(), s.bookings().await), (1, 0, 1));
    assert_eq!(s.state(&hold).await, PaymentState::Confirmed);
}

async fn timeout_is_looked_up_before_deciding(pg: bool) {
    let s = Saga::new(pg, Duration::from_millis(300)).await;
    s.toss.script([Behaviour::ChargeThenStall(Duration::from_secs(30))]);
    let hold = s.hold().await;
    // No answer, but the lookup finds the charge: booked.
    let b = s.checkout(&hold).await.unwrap();
    assert_eq!(b.amount, 30000);
    assert!(s.toss.requests().iter().any(|r| r.path == format!("/v1/payments/orders/{hold}")));
    assert_eq!((s.toss.charges(), s.bookings().await), (1, 1));
}

async fn unanswered_payment_that_never_charged_is_declined_by_the_reconciler(pg: bool) {
    let s = Saga::new(pg, Duration::from_secs(5)).await;
    s.toss.script([Behaviour::Fail5xx]);
    let hold = s.hold().await;
    assert_eq!(s.checkout(&hold).await.unwrap_err().code(), "payment_pending");
    assert_eq!(s.state(&hold).await, PaymentState::Pending);
    assert_eq!(s.seat("A1").await, SeatState::Held);
    s.clock.advance(RECONCILE_AFTER + Duration::from_secs(1));
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 1);
    assert_eq!(s.state(&hold).await, PaymentState::Declined);
    assert_eq!(s.seat("A1").await, SeatState::Free);
    assert_eq!((s.toss.charges(), s.bookings().await), (0, 0));
}

async fn a_cancelled_paid_booking_is_refunded_once(pg: bool) {
    let s = Saga::new(pg, Duration::from_secs(5)).await;
    let hold = s.hold().await;
    let b = s.checkout(&hold).await.unwrap();
    assert_eq!(b.refund, None);
    // The cancel commits the refund as owed, in the same transaction.
    let c = s.store.cancel_booking("alice", &b.booking_id).await.unwrap();
    assert_eq!((c.status, c.refund), (seats::BookingStatus::Cancelled, Some(seats::Refund::Pending)));
    assert_eq!(s.state(&hold).await, PaymentState::RefundPending);
    assert_eq!(s.seat("A1").await, SeatState::Free);
    // Due at once (no grace period): the reconciler refunds it.
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 1);
    assert_eq!(s.state(&hold).await, PaymentState::Refunded);
    assert_eq!(s.toss.status_of(&hold).as_deref(), Some("CANCELED"));
    let cancel = s.toss.requests().into_iter().find(|r| r.path.ends_with("/cancel")).unwrap();
    assert_eq!(cancel.idempotency_key, Some(format!("cancel:{hold}")));
    let listed = s.store.booking("alice", &b.booking_id).await.unwrap();
    assert_eq!((listed.status, listed.refund), (seats::BookingStatus::Cancelled, Some(seats::Refund::Refunded)));
    // Cancelling again refunds nothing more; neither do later passes or a
    // retried checkout of the old hold.
    assert_eq!(s.store.cancel_booking("alice", &b.booking_id).await.unwrap_err().code(), "already_cancelled");
    s.clock.advance(RECONCILE_AFTER * 2);
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 0);
    assert_eq!(s.checkout(&hold).await.unwrap_err().code(), "payment_refunded");
    assert_eq!((s.toss.charges(), s.toss.cancels()), (1, 1));
}

async fn a_refund_the_provider_failed_is_retried_until_it_succeeds(pg: bool) {
    let s = Saga::new(pg, Duration::from_secs(5)).await;
    let hold = s.hold().await;
    let b = s.checkout(&hold).await.unwrap();
    s.toss.fail_cancels(1);
    s.store.cancel_booking("alice", &b.booking_id).await.unwrap();
    // The provider fails: still owed, and now left for the grace period.
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 0);
    assert_eq!(s.state(&hold).await, PaymentState::RefundPending);
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 0);
    assert_eq!(s.toss.cancels(), 0);
    s.clock.advance(RECONCILE_AFTER + Duration::from_secs(1));
    assert_eq!(checkout::reconcile_payments(&s.store, &s.provider, RECONCILE_AFTER).await.unwrap(), 1);
    assert_eq!(s.state(&hold).await, PaymentState::Refunded);
    assert_eq!((s.toss.charges(), s.toss.cancels()), (1, 1));
    let listed = s.store.booking("alice", &b.booking_id).await.unwrap();
    assert_eq!(listed.refund, Some(seats::Refund::Refunded));
}

#[tokio::test]
async fn the_demo_provider_approves_and_says_so() {
    let s = Saga::new(false, Duration::from_secs(5)).await;
    let hold = s.hold().await;
    let b = checkout::checkout(&s.store, &PaymentProvider::Demo, "st-1", "alice", &hold, None, &PaymentInput::Demo)
        .await
        .unwrap();
    let p = s.store.ledger().payment(&hold).await.unwrap().unwrap();
    assert_eq!((p.provider.as_str(), p.state), ("demo", PaymentState::Confirmed));
    assert_eq!(p.payment_key, format!("demo-{hold}"));
    assert_eq!(p.booking_id, Some(b.booking_id));
    assert_eq!(s.toss.requests().len(), 0);
}
