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

#[tokio::test]
async fn metrics_include_errors_by_code_and_the_seat_store() {
    let n = Node::start(None, "solo", |_| {}).await;
    let mut c = Client::connect(&n, "alice").await;
    let e = c.request(serde_json::json!({"type": "subscribe", "topic": "lobby"})).await;
    assert_eq!(e["code"], "bad_topic");
    let r = c.request(serde_json::json!({"type": "showtimes"})).await;
    let st = r["showtimes"][0]["id"].as_str().unwrap().to_owned();
    let h =
        c.request(serde_json::json!({"type": "hold", "showtime": st, "seats": ["A1"], "idempotency_key": "m1"})).await;
    assert_eq!(h["type"], "held", "{h}");
    let taken =
        c.request(serde_json::json!({"type": "hold", "showtime": st, "seats": ["A1"], "idempotency_key": "m2"})).await;
    assert_eq!(taken["code"], "seats_unavailable", "{taken}");

    let (status, text) = n.get("/metrics").await;
    assert_eq!(status, 200);
    // Node metrics: exact.
    for line in [
        "marquee_errors_total 2\n",
        "marquee_errors_by_code_total{code=\"bad_topic\"} 1\n",
        "marquee_errors_by_code_total{code=\"seats_unavailable\"} 1\n",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    // Process metrics of the seat store: other tests in the same process may add to them.
    let value = |series: &str| {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse::<f64>().ok()).unwrap_or(0.0)
    };
    assert!(value("marquee_seat_operations_total{op=\"hold\",outcome=\"ok\"}") >= 1.0, "{text}");
    assert!(value("marquee_seat_operations_total{op=\"hold\",outcome=\"seats_unavailable\"}") >= 1.0, "{text}");
    for name in ["# TYPE marquee_seats_expired_total counter", "# TYPE marquee_seat_lane_batch_ops histogram"] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
}
