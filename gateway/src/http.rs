//! The HTTP surface: the WebSocket endpoint, guest tokens, health, readiness,
//! metrics, the seat REST routes (in `api`) and the static web client. Requests are checked here (origin,
//! token, guest rate) before a session starts; the connection limit and the
//! timeouts are the listener's (`listener`), which serves sockets over the
//! limit with [`full_router`]. Every response carries the security headers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api;
use crate::auth::AuthError;
use crate::config::Guests;
use crate::guest_limit::GuestLimiter;
use crate::listener::REFUSAL_TIMEOUT;
use crate::node::Node;
use crate::session;
use crate::wire::close;

/// Initial read buffer of a WebSocket. Client frames are small (requests,
/// chat lines); a larger frame grows the buffer while it is read. Every idle
/// connection carries this, so it is sized for the idle-memory target
/// (BENCHMARKS.md), not the library default of 128 KiB.
pub const READ_BUFFER_BYTES: usize = 512;

/// The Content-Security-Policy of every response. The client is module
/// scripts and one stylesheet from this origin, no inline script or style
/// (it sets `style.fontSize` through the CSSOM, which CSP allows), and one
/// WebSocket to this host (`ws:`/`wss:` for browsers whose `'self'` does not
/// cover WebSocket URLs). Nothing may frame it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// The router for sockets within the connection limit.
pub fn router(node: Arc<Node>) -> Router {
    let mut health = Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(readyz));
    if node.config.admin_addr.is_none() {
        health = health.route("/metrics", get(metrics));
    }
    if !node.config.role.serves_clients() {
        // A dispatcher-only process: health and metrics, no clients.
        return with_security_headers(health.with_state(node));
    }
    let guests = Arc::new(GuestLimiter::new(node.config.guest_rate_per_min));
    let app = Router::new()
        .route("/ws", get(ws))
        .route(
            "/auth/guest",
            post(move |node: State<Arc<Node>>, peer: ConnectInfo<SocketAddr>, body: Option<Json<GuestRequest>>| {
                guest(node, guests.clone(), peer, body)
            }),
        )
        .merge(health)
        .merge(api::routes())
        .merge(web_client(&node))
        .fallback(not_found)
        .with_state(node);
    with_security_headers(app)
}

/// The router for sockets over the connection limit: a WebSocket is
/// accepted and closed with 4013 (what clients know), `/healthz` still says
/// the process lives, anything else is 503.
pub fn full_router(node: Arc<Node>) -> Router {
    let app = Router::new()
        .route("/healthz", get(|| async { ([(header::CONNECTION, "close")], "ok") }))
        .route("/ws", get(ws_full))
        .fallback(|| async {
            let headers = [(header::RETRY_AFTER, "1"), (header::CONNECTION, "close")];
            (StatusCode::SERVICE_UNAVAILABLE, headers, "too many connections").into_response()
        })
        .with_state(node);
    with_security_headers(app)
}

/// The router of the admin listener (`ADMIN_ADDR`): metrics and health.
pub fn admin_router(node: Arc<Node>) -> Router {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(node);
    with_security_headers(app)
}

/// Only the client's own files: `index.html`, `style.css` and `js/` (no
/// dotfiles there either). The rest of `web/` (the browser tests, their
/// `node_modules`) is not served; a new kind of client file needs a route here.
fn web_client(node: &Node) -> Router<Arc<Node>> {
    let dir = &node.config.web_dir;
    let index = ServeFile::new(dir.join("index.html"));
    let modules =
        Router::new().nest_service("/js", ServeDir::new(dir.join("js"))).layer(axum::middleware::from_fn(no_dotfiles));
    Router::new()
        .route_service("/", index.clone())
        .route_service("/index.html", index)
        .route_service("/style.css", ServeFile::new(dir.join("style.css")))
        .merge(modules)
}

/// 404 for a path with a segment that starts with a dot (`.env`, `.git/…`,
/// and `..` before ServeDir would refuse it anyway).
async fn no_dotfiles(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.uri().path().split('/').any(|segment| segment.starts_with('.')) {
        return not_found().await;
    }
    next.run(req).await
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn with_security_headers(router: Router) -> Router {
    let headers: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    headers.into_iter().fold(router, |r, (name, value)| {
        r.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)))
    })
}

/// The WebSocket buffer sizes. Library defaults are 128 KiB buffers and
/// 64 MiB messages; an idle connection should cost a few KiB, and no client
/// needs more than one frame of `max_frame_bytes`. Writes go straight to the
/// socket (the session batches and flushes itself).
fn sized(upgrade: WebSocketUpgrade, max: usize) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(max * 4)
        .max_message_size(max)
        .max_frame_size(max)
}

async fn ws_full(State(node): State<Arc<Node>>, upgrade: WebSocketUpgrade) -> Response {
    let tracker = node.tracker.clone();
    sized(upgrade, node.config.max_frame_bytes).on_upgrade(move |socket| {
        tracker.track_future(async move {
            let refused = session::reject(socket, close::TOO_MANY_CONNECTIONS, "too many connections");
            let _ = tokio::time::timeout(REFUSAL_TIMEOUT, refused).await;
        })
    })
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
    let tracker = node.tracker.clone();
    // The connection limit was applied when the socket was accepted: this
    // socket holds a permit until the session ends.
    sized(upgrade, node.config.max_frame_bytes).on_upgrade(move |socket| {
        tracker.track_future(async move {
            match claims {
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

async fn guest(
    State(node): State<Arc<Node>>,
    limiter: Arc<GuestLimiter>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Option<Json<GuestRequest>>,
) -> Response {
    if node.config.guests == Guests::Off {
        return (StatusCode::FORBIDDEN, "guest tokens are off on this server").into_response();
    }
    if let Err(wait) = limiter.take(peer.ip(), Instant::now()) {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, secs.to_string())], "too many guest tokens")
            .into_response();
    }
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
