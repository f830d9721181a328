//! The `email` channel against a real SMTP server (aiosmtpd, started by
//! testkit): a confirmation and a cancellation each send exactly one mail,
//! in Korean and English, with a Message-Id derived from the idempotency
//! key; a recipient the server refuses with 550 is dead-lettered while the
//! others get their mail; a user without an address gets no mail row; mail
//! queued while the server is down is delivered once it is up.

use std::time::Duration;

use seats::mail::{EMAIL_CHANNEL, MailConfig};
use seats::notifier::OutboxConfig;
use testkit::SmtpServer;

use crate::{Env, Kind, WAIT, req};

fn config(smtp_url: &str) -> OutboxConfig {
    let mut c = OutboxConfig::new(None);
    c.mail = Some(MailConfig {
        smtp_url: smtp_url.to_owned(),
        from: "Marquee 예매 <tickets@marquee.test>".into(),
        ca_file: None,
    });
    c.poll_interval = Duration::from_millis(20);
    c.min_backoff = Duration::from_millis(10);
    c.max_backoff = Duration::from_millis(50);
    c.max_attempts = 20;
    c
}

async fn env() -> Env {
    Env::with_channels(Kind::Memory, &[EMAIL_CHANNEL]).await
}

/// Waits until the outbox has nothing pending (the worker records each
/// outcome after the server answered) and returns the dead-letter count.
async fn settled(env: &Env) -> i64 {
    testkit::eventually(WAIT, "the outbox settled", || async {
        let stats = env.store.ledger().outbox_stats().await.unwrap();
        (stats.pending == 0).then_some(stats.dead)
    })
    .await
}

