//! The HTTP surface: the WebSocket endpoint, guest tokens, health, readiness,
//! metrics, the seat REST routes (in `api`) and the static web client. Requests are checked here (origin,
//! connection limit, token) before a session starts.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::services::ServeDir;

use crate::api;
use crate::auth::AuthError;
use crate::node::Node;
use crate::session;
use crate::wire::close;

/// Initial read buffer of a WebSocket. Client frames are small (requests,
/// chat lines); a larger frame grows the buffer while it is read. Every idle
/// connection carries this, so it is sized for the idle-memory target
/// (BENCHMARKS.md), not the library default of 128 KiB.
pub const READ_BUFFER_BYTES: usize = 512;

/// The router for a node.
pub fn router(node: Arc<Node>) -> Router {
    let health = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    if !node.config.role.serves_clients() {
        // A dispatcher-only process: health and metrics, no clients.
        return health.with_state(node);
    }
    let web = ServeDir::new(&node.config.web_dir).append_index_html_on_directories(true);
    Router::new()
        .route("/ws", get(ws))
        .route("/auth/guest", post(guest))
        .merge(health)
        .merge(api::routes())
        .fallback_service(web)
        .with_state(node)
}

#[derive(Deserialize)]
struct WsQuery {
    token: Option<String>,
}

async fn ws(
    State(node): State<Arc<Node>>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&node, &headers) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    if node.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining; connect to another node").into_response();
    }
    let token = q.token.or_else(|| bearer(&headers));
    let claims = token.ok_or(AuthError::Missing).and_then(|t| node.auth.verify(&t));
    let full = node.metrics.connections.load(Ordering::Relaxed) >= node.config.max_connections as i64;
    let max = node.config.max_frame_bytes;
    let upgrade = upgrade
        // Library defaults are 128 KiB buffers and 64 MiB messages; an idle
        // connection should cost a few KiB, and no client needs more than
        // one frame of `max_frame_bytes`. Writes go straight to the socket
        // (the session batches and flushes itself).
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(max * 4)
        .max_message_size(max)
        .max_frame_size(max);
    let tracker = node.tracker.clone();
    upgrade.on_upgrade(move |socket| {
        tracker.track_future(async move {
            match claims {
                _ if full => session::reject(socket, close::TOO_MANY_CONNECTIONS, "too many connections").await,
                Err(e) => {
                    tracing::debug!(error = %e, "rejected token");
                    session::reject(socket, close::UNAUTHORIZED, "invalid or missing token").await
                }
                Ok(claims) => session::run(node, socket, claims).await,
            }
        })
    })
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(str::to_owned)
}

/// Browsers send `Origin`; other clients may not. A page from this server
/// (origin host equals the `Host` header) is always allowed.
fn origin_allowed(node: &Node, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let allowed = &node.config.allowed_origins;
    if allowed.iter().any(|a| a == "*" || a.trim_end_matches('/') == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((host, origin_host), (Some(h), Some(o)) if h == o)
}

#[derive(Deserialize, Default)]
struct GuestRequest {
    name: Option<String>,
}

#[derive(Serialize)]
struct GuestResponse {
    token: String,
    user: String,
    name: String,
    expires_at: u64,
}

async fn guest(State(node): State<Arc<Node>>, body: Option<Json<GuestRequest>>) -> Response {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    match node.auth.guest(req.name.as_deref(), node.config.guest_token_ttl_secs) {
        Ok((claims, token)) => {
            Json(GuestResponse { token, user: claims.sub, name: claims.name, expires_at: claims.exp }).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot sign guest token");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot issue token").into_response()
        }
    }
}

async fn readyz(State(node): State<Arc<Node>>) -> Response {
    if node.probe_ready().await {
        (StatusCode::OK, "ready").into_response()
    } else if node.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "bus unavailable").into_response()
    }
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    let body = node.metrics.render(node.is_ready());
    ([(header::CONTENT_TYPE, telemetry::CONTENT_TYPE)], body).into_response()
}
