//! Ticket types: holds and bookings priced per ticket type and seat class
//! from the schedule, the checks on the tickets a client sends, and the age
//! rule; on both engines.

use seats::{Line, SeatClass, SeatError, TicketType, Tickets};

use crate::{engines, listed, req};

fn tickets(list: &[(TicketType, u32)]) -> Tickets {
    Tickets::from_counts(list.iter().copied())
}

fn priced(lines: &[Line]) -> Vec<(&str, SeatClass, TicketType, u32)> {
    lines.iter().map(|l| (l.seat.as_str(), l.class, l.ticket, l.price)).collect()
}

engines!(tickets_price_each_seat_from_the_schedule, |env: crate::Env| async move {
    // A1 standard, B1 premium, C1 wheelchair: a disabled ticket goes to the wheelchair space.
    let mut r = req("alice", &["B1", "C1", "A1"], "k1");
    r.tickets = Some(tickets(&[(TicketType::Adult, 1), (TicketType::Child, 1), (TicketType::Disabled, 1)]));
    let h = env.store.hold(r).await.unwrap();
    assert_eq!(
        priced(&h.lines),
        [
            ("A1", SeatClass::Standard, TicketType::Adult, 15000),
            ("B1", SeatClass::Premium, TicketType::Child, 13000),
            ("C1", SeatClass::Wheelchair, TicketType::Disabled, 5000),
        ]
    );
    assert_eq!(h.amount, 33000);
    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(json["tickets"], serde_json::json!({"adult": 1, "disabled": 1, "child": 1}));
    assert_eq!(
        json["lines"][1],
        serde_json::json!({"seat": "B1", "class": "premium", "ticket": "child", "price": 13000})
    );
    // An extend reports the same lines; the confirm sells what the hold said.
    env.clock.advance(std::time::Duration::from_secs(60));
    let extended = env.store.extend("st-1", "alice", &h.hold_id).await.unwrap();
    assert_eq!((extended.lines.clone(), extended.amount), (h.lines.clone(), h.amount));
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    assert_eq!((b.lines.clone(), b.tickets.clone(), b.amount), (h.lines.clone(), h.tickets.clone(), 33000));
    // The ledger keeps them: the listing (and a repeated confirm) show the same.
    assert_eq!(env.store.my_bookings("alice").await.unwrap(), vec![listed(&b)]);
    assert_eq!(env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap().lines, b.lines);
});

engines!(tickets_default_to_adult_and_confirm_may_change_them, |env: crate::Env| async move {
    let h = env.store.hold(req("alice", &["A1", "A2"], "k1")).await.unwrap();
    assert_eq!(h.tickets, Tickets::adults(2));
    assert_eq!(h.amount, 30000);
    let teens = tickets(&[(TicketType::Teen, 2)]);
    let wrong = env.store.confirm_with("st-1", "alice", &h.hold_id, Some(tickets(&[(TicketType::Teen, 3)]))).await;
    assert!(matches!(wrong, Err(SeatError::TicketCountMismatch { tickets: 3, seats: 2 })), "{wrong:?}");
    let b = env.store.confirm_with("st-1", "alice", &h.hold_id, Some(teens.clone())).await.unwrap();
    assert_eq!((b.tickets.clone(), b.amount), (teens, 24000));
    assert!(b.lines.iter().all(|l| l.ticket == TicketType::Teen && l.price == 12000));
});

engines!(tickets_are_checked_before_anything_is_held, |env: crate::Env| async move {
    let mut r = req("alice", &["A1", "A2"], "k1");
    r.tickets = Some(tickets(&[(TicketType::Adult, 1)]));
    assert_eq!(env.store.hold(r).await.unwrap_err().code(), "ticket_count_mismatch");
    let mut r = req("alice", &["A1"], "k2");
    r.tickets = Some(tickets(&[(TicketType::Senior, 1)]));
    let e = env.store.hold(r).await.unwrap_err();
    assert_eq!(e, SeatError::TicketNotOffered(TicketType::Senior));
    assert!(e.to_string().contains("경로"), "{e}");
    // An adults-only film: no teen or child tickets, on hold or on confirm.
    let mut r = req("alice", &["A1", "A2"], "k3");
    r.showtime = "st-adult".into();
    r.tickets = Some(tickets(&[(TicketType::Adult, 1), (TicketType::Child, 1)]));
    let e = env.store.hold(r.clone()).await.unwrap_err();
    assert_eq!(e.code(), "age_restricted");
    assert!(e.to_string().contains("청소년관람불가"), "{e}");
    let map = env.store.snapshot("st-adult", None).await.unwrap();
    assert!(map.seats.iter().all(|s| s.state == seats::SeatState::Free), "nothing was held");
    r.tickets = None;
    let h = env.store.hold(r).await.unwrap();
    let teen = tickets(&[(TicketType::Adult, 1), (TicketType::Teen, 1)]);
    let e = env.store.confirm_with("st-adult", "alice", &h.hold_id, Some(teen)).await.unwrap_err();
    assert_eq!(e.code(), "age_restricted");
    assert_eq!(env.store.confirm("st-adult", "alice", &h.hold_id).await.unwrap().amount, 30000);
});

engines!(a_retried_hold_with_other_tickets_conflicts, |env: crate::Env| async move {
    let mut r = req("alice", &["A1", "A2"], "k1");
    r.tickets = Some(tickets(&[(TicketType::Adult, 1), (TicketType::Child, 1)]));
    let h = env.store.hold(r.clone()).await.unwrap();
    assert_eq!(env.store.hold(r.clone()).await.unwrap(), h);
    r.tickets = Some(tickets(&[(TicketType::Teen, 2)]));
    assert_eq!(env.store.hold(r).await.unwrap_err(), SeatError::IdempotencyConflict);
});
