//! The REST surface of the seat store (`/api/...`), the equivalent of the
//! seat frames of the WebSocket protocol. Every route takes the user from
//! `Authorization: Bearer <token>`, never from the request body. Errors are
//! one type, [`ApiError`], turned into a status and a JSON body in one place;
//! this module must not hold seat state of its own.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use seats::{Booking, SeatClass, SeatError, SeatId};
use serde::{Deserialize, Serialize};

use crate::auth::Claims;
use crate::http::bearer;
use crate::node::Node;
use crate::seating::{self, ShowtimeView};
use crate::wire::{self, ErrorBody, ErrorCode};

/// The `/api` routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/showtimes", get(list_showtimes))
        .route("/api/showtimes/{id}/seats", get(seat_map))
        .route("/api/showtimes/{id}/holds", post(hold))
        .route("/api/showtimes/{id}/holds/{hold_id}", delete(release_hold))
        .route("/api/showtimes/{id}/holds/{hold_id}/extend", post(extend))
        .route("/api/showtimes/{id}/holds/{hold_id}/confirm", post(confirm))
        .route("/api/showtimes/{id}/release", post(release_seats))
        .route("/api/showtimes/{id}/best-available", post(best_available))
        .route("/api/bookings", get(my_bookings))
        .route("/api/bookings/{id}", delete(cancel_booking))
        .route("/api/admin/schedule", post(load_schedule))
}

/// Why a REST request failed. Converted to a response once, in
/// [`IntoResponse`]; storage failures are logged there, once.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A seat-store error, with its stable code.
    #[error(transparent)]
    Seat(#[from] SeatError),
    /// No or invalid bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// The admin secret is missing, wrong, or not configured.
    #[error("admin secret required")]
    Forbidden,
    /// The body is not the expected JSON.
    #[error("{0}")]
    BadRequest(String),
    /// The schedule sent to the admin endpoint is invalid.
    #[error("invalid schedule: {0}")]
    Schedule(#[from] seats::ScheduleError),
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            ApiError::Seat(e) => (seat_status(e), ErrorCode::from(e)),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            ApiError::BadRequest(_) | ApiError::Schedule(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
        }
    }
}

/// The HTTP status of each seat error (the table in docs/protocol.md).
pub fn seat_status(e: &SeatError) -> StatusCode {
    match e {
        SeatError::UnknownShowtime(_) | SeatError::HoldNotFound | SeatError::BookingNotFound => StatusCode::NOT_FOUND,
        SeatError::UnknownSeats(_) | SeatError::Invalid(_) => StatusCode::BAD_REQUEST,
        SeatError::Unavailable(_)
        | SeatError::IdempotencyConflict
        | SeatError::ExtendLimit
        | SeatError::AlreadyCancelled
        | SeatError::NoFit(_) => StatusCode::CONFLICT,
        SeatError::NotOwner => StatusCode::FORBIDDEN,
        SeatError::HoldExpired => StatusCode::GONE,
        SeatError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::warn!(error = %self, "api request failed");
        }
        let message = self.to_string();
        let seats = match &self {
            ApiError::Seat(e) => wire::error_seats(e),
            _ => None,
        };
        (status, Json(ErrorBody { code, message: &message, seats })).into_response()
    }
}

/// The authenticated caller of a request.
pub struct User(pub Claims);

impl FromRequestParts<Arc<Node>> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, node: &Arc<Node>) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        node.auth.verify(&token).map(User).map_err(|e| {
            tracing::debug!(error = %e, "rejected api token");
            ApiError::Unauthorized
        })
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Deserialize)]
struct ShowtimesQuery {
    date: Option<String>,
    movie: Option<String>,
}

#[derive(Serialize)]
struct ShowtimesBody<'a> {
    showtimes: Vec<ShowtimeView<'a>>,
}

async fn list_showtimes(_user: User, State(node): State<Arc<Node>>, Query(q): Query<ShowtimesQuery>) -> Response {
    let schedule = node.seats.schedule();
    let showtimes = seating::list_showtimes(&schedule, q.date.as_deref(), q.movie.as_deref());
    Json(ShowtimesBody { showtimes }).into_response()
}

