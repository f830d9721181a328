//! The Toss adapter against the local Toss protocol server
//! (`testkit::TossServer`): approve, decline, timeout then lookup, 5xx,
//! duplicate answers.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use payment::{ConfirmRequest, OrderState, PaymentError, PaymentProvider, TossClient};
use testkit::TossServer;
use testkit::toss::Behaviour;

fn provider(server: &TossServer, timeout: Duration) -> PaymentProvider {
    PaymentProvider::Toss(TossClient::new(&server.base_url(), "test_sk_secret", timeout).unwrap())
}

fn req(order: &str, amount: i64) -> ConfirmRequest {
    ConfirmRequest {
        payment_key: format!("tpk-{order}"),
        order_id: order.to_owned(),
        amount,
        idempotency_key: format!("confirm:{order}"),
    }
}

#[tokio::test]
async fn approves_with_auth_and_idempotency_key() {
    let server = TossServer::start().await;
    let p = provider(&server, Duration::from_secs(5));
    let a = p.confirm(&req("h0000000000000001", 30000)).await.unwrap();
    assert_eq!((a.provider, a.amount, a.demo), ("toss", 30000, false));
    assert_eq!(a.payment_key, "tpk-h0000000000000001");
    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/payments/confirm");
    // base64("test_sk_secret:")
    assert_eq!(r.authorization.as_deref(), Some("Basic dGVzdF9za19zZWNyZXQ6"));
    assert_eq!(r.idempotency_key.as_deref(), Some("confirm:h0000000000000001"));
    assert_eq!(r.body["paymentKey"], "tpk-h0000000000000001");
    assert_eq!(r.body["orderId"], "h0000000000000001");
    assert_eq!(r.body["amount"], 30000);
    assert_eq!(server.charges(), 1);

    p.cancel(&a.payment_key, "hold expired", "cancel:h0000000000000001").await.unwrap();
    assert_eq!(server.status_of("h0000000000000001").as_deref(), Some("CANCELED"));
    // A repeated cancel refunds nothing more.
    p.cancel(&a.payment_key, "hold expired", "cancel:h0000000000000001").await.unwrap();
    assert_eq!(server.cancels(), 1);
    let cancel = server.requests().into_iter().find(|r| r.path.ends_with("/cancel")).unwrap();
    assert_eq!(cancel.body["cancelReason"], "hold expired");
}

#[tokio::test]
async fn decline_is_typed_and_charges_nothing() {
    let server = TossServer::start().await;
    server.script([Behaviour::Decline { code: "REJECT_CARD_PAYMENT".into(), message: "한도초과".into() }]);
    let p = provider(&server, Duration::from_secs(5));
    let e = p.confirm(&req("h0000000000000002", 15000)).await.unwrap_err();
    assert_eq!(e, PaymentError::Declined { code: "REJECT_CARD_PAYMENT".into(), message: "한도초과".into() });
    assert_eq!(server.charges(), 0);
    assert_eq!(p.lookup("h0000000000000002").await.unwrap(), OrderState::Missing);
}

#[tokio::test]
async fn other_4xx_is_rejected() {
    let server = TossServer::start().await;
    server.script([Behaviour::Decline { code: "UNAUTHORIZED_KEY".into(), message: "bad key".into() }]);
    let p = provider(&server, Duration::from_secs(5));
    let e = p.confirm(&req("h0000000000000003", 15000)).await.unwrap_err();
    assert!(matches!(e, PaymentError::Rejected { status: 400, ref code, .. } if code == "UNAUTHORIZED_KEY"), "{e:?}");
}

#[tokio::test]
async fn timeout_is_unknown_and_lookup_finds_the_charge() {
    let server = TossServer::start().await;
    server.script([Behaviour::ChargeThenStall(Duration::from_secs(30))]);
    let p = provider(&server, Duration::from_millis(300));
    let e = p.confirm(&req("h0000000000000004", 12000)).await.unwrap_err();
    assert!(matches!(e, PaymentError::Unknown(_)), "{e:?}");
    match p.lookup("h0000000000000004").await.unwrap() {
        OrderState::Approved(a) => assert_eq!((a.amount, a.payment_key.as_str()), (12000, "tpk-h0000000000000004")),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.charges(), 1);
}

#[tokio::test]
async fn server_error_is_unknown_and_retry_charges_once() {
    let server = TossServer::start().await;
    server.script([Behaviour::Fail5xx, Behaviour::ChargeThenFail5xx]);
    let p = provider(&server, Duration::from_secs(5));
    let r = req("h0000000000000005", 9000);
    assert!(matches!(p.confirm(&r).await, Err(PaymentError::Unknown(_))));
    assert_eq!(p.lookup(&r.order_id).await.unwrap(), OrderState::Missing);
    // Charged, but the answer was a 500.
    assert!(matches!(p.confirm(&r).await, Err(PaymentError::Unknown(_))));
    // The retry hears "already processed" and reads the payment back.
    let a = p.confirm(&r).await.unwrap();
    assert_eq!(a.amount, 9000);
    assert_eq!(server.charges(), 1);
}

#[tokio::test]
async fn duplicate_answers_charge_once() {
    let server = TossServer::start().await;
    let p = provider(&server, Duration::from_secs(5));
    let r = req("h0000000000000006", 15000);
    let first = p.confirm(&r).await.unwrap();
    let second = p.confirm(&r).await.unwrap();
    assert_eq!(first, second);
    // Another key for the same order: "already processed", read back, same payment.
    let third = p.confirm(&ConfirmRequest { idempotency_key: "other".into(), ..r.clone() }).await.unwrap();
    assert_eq!(third, first);
    assert_eq!(server.requests().iter().filter(|q| q.path == "/v1/payments/confirm").count(), 3);
    assert_eq!(server.charges(), 1);
}

#[tokio::test]
async fn amount_mismatch_is_typed() {
    let server = TossServer::start().await;
    let p = provider(&server, Duration::from_secs(5));
    p.confirm(&req("h0000000000000007", 15000)).await.unwrap();
    let e = p
        .confirm(&ConfirmRequest { idempotency_key: "k2".into(), amount: 1000, ..req("h0000000000000007", 15000) })
        .await
        .unwrap_err();
    assert_eq!(e, PaymentError::AmountMismatch { expected: 1000, actual: 15000 });
}

#[tokio::test]
async fn demo_always_approves() {
    let a = PaymentProvider::Demo.confirm(&req("h0000000000000008", 15000)).await.unwrap();
    assert!(a.demo);
    assert_eq!(a.provider, "demo");
}