/// Waits until `check` holds, moving the manual clock on so retries fall due.
async fn until(env: &Env, what: &str, check: impl Fn() -> bool) {
    testkit::eventually(WAIT, what, || {
        env.clock.advance(Duration::from_millis(100));
        let ok = check();
        async move { ok.then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn a_confirmation_and_its_cancellation_each_send_one_mail_with_the_booking() {
    let env = env().await;
    let smtp = SmtpServer::start();
    env.store.contacts().record("alice", Some("alice@example.org"));
    env.start_outbox(config(&smtp.url()));
    let h = env.store.hold(req("alice", &["A1", "B2"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    until(&env, "the confirmation mail", || smtp.messages().len() == 1).await;
    let m = &smtp.messages()[0];
    assert_eq!(m.mail_from, "tickets@marquee.test");
    assert_eq!(m.rcpt_to, ["alice@example.org"]);
    assert_eq!(m.header("To"), Some("alice@example.org"));
    assert_eq!(m.header("From"), Some("Marquee 예매 <tickets@marquee.test>"));
    let confirmation_id = format!("<{}.confirmed.email@marquee.test>", b.booking_id);
    assert_eq!(m.header("Message-ID"), Some(confirmation_id.as_str()));
    assert_eq!(
        m.header("Subject"),
        Some(format!("[Marquee] 예매 완료 · Booking confirmed: 매트릭스 ({})", b.code).as_str())
    );
    assert!(m.header("Content-Type").is_some_and(|c| c.starts_with("multipart/alternative")), "{m:?}");
    // Korean first, then English: movie, theater and screen, the start in
    // Asia/Seoul, the seats, the amount in won, the booking code.
    let text = &m.text;
    for want in [
        "예매가 완료되었습니다.",
        "영화: 매트릭스",
        "극장: 테스트 Screen 1",
        "상영: 2027년 1월 15일 (금) 19:30",
        "좌석: A1, B2",
        "금액: 34,000원",
        &format!("예매번호: {}", b.code),
        "Your booking is confirmed.",
        "Movie: The Matrix",
        "Theater: Test, Screen 1",
        "Starts: Fri 15 Jan 2027, 19:30 (KST)",
        "Amount: ₩34,000",
        &format!("Booking code: {}", b.code),
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    assert!(text.find("예매번호").unwrap() < text.find("Booking code").unwrap(), "Korean first");
    assert!(m.html.contains("<th align=\"left\">좌석</th><td>A1, B2</td>"), "{}", m.html);
    assert!(m.html.contains(&format!("<td>{}</td>", b.code)));

    env.store.cancel_booking("alice", &b.booking_id).await.unwrap();
    until(&env, "the cancellation mail", || smtp.messages().len() == 2).await;
    let c = &smtp.messages()[1];
    assert_eq!(c.header("Message-ID"), Some(format!("<{}.cancelled.email@marquee.test>", b.booking_id).as_str()));
    assert_eq!(c.header("In-Reply-To"), Some(confirmation_id.as_str()), "threads with its confirmation");
    assert!(
        c.text.contains("예매가 취소되었습니다.") && c.text.contains("Your booking has been cancelled."),
        "{}",
        c.text
    );
    assert!(c.header("Subject").is_some_and(|s| s.contains("예매 취소")));
    // Exactly one mail per change: nothing pending, nothing dead, no more mail.
    assert_eq!(settled(&env).await, 0);
    assert_eq!(smtp.messages().len(), 2);
}

#[tokio::test]
async fn a_refused_recipient_is_dead_lettered_while_the_others_get_their_mail() {
    let env = env().await;
    let smtp = SmtpServer::start();
    env.store.contacts().record("bob", Some("bounce-bob@example.org"));
    env.store.contacts().record("alice", Some("alice@example.org"));
    // Bob's event is first in the outbox; the server refuses him with 550.
    let hb = env.store.hold(req("bob", &["C2"], "kb")).await.unwrap();
    let bb = env.store.confirm("st-1", "bob", &hb.hold_id).await.unwrap();
    // Carol's token carried no address: no mail row at all.
    let hc = env.store.hold(req("carol", &["C3"], "kc")).await.unwrap();
    env.store.confirm("st-1", "carol", &hc.hold_id).await.unwrap();
    let mut alices = Vec::new();
    for i in 0..3 {
        let h = env.store.hold(req("alice", &[&format!("A{}", i + 1)], &format!("k{i}"))).await.unwrap();
        alices.push(env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap());
    }
    env.start_outbox(config(&smtp.url()));
    until(&env, "alice's three mails", || smtp.messages().len() == 3).await;
    let dead = testkit::eventually(WAIT, "bob's mail dead-lettered", || async {
        let d = env.store.ledger().dead_letters(10).await.unwrap();
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].key, format!("{}:confirmed:email", bb.booking_id));
    assert_eq!(dead[0].attempts, 1, "a 5xx is not retried");
    assert!(dead[0].last_error.as_deref().is_some_and(|e| e.contains("550")), "{dead:?}");
    assert_eq!(settled(&env).await, 1, "carol had no row to fail");
    let mut got: Vec<String> =
        smtp.messages().iter().filter_map(|m| m.header("Message-ID").map(str::to_owned)).collect();
    got.sort();
    let mut want: Vec<String> =
        alices.iter().map(|b| format!("<{}.confirmed.email@marquee.test>", b.booking_id)).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(smtp.messages().iter().all(|m| m.rcpt_to == ["alice@example.org"]));
}

#[tokio::test]
async fn mail_queued_while_the_smtp_server_is_down_is_delivered_once_it_is_up() {
    let env = env().await;
    env.store.contacts().record("alice", Some("alice@example.org"));
    // Hold a port and answer the first attempt by closing the connection
    // without a greeting; then nothing listens there (refused) until the
    // real server comes up on it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    env.start_outbox(config(&format!("smtp://127.0.0.1:{port}")));
    let h = env.store.hold(req("alice", &["A1"], "k1")).await.unwrap();
    let b = env.store.confirm("st-1", "alice", &h.hold_id).await.unwrap();
    let (sock, _) = tokio::time::timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    drop(sock);
    drop(listener);
    let smtp = SmtpServer::start_on(port);
    until(&env, "the mail after the outage", || smtp.messages().len() == 1).await;
    assert_eq!(
        smtp.messages()[0].header("Message-ID"),
        Some(format!("<{}.confirmed.email@marquee.test>", b.booking_id).as_str())
    );
    assert_eq!(settled(&env).await, 0);
    assert_eq!(smtp.messages().len(), 1, "delivered once");
}

#[tokio::test]
async fn a_bad_smtp_url_is_refused_before_anything_runs() {
    let env = env().await;
    let r = seats::notifier::run_outbox(env.store.clone(), config("smtp://"), env.shutdown.clone()).await;
    assert!(matches!(r, Err(seats::notifier::NotifierError::BadSmtpUrl(..))), "{r:?}");
}