async fn seat_map(User(c): User, State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult<seats::SeatMap> {
    Ok(Json(node.seats.snapshot(&id, Some(&c.sub)).await?))
}

#[derive(Deserialize)]
struct HoldBody {
    seats: Vec<String>,
    #[serde(default)]
    ttl_secs: Option<u64>,
    idempotency_key: String,
}

async fn hold(
    User(c): User,
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    body: Result<Json<HoldBody>, JsonRejection>,
) -> ApiResult<seats::Hold> {
    let Json(b) = body?;
    let req = seating::hold_request(id, &c.sub, b.seats, b.ttl_secs, b.idempotency_key);
    Ok(Json(node.seats.hold(req).await?))
}

async fn extend(
    User(c): User,
    State(node): State<Arc<Node>>,
    Path((id, hold_id)): Path<(String, String)>,
) -> ApiResult<seats::Hold> {
    Ok(Json(node.seats.extend(&id, &c.sub, &hold_id).await?))
}

async fn release_hold(
    User(c): User,
    State(node): State<Arc<Node>>,
    Path((id, hold_id)): Path<(String, String)>,
) -> ApiResult<seats::Released> {
    Ok(Json(node.seats.release(&id, &c.sub, seats::ReleaseTarget::Hold(hold_id)).await?))
}

#[derive(Deserialize)]
struct ReleaseBody {
    seats: Vec<String>,
}

async fn release_seats(
    User(c): User,
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    body: Result<Json<ReleaseBody>, JsonRejection>,
) -> ApiResult<seats::Released> {
    let Json(b) = body?;
    Ok(Json(node.seats.release(&id, &c.sub, seats::ReleaseTarget::Seats(b.seats)).await?))
}

async fn confirm(
    User(c): User,
    State(node): State<Arc<Node>>,
    Path((id, hold_id)): Path<(String, String)>,
) -> ApiResult<Booking> {
    Ok(Json(node.seats.confirm(&id, &c.sub, &hold_id).await?))
}

#[derive(Serialize)]
struct BookingsBody {
    bookings: Vec<Booking>,
}

async fn my_bookings(User(c): User, State(node): State<Arc<Node>>) -> ApiResult<BookingsBody> {
    Ok(Json(BookingsBody { bookings: node.seats.my_bookings(&c.sub).await? }))
}

async fn cancel_booking(User(c): User, State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult<Booking> {
    Ok(Json(node.seats.cancel_booking(&c.sub, &id).await?))
}

#[derive(Deserialize)]
struct BestBody {
    count: usize,
    #[serde(default)]
    class: Option<SeatClass>,
}

#[derive(Serialize)]
struct BestReply {
    showtime: String,
    seats: Vec<SeatId>,
}

async fn best_available(
    _user: User,
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    body: Result<Json<BestBody>, JsonRejection>,
) -> ApiResult<BestReply> {
    let Json(b) = body?;
    let seats = node.seats.best_available(&id, b.count, b.class).await?;
    Ok(Json(BestReply { showtime: id, seats }))
}

#[derive(Serialize)]
struct ScheduleLoaded {
    showtimes: usize,
}

/// Replaces the schedule of every node (through Redis; in process, of this
/// single node). Guarded by the configured admin secret
/// (`ADMIN_TOKEN`), compared in constant time; without one, always 403.
async fn load_schedule(State(node): State<Arc<Node>>, headers: HeaderMap, body: String) -> ApiResult<ScheduleLoaded> {
    let given = bearer(&headers).unwrap_or_default();
    let allowed = node.config.admin_token.as_deref().is_some_and(|secret| same_secret(secret, &given));
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    let schedule = seats::Schedule::from_json(&body)?;
    let showtimes = schedule.showtimes().len();
    node.seats.publish_schedule(schedule).await?;
    tracing::info!(showtimes, "schedule replaced by admin request");
    Ok(Json(ScheduleLoaded { showtimes }))
}

/// Compares secrets without an early exit on the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "x"));
    }
}
