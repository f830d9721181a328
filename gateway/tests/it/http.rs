//! The HTTP endpoints: guest tokens, health, readiness, metrics, web client.

use serde_json::Value;

use crate::support::{Client, Node, http};

#[tokio::test]
async fn guest_token_opens_a_session() {
    let n = Node::start(None, "solo", |_| {}).await;
    let body = r#"{"name":"김영희"}"#;
    let req = format!(
        "POST /auth/guest HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        n.addr,
        body.len()
    );
    let (status, body) = http(n.addr, &req).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["name"], "김영희");
    let user = v["user"].as_str().unwrap();
    assert!(user.starts_with("guest-"));
    let c = Client::connect_url(&n.url(v["token"].as_str().unwrap())).await;
    assert_eq!(c.welcome["user"], user);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let n = Node::start(None, "solo", |_| {}).await;
    assert_eq!(n.get("/healthz").await, (200, "ok".into()));
    assert_eq!(n.get("/readyz").await.0, 200);
    let mut c = Client::connect(&n, "alice").await;
    c.subscribe("room:m").await;
    c.publish("room:m", serde_json::json!(1)).await;
    c.next_pub("room:m").await;
    let (status, text) = n.get("/metrics").await;
    assert_eq!(status, 200);
    for line in ["marquee_connections 1", "marquee_deliveries_total 1", "marquee_ready 1", "marquee_frames_in_total 2"]
    {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}
