//! The booking e-mail through a whole gateway: `SMTP_URL` and `MAIL_FROM`
//! set, a real SMTP server (aiosmtpd), WebSocket clients whose tokens do or
//! do not carry an `email` claim; a bad `SMTP_URL` refuses to start.

use gateway::auth::{Auth, now_secs};
use gateway::config::ConfigError;
use serde_json::json;
use testkit::SmtpServer;

use crate::support::{Client, Node, SECRET, WAIT};

fn token_with_email(user: &str, email: &str) -> String {
    let claims = json!({"sub": user, "name": format!("name-{user}"), "exp": now_secs() + 3600, "email": email});
    Auth::new(SECRET).sign(&claims).unwrap()
}

#[tokio::test]
async fn a_confirmation_is_mailed_to_the_address_in_the_buyers_token() {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let node = Node::start(None, "solo", |c| {
        c.smtp_url = Some(url);
        c.mail_from = Some("Marquee <tickets@marquee.test>".into());
    })
    .await;
    // Bob's token has no address: his booking sends no mail.
    let mut bob = Client::connect(&node, "bob").await;
    let mut alice = Client::connect_url(&node.url(&token_with_email("alice", "alice@example.org"))).await;
    let r = alice.request(json!({"type": "showtimes"})).await;
    let st = r["showtimes"][0]["id"].as_str().unwrap().to_owned();
    let h = bob.request(json!({"type": "hold", "showtime": st, "seats": ["G7"], "idempotency_key": "m0"})).await;
    let c = bob.request(json!({"type": "confirm", "showtime": st, "hold_id": h["hold"]["hold_id"]})).await;
    assert_eq!(c["type"], "confirmed", "{c}");
    let h =
        alice.request(json!({"type": "hold", "showtime": st, "seats": ["G5", "G6"], "idempotency_key": "m1"})).await;
    let c = alice.request(json!({"type": "confirm", "showtime": st, "hold_id": h["hold"]["hold_id"]})).await;
    assert_eq!(c["type"], "confirmed", "{c}");
    let booking = &c["booking"];
    let m = testkit::eventually(WAIT, "alice's mail", || {
        let m = smtp.messages();
        async move { m.into_iter().next() }
    })
    .await;
    assert_eq!(m.rcpt_to, ["alice@example.org"]);
    let id = format!("<{}.confirmed.email@marquee.test>", booking["booking_id"].as_str().unwrap());
    assert_eq!(m.header("Message-ID"), Some(id.as_str()));
    let code = booking["code"].as_str().unwrap();
    assert!(m.header("Subject").is_some_and(|s| s.contains(code)), "{m:?}");
    assert!(m.text.contains(&format!("예매번호: {code}")) && m.text.contains("좌석: G5, G6"), "{}", m.text);
    let won = booking["amount"].as_u64().unwrap();
    assert!(won > 0);
    let x = alice.request(json!({"type": "cancel_booking", "booking_id": booking["booking_id"]})).await;
    assert_eq!(x["type"], "booking_cancelled", "{x}");
    testkit::eventually(WAIT, "the cancellation mail", || {
        let n = smtp.messages().len();
        async move { (n == 2).then_some(()) }
    })
    .await;
    let all = smtp.messages();
    assert!(all.iter().all(|m| m.rcpt_to == ["alice@example.org"]), "bob got no mail: {all:?}");
    assert!(all[1].text.contains("예매가 취소되었습니다."), "{}", all[1].text);
    // The channel is counted in /metrics under its own label.
    // (The server stores a message before it answers 250, so wait for the count.)
    testkit::eventually(WAIT, "two e-mail deliveries counted", || async {
        let (_, metrics) = node.get("/metrics").await;
        metrics.contains("marquee_notifications_delivered_total{channel=\"email\"} 2").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_bad_smtp_url_refuses_to_start_with_a_clear_error() {
    let mut config = gateway::Config::for_tests();
    config.jwt_secret = SECRET.to_owned();
    config.smtp_url = Some("smtp://mail.example.com?tls=sometimes".into());
    config.mail_from = Some("tickets@example.com".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let e = gateway::run(listener, config, stop).await.expect_err("must not start");
    assert!(matches!(&e, gateway::RunError::Config(ConfigError::Mail(m)) if m.contains("SMTP_URL")), "{e}");
    assert!(e.to_string().contains("smtp://host[:port]?tls=required"), "says what is expected: {e}");
}
