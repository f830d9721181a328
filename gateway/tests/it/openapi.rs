//! The OpenAPI description (`GET /api/openapi.json`) against the routes the
//! REST module really registers, and the error bodies the schema tests
//! (scripts/schema-test) hold every route to.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Node, api, token};

/// `(METHOD, path)` of every `.route(...)` in gateway/src/api.rs's `routes()`.
fn registered_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/api.rs");
    let body = source.split("pub fn routes()").nth(1).and_then(|s| s.split("\n}").next()).expect("routes() in api.rs");
    let mut routes = BTreeSet::new();
    for call in body.split(".route(").skip(1) {
        let path = call.split('"').nth(1).expect("a path literal");
        for method in ["get", "post", "put", "patch", "delete"] {
            if call.contains(&format!("{method}(")) {
                routes.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    routes
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

#[tokio::test]
async fn the_document_describes_every_registered_route() {
    let n = Node::start(None, "doc", |_| {}).await;
    let (status, doc) = api(n.addr, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, 200, "served without a token");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
    let registered = registered_routes();
    assert!(registered.len() >= 12, "found the routes in api.rs: {registered:?}");
    assert_eq!(documented_routes(&doc), registered, "every route of routes() is described, and only those");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    for (method, path) in &registered {
        let op = &doc["paths"][path][method.to_lowercase()];
        let statuses = op["responses"].as_object().expect("responses");
        assert!(statuses.contains_key("200"), "{method} {path}: {op}");
        for (code, r) in statuses.iter().filter(|(c, _)| c.as_str() != "200") {
            let schema = &r["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {code}");
        }
        // The documented route is live: without a token it answers with the
        // JSON error it documents (401, or 403 for the admin route), not the
        // router's 404/405.
        let concrete = path.replace("{id}", "x").replace("{hold_id}", "h1");
        let (status, body) = api(n.addr, method, &concrete, None, Some(json!({}))).await;
        if path == "/api/openapi.json" {
            assert_eq!(status, 200);
            continue;
        }
        assert!(statuses.contains_key(&status.to_string()), "{method} {path}: {status} is documented");
        assert!(matches!(status, 401 | 403), "{method} {path} answered {status} {body}");
        assert!(body["code"].is_string(), "{method} {path}: {body}");
    }
}

/// Extractor rejections (path, query, body) answered with axum's plain-text
/// bodies instead of the documented JSON error; an oversized body said 400
/// (found while listing each handler's statuses for the OpenAPI document).
#[tokio::test]
async fn malformed_paths_queries_and_bodies_answer_the_json_error() {
    let n = Node::start(None, "doc", |c| c.admin_token = Some(ADMIN_TOKEN.to_owned())).await;
    let t = token("ada");
    let (status, e) = api(n.addr, "GET", "/api/showtimes?date=a&date=b", Some(&t), None).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("bad_request")), "a repeated query parameter: {e}");
    let (status, e) = api(n.addr, "GET", "/api/showtimes/%FF/seats", Some(&t), None).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("bad_request")), "a path that is not UTF-8: {e}");
    let (status, e) = api(n.addr, "DELETE", "/api/bookings/%C3%28", Some(&t), None).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("bad_request")), "a path that is not UTF-8: {e}");

    // Over the 2 MB request body limit: 413 with the JSON error (it was 400).
    let big = json!({"seats": ["A1"], "idempotency_key": "k", "pad": "x".repeat(3 << 20)});
    let (status, e) = api(n.addr, "POST", "/api/showtimes/x/holds", Some(&t), Some(big)).await;
    assert_eq!((status, e["code"].as_str()), (413, Some("bad_request")), "{e}");

    // A schedule that is not UTF-8 (raw bytes, as `api` sends only text).
    let head = format!(
        "POST /api/admin/schedule HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n",
        n.addr
    );
    let (status, text) = raw(n.addr, head.as_bytes(), b"\xff\xfe").await;
    let e: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!((status, e["code"].as_str()), (400, Some("bad_request")), "{text}");
}

async fn raw(addr: std::net::SocketAddr, head: &[u8], body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}
