//! The operator endpoints behind `ADMIN_TOKEN`: the listing of booking
//! notifications given up on, read from a real PostgreSQL's outbox.

use serde_json::json;
use testkit::PostgresServer;

use crate::support::{ADMIN_TOKEN, Node, api, token};

#[tokio::test]
async fn dead_letters_are_listed_for_the_admin_only() {
    let pg = PostgresServer::start();
    let ledger = ledger::Ledger::open(&pg.url()).await.unwrap();
    let events: Vec<ledger::NewEvent> = ["k1", "k2", "k3"]
        .iter()
        .map(|k| ledger::NewEvent { channel: "webhook".into(), key: (*k).into(), payload: r#"{"to":"a@b.c"}"#.into() })
        .collect();
    ledger.enqueue(&events, 1_000).await.unwrap();
    let claimed = ledger.claim_events(2_000, 5_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    ledger.dead_letter(claimed[0].id, 3_000, "410 gone").await.unwrap();
    ledger.dead_letter(claimed[1].id, 4_000, "too many attempts").await.unwrap();
    ledger.delivered(claimed[2].id, 5_000).await.unwrap();

    let url = pg.url();
    let n = Node::start(None, "ops", move |c| {
        c.database_url = Some(url);
        c.admin_token = Some(ADMIN_TOKEN.to_owned());
    })
    .await;
    let (status, body) = api(n.addr, "GET", "/api/admin/dead-letters", Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    let list = body["dead_letters"].as_array().unwrap();
    let keys: Vec<&str> = list.iter().map(|d| d["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["k2", "k1"], "the dead letters, newest first; the delivered one is not listed");
    assert_eq!(list[1]["last_error"], "410 gone");
    assert_eq!((list[1]["channel"].as_str(), list[1]["attempts"].as_i64()), (Some("webhook"), Some(1)));
    assert!(list[0].get("payload").is_none(), "payloads (customer addresses) stay out: {body}");

    let (status, body) = api(n.addr, "GET", "/api/admin/dead-letters?limit=1", Some(ADMIN_TOKEN), None).await;
    assert_eq!((status, body["dead_letters"].as_array().map(Vec::len)), (200, Some(1)));
    for bad in ["0", "501", "x"] {
        let (status, e) =
            api(n.addr, "GET", &format!("/api/admin/dead-letters?limit={bad}"), Some(ADMIN_TOKEN), None).await;
        assert_eq!((status, e["code"].as_str()), (400, Some("bad_request")), "limit={bad}: {e}");
    }
    // A user's token is not the admin secret.
    let (status, e) = api(n.addr, "GET", "/api/admin/dead-letters", Some(&token("eve")), None).await;
    assert_eq!((status, &e["code"]), (403, &json!("forbidden")));
    let (status, _) = api(n.addr, "GET", "/api/admin/dead-letters", None, None).await;
    assert_eq!(status, 403);
}
