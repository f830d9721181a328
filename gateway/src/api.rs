//! The REST surface of the seat store (`/api/...`), the equivalent of the
//! seat frames of the WebSocket protocol. Every route takes the user from
//! `Authorization: Bearer <token>`, never from the request body. Errors are
//! one type, [`ApiError`], turned into a status and a JSON body in one place;
//! this module must not hold seat state of its own.
//!
//! The OpenAPI description ([`ApiDoc`], served at `GET /api/openapi.json`) is
//! generated from the `#[utoipa::path]` attributes of the handlers below and
//! the `ToSchema` types they return; a handler's attribute lists every status
//! it can answer with.

use std::sync::{Arc, LazyLock};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use seats::{Booking, SeatClass, SeatError, SeatId, Tickets};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

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
        .route("/api/bookings/{id}/ticket.svg", get(ticket_svg))
        .route("/api/admin/schedule", post(load_schedule))
        .route("/api/admin/dead-letters", get(dead_letters))
        .route("/api/openapi.json", get(openapi_json))
}

/// The OpenAPI 3.1 description of [`routes`].
#[derive(OpenApi)]
#[openapi(
    info(title = "Marquee seat API", description = "The seat REST API of the Marquee gateway (docs/protocol.md, *REST API*)."),
    paths(
        list_showtimes,
        seat_map,
        hold,
        release_hold,
        extend,
        confirm,
        release_seats,
        best_available,
        my_bookings,
        cancel_booking,
        ticket_svg,
        load_schedule,
        dead_letters,
        openapi_json
    ),
    components(schemas(ErrorBody, ErrorCode)),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    tags((name = "seats", description = "Showtimes, holds and bookings"), (name = "admin", description = "Operator endpoints"))
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme (a JWT from `POST /auth/guest`, or the
/// admin secret for `/api/admin/...`).
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("A user token (the JWT of `POST /auth/guest`); `/api/admin/...` takes the configured `ADMIN_TOKEN` instead."))
            .build();
        doc.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document, built once.
static OPENAPI_JSON: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "seats", security(()),
    responses((status = 200, description = "The OpenAPI description of the seat API", content_type = "application/json", body = Object)))]
async fn openapi_json() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI_JSON.as_str()).into_response()
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
    /// The body, path or query is not what the route expects.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the request body limit.
    #[error("{0}")]
    TooLarge(String),
    /// The schedule sent to the admin endpoint is invalid.
    #[error("invalid schedule: {0}")]
    Schedule(#[from] seats::ScheduleError),
    /// The payment of a confirm failed (declined, refunded, mismatched, pending).
    #[error(transparent)]
    Payment(seats::checkout::CheckoutError),
    /// The system of record could not be read.
    #[error("database unavailable")]
    Ledger(#[from] ledger::LedgerError),
}

impl ApiError {
    /// A rejected body: 413 when it is over the body limit, otherwise 400.
    fn rejected(status: StatusCode, text: String) -> ApiError {
        if status == StatusCode::PAYLOAD_TOO_LARGE { ApiError::TooLarge(text) } else { ApiError::BadRequest(text) }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::rejected(r.status(), r.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        ApiError::rejected(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
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
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BadRequest),
            ApiError::Payment(e) => (payment_status(e), wire::checkout_code(e)),
            ApiError::Ledger(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
        }
    }
}

/// The HTTP status of a failed payment (the table in docs/protocol.md).
fn payment_status(e: &seats::checkout::CheckoutError) -> StatusCode {
    use seats::checkout::CheckoutError as C;
    match e {
        C::Seat(e) => seat_status(e),
        C::Declined { .. } => StatusCode::PAYMENT_REQUIRED,
        C::Refunded { .. } => StatusCode::CONFLICT,
        C::Mismatch(_) => StatusCode::BAD_REQUEST,
        C::Pending(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The HTTP status of each seat error (the table in docs/protocol.md).
pub fn seat_status(e: &SeatError) -> StatusCode {
    match e {
        SeatError::UnknownShowtime(_) | SeatError::HoldNotFound | SeatError::BookingNotFound => StatusCode::NOT_FOUND,
        SeatError::UnknownSeats(_)
        | SeatError::Invalid(_)
        | SeatError::TicketCountMismatch { .. }
        | SeatError::TicketNotOffered(_)
        | SeatError::AgeRestricted { .. } => StatusCode::BAD_REQUEST,
        SeatError::Unavailable(_)
        | SeatError::IdempotencyConflict
        | SeatError::ExtendLimit
        | SeatError::AlreadyCancelled
        | SeatError::NoFit(_) => StatusCode::CONFLICT,
        SeatError::NotOwner => StatusCode::FORBIDDEN,
        SeatError::HoldExpired => StatusCode::GONE,
        SeatError::Storage(_) | SeatError::Unsynced => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            match &self {
                ApiError::Ledger(e) => tracing::warn!(error = %e, "api request failed"),
                _ => tracing::warn!(error = %self, "api request failed"),
            }
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

/// Query parameters of `GET /api/showtimes`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ShowtimesQuery {
    /// Only showtimes starting on this day (`YYYY-MM-DD`, the schedule's time zone).
    date: Option<String>,
    /// Only showtimes of this movie id.
    movie: Option<String>,
    /// Only theaters in this district or neighbourhood (`강남`, `홍대 근처`, `Hongdae`).
    district: Option<String>,
    /// `lat,lon` (degrees): nearest theaters first, each showtime with its `distance_km`.
    #[param(example = "37.4979,127.0276")]
    near: Option<String>,
}

/// `GET /api/showtimes`.
#[derive(Serialize, ToSchema)]
struct ShowtimesBody<'a> {
    showtimes: Vec<ShowtimeView<'a>>,
}

/// The showtimes, by start time (with `near`, nearest theater first),
/// optionally of one day, one movie and one district.
#[utoipa::path(get, path = "/api/showtimes", tag = "seats", params(ShowtimesQuery), responses(
    (status = 200, description = "The showtimes", body = ShowtimesBody),
    (status = 400, description = "`bad_request` (a malformed query string) or `invalid_request` (`near` is not `lat,lon`)", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
))]
async fn list_showtimes(
    _user: User,
    State(node): State<Arc<Node>>,
    q: Result<Query<ShowtimesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let schedule = node.seats.schedule();
    let filter =
        seating::ShowtimeFilter::new(q.date.as_deref(), q.movie.as_deref(), q.district.as_deref(), q.near.as_deref())?;
    let showtimes = seating::list_showtimes_by(&schedule, &filter);
    Ok(Json(ShowtimesBody { showtimes }).into_response())
}

/// The seat map of a showtime, with the caller's own holds marked.
#[utoipa::path(get, path = "/api/showtimes/{id}/seats", tag = "seats", params(("id" = String, Path, description = "The showtime id")), responses(
    (status = 200, description = "The seat map", body = seats::SeatMap),
    (status = 400, description = "`bad_request`: a malformed path", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`unknown_showtime`", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed; retry", content_type = "application/json", body = ErrorBody),
))]
async fn seat_map(
    User(c): User,
    State(node): State<Arc<Node>>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<seats::SeatMap> {
    let Path(id) = id?;
    Ok(Json(node.seats.snapshot(&id, Some(&c.sub)).await?))
}

/// `POST /api/showtimes/{id}/holds`.
#[derive(Deserialize, ToSchema)]
struct HoldBody {
    /// Seat ids such as `A7` (order and duplicates do not matter).
    #[schema(min_items = 1, max_items = 10, example = json!(["A7", "A8"]))]
    seats: Vec<String>,
    /// The hold's lifetime in seconds; the server's default (600) when absent.
    #[serde(default)]
    #[schema(minimum = 10, maximum = 1800)]
    ttl_secs: Option<u64>,
    /// Client-chosen key: a retry with the same key returns the first result.
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,64}$")]
    idempotency_key: String,
    /// Tickets by type (`{"adult":2,"child":1}`), one per seat; all adult when absent.
    #[serde(default)]
    tickets: Option<Tickets>,
}

/// `POST /api/showtimes/{id}/holds/{hold_id}/confirm` (the body is optional).
#[derive(Deserialize, ToSchema, Default)]
struct ConfirmBody {
    /// Tickets by type instead of the hold's; the hold's when absent.
    #[serde(default)]
    tickets: Option<Tickets>,
    /// How the hold is paid (docs/protocol.md, *Payment*); absent: the demo provider.
    #[serde(default)]
    payment: Option<wire::PaymentBody>,
}

/// Holds seats for the caller, all or none.
#[utoipa::path(post, path = "/api/showtimes/{id}/holds", tag = "seats", params(("id" = String, Path, description = "The showtime id")), request_body = HoldBody, responses(
    (status = 200, description = "The hold", body = seats::Hold),
    (status = 400, description = "`bad_request` (not the expected JSON), `unknown_seat` (listed in `seats`), `invalid_request`, `ticket_count_mismatch`, `ticket_not_offered` or `age_restricted`", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`unknown_showtime`", content_type = "application/json", body = ErrorBody),
    (status = 409, description = "`seats_unavailable` (listed in `seats`; nothing was held) or `idempotency_conflict`", content_type = "application/json", body = ErrorBody),
    (status = 413, description = "`bad_request`: the body is over the request body limit", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed; retry with the same key", content_type = "application/json", body = ErrorBody),
))]
async fn hold(
    User(c): User,
    State(node): State<Arc<Node>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<HoldBody>, JsonRejection>,
) -> ApiResult<seats::Hold> {
    let Path(id) = id?;
    let Json(b) = body?;
    let req = seating::hold_request(id, &c.sub, b.seats, b.ttl_secs, b.idempotency_key, b.tickets);
    Ok(Json(node.seats.hold(req).await?))
}

/// Extends one of the caller's holds.
#[utoipa::path(post, path = "/api/showtimes/{id}/holds/{hold_id}/extend", tag = "seats", params(("id" = String, Path, description = "The showtime id"), ("hold_id" = String, Path, description = "The hold id")), responses(
    (status = 200, description = "The extended hold", body = seats::Hold),
    (status = 400, description = "`bad_request`: a malformed path or body; `payment_mismatch`: the payment's order id or amount is not the hold's", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 403, description = "`not_owner`: another user's hold", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`unknown_showtime` or `hold_not_found`", content_type = "application/json", body = ErrorBody),
    (status = 409, description = "`extend_limit`", content_type = "application/json", body = ErrorBody),
    (status = 410, description = "`hold_expired`", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed; retry", content_type = "application/json", body = ErrorBody),
))]
async fn extend(
    User(c): User,
    State(node): State<Arc<Node>>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<seats::Hold> {
    let Path((id, hold_id)) = ids?;
    Ok(Json(node.seats.extend(&id, &c.sub, &hold_id).await?))
}

/// Releases every seat of one of the caller's holds.
#[utoipa::path(delete, path = "/api/showtimes/{id}/holds/{hold_id}", tag = "seats", params(("id" = String, Path, description = "The showtime id"), ("hold_id" = String, Path, description = "The hold id")), responses(
    (status = 200, description = "The seats freed", body = seats::Released),
    (status = 400, description = "`bad_request`: a malformed path", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 403, description = "`not_owner`: another user's hold", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`unknown_showtime` or `hold_not_found`", content_type = "application/json", body = ErrorBody),
    (status = 410, description = "`hold_expired`", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed; retry", content_type = "application/json", body = ErrorBody),
))]
async fn release_hold(
    User(c): User,
    State(node): State<Arc<Node>>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<seats::Released> {
    let Path((id, hold_id)) = ids?;
    Ok(Json(node.seats.release(&id, &c.sub, seats::ReleaseTarget::Hold(hold_id)).await?))
}

/// `POST /api/showtimes/{id}/release`.
#[derive(Deserialize, ToSchema)]
struct ReleaseBody {
    /// Seat ids; only the caller's held seats among them are freed.
    #[schema(max_items = 40)]
    seats: Vec<String>,
}

/// Releases seats the caller holds, wherever they are held.
#[utoipa::path(post, path = "/api/showtimes/{id}/release", tag = "seats", params(("id" = String, Path, description = "The showtime id")), request_body = ReleaseBody, responses(
    (status = 200, description = "The seats freed", body = seats::Released),
    (status = 400, description = "`bad_request` (not the expected JSON), `unknown_seat` or `invalid_request`", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`unknown_showtime`", content_type = "application/json", body = ErrorBody),
    (status = 413, description = "`bad_request`: the body is over the request body limit", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed; retry", content_type = "application/json", body = ErrorBody),
))]
async fn release_seats(
    User(c): User,
    State(node): State<Arc<Node>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<ReleaseBody>, JsonRejection>,
) -> ApiResult<seats::Released> {
    let Path(id) = id?;
    let Json(b) = body?;
    Ok(Json(node.seats.release(&id, &c.sub, seats::ReleaseTarget::Seats(b.seats)).await?))
}

/// Buys the seats of one of the caller's holds, priced by the store from
/// the schedule for the hold's tickets (or the body's).
#[utoipa::path(post, path = "/api/showtimes/{id}/holds/{hold_id}/confirm", tag = "seats", params(("id" = String, Path, description = "The showtime id"), ("hold_id" = String, Path, description = "The hold id")),
    request_body(content = Option<ConfirmBody>, description = "Optional: other tickets than the hold's", content_type = "application/json"), responses(
    (status = 200, description = "The booking", body = Booking),
    (status = 400, description = "`bad_request` (a malformed path or body), `ticket_count_mismatch`, `ticket_not_offered` or `age_restricted`", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 403, description = "`not_owner`: another user's hold", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`unknown_showtime` or `hold_not_found`", content_type = "application/json", body = ErrorBody),
    (status = 402, description = "`payment_declined`: nothing charged, the hold released", content_type = "application/json", body = ErrorBody),
    (status = 409, description = "`payment_refunded`: charged, the hold could not be sold, refunded", content_type = "application/json", body = ErrorBody),
    (status = 410, description = "`hold_expired`", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed, or `payment_pending`: the provider's answer is not known yet; retry", content_type = "application/json", body = ErrorBody),
))]
async fn confirm(
    User(c): User,
    State(node): State<Arc<Node>>,
    ids: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Booking> {
    let Path((id, hold_id)) = ids?;
    let body = body?;
    // No body (or an empty one) is the hold's tickets and the demo payment.
    let b: ConfirmBody = if body.iter().all(u8::is_ascii_whitespace) {
        ConfirmBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid confirm body: {e}")))?
    };
    let input = b.payment.unwrap_or_default().input().map_err(|why| ApiError::Seat(SeatError::Invalid(why)))?;
    let provider = &node.config.payments;
    match seats::checkout::checkout(&node.seats, provider, &id, &c.sub, &hold_id, b.tickets, &input).await {
        Ok(b) => Ok(Json(b)),
        Err(seats::checkout::CheckoutError::Seat(e)) => Err(e.into()),
        Err(e) => Err(ApiError::Payment(e)),
    }
}

/// `GET /api/bookings`.
#[derive(Serialize, ToSchema)]
struct BookingsBody {
    /// Oldest first.
    bookings: Vec<Booking>,
}

/// The caller's bookings, oldest first.
#[utoipa::path(get, path = "/api/bookings", tag = "seats", responses(
    (status = 200, description = "The bookings", body = BookingsBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed; retry", content_type = "application/json", body = ErrorBody),
))]
async fn my_bookings(User(c): User, State(node): State<Arc<Node>>) -> ApiResult<BookingsBody> {
    Ok(Json(BookingsBody { bookings: node.seats.my_bookings(&c.sub).await? }))
}

/// Cancels one of the caller's bookings, freeing its seats.
#[utoipa::path(delete, path = "/api/bookings/{id}", tag = "seats",
    params(("id" = String, Path, description = "The booking id (`bk<hex>-<showtime>`)")), responses(
    (status = 200, description = "The booking, with `status: \"cancelled\"`", body = Booking),
    (status = 400, description = "`bad_request`: a malformed path", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 403, description = "`not_owner`: another user's booking", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`booking_not_found`", content_type = "application/json", body = ErrorBody),
    (status = 409, description = "`already_cancelled`", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed; retry", content_type = "application/json", body = ErrorBody),
))]
async fn cancel_booking(
    User(c): User,
    State(node): State<Arc<Node>>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Booking> {
    let Path(id) = id?;
    Ok(Json(node.seats.cancel_booking(&c.sub, &id).await?))
}

/// The e-ticket of one of the caller's bookings (by id or by its 8-letter
/// code): an SVG QR code carrying `MARQUEE:<code>:<booking_id>`.
#[utoipa::path(get, path = "/api/bookings/{id}/ticket.svg", tag = "seats",
    params(("id" = String, Path, description = "The booking id (`bk<hex>-<showtime>`) or its code (`K7MQ3XPA`)")), responses(
    (status = 200, description = "The QR code", content_type = "image/svg+xml", body = String),
    (status = 400, description = "`bad_request`: a malformed path", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 403, description = "`not_owner`: another user's booking", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`booking_not_found`", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the ledger failed; retry", content_type = "application/json", body = ErrorBody),
))]
async fn ticket_svg(
    User(c): User,
    State(node): State<Arc<Node>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let booking = match seats::BookingCode::parse(&id) {
        Some(code) => node.seats.booking_by_code(&c.sub, code.as_str()).await?,
        None => node.seats.booking(&c.sub, &id).await?,
    };
    let svg = crate::eticket::svg(&booking).map_err(|e| SeatError::Storage(format!("QR code: {e}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// `POST /api/showtimes/{id}/best-available`.
#[derive(Deserialize, ToSchema)]
struct BestBody {
    /// How many adjacent seats.
    #[schema(minimum = 1, maximum = 10)]
    count: usize,
    /// Only seats of this class.
    #[serde(default)]
    class: Option<SeatClass>,
}

/// `POST /api/showtimes/{id}/best-available`.
#[derive(Serialize, ToSchema)]
struct BestReply {
    showtime: String,
    seats: Vec<SeatId>,
}

/// The best free block of `count` seats (nothing is held).
#[utoipa::path(post, path = "/api/showtimes/{id}/best-available", tag = "seats", params(("id" = String, Path, description = "The showtime id")), request_body = BestBody, responses(
    (status = 200, description = "The seats", body = BestReply),
    (status = 400, description = "`bad_request` (not the expected JSON) or `invalid_request` (count)", content_type = "application/json", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no or invalid bearer token", content_type = "application/json", body = ErrorBody),
    (status = 404, description = "`unknown_showtime`", content_type = "application/json", body = ErrorBody),
    (status = 409, description = "`no_fit`", content_type = "application/json", body = ErrorBody),
    (status = 413, description = "`bad_request`: the body is over the request body limit", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the seat store (Redis) failed; retry", content_type = "application/json", body = ErrorBody),
))]
async fn best_available(
    _user: User,
    State(node): State<Arc<Node>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<BestBody>, JsonRejection>,
) -> ApiResult<BestReply> {
    let Path(id) = id?;
    let Json(b) = body?;
    let seats = node.seats.best_available(&id, b.count, b.class).await?;
    Ok(Json(BestReply { showtime: id, seats }))
}

/// `POST /api/admin/schedule`.
#[derive(Serialize, ToSchema)]
struct ScheduleLoaded {
    /// Showtimes in the new schedule.
    showtimes: usize,
}

/// Replaces the schedule of every node (through Redis; in process, of this
/// single node). Guarded by the configured admin secret
/// (`ADMIN_TOKEN`), compared in constant time; without one, always 403.
#[utoipa::path(post, path = "/api/admin/schedule", tag = "admin",
    request_body(content = Object, description = "A schedule file (docs/protocol.md, *Schedule*)", content_type = "application/json"),
    responses(
    (status = 200, description = "The schedule was replaced", body = ScheduleLoaded),
    (status = 400, description = "`bad_request`: not a valid schedule", content_type = "application/json", body = ErrorBody),
    (status = 403, description = "`forbidden`: not the configured `ADMIN_TOKEN`, or none is configured", content_type = "application/json", body = ErrorBody),
    (status = 413, description = "`bad_request`: the body is over the request body limit", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: Redis failed", content_type = "application/json", body = ErrorBody),
))]
async fn load_schedule(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<ScheduleLoaded> {
    admin(&node, &headers)?;
    let body = body?;
    let text = std::str::from_utf8(&body).map_err(|e| ApiError::BadRequest(format!("the body is not UTF-8: {e}")))?;
    let schedule = seats::Schedule::from_json(text)?;
    let showtimes = schedule.showtimes().len();
    node.seats.publish_schedule(schedule).await?;
    tracing::info!(showtimes, "schedule replaced by admin request");
    Ok(Json(ScheduleLoaded { showtimes }))
}

/// Query parameters of `GET /api/admin/dead-letters`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeadLettersQuery {
    /// Most entries, newest first (1–500; default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Most dead letters one listing returns.
pub const MAX_DEAD_LETTERS: u32 = 500;
/// Dead letters listed when the query names no `limit`.
pub const DEFAULT_DEAD_LETTERS: u32 = 100;

/// One booking notification given up on (an outbox row).
#[derive(Serialize, ToSchema)]
struct DeadLetter {
    /// The outbox row id.
    id: i64,
    /// Where it was going: `live`, `webhook` or `email`.
    channel: String,
    /// Its idempotency key (`<booking_id>:<event>:<channel>`).
    key: String,
    /// Delivery attempts made.
    attempts: i64,
    /// When it was queued (Unix ms).
    created_at: i64,
    /// Why the last attempt failed (cut to 500 characters).
    last_error: Option<String>,
}

/// `GET /api/admin/dead-letters`.
#[derive(Serialize, ToSchema)]
struct DeadLetters {
    /// Newest first.
    dead_letters: Vec<DeadLetter>,
}

/// The booking notifications given up on (a permanent failure or too many
/// attempts), newest first, from the ledger's outbox; the payload is left
/// out (it may carry a customer's e-mail address). Guarded like the other
/// admin endpoints by `ADMIN_TOKEN`.
#[utoipa::path(get, path = "/api/admin/dead-letters", tag = "admin", params(DeadLettersQuery), responses(
    (status = 200, description = "The dead letters, newest first", body = DeadLetters),
    (status = 400, description = "`bad_request`: `limit` is not 1–500", content_type = "application/json", body = ErrorBody),
    (status = 403, description = "`forbidden`: not the configured `ADMIN_TOKEN`, or none is configured", content_type = "application/json", body = ErrorBody),
    (status = 503, description = "`unavailable`: the database failed", content_type = "application/json", body = ErrorBody),
))]
async fn dead_letters(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    q: Result<Query<DeadLettersQuery>, QueryRejection>,
) -> ApiResult<DeadLetters> {
    admin(&node, &headers)?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(DEFAULT_DEAD_LETTERS);
    if !(1..=MAX_DEAD_LETTERS).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be 1-{MAX_DEAD_LETTERS}")));
    }
    let rows = node.seats.ledger().dead_letters(i64::from(limit)).await?;
    let dead_letters = rows
        .into_iter()
        .map(|e| DeadLetter {
            id: e.id,
            channel: e.channel,
            key: e.key,
            attempts: e.attempts,
            created_at: e.created_at,
            last_error: e.last_error,
        })
        .collect();
    Ok(Json(DeadLetters { dead_letters }))
}

/// Passes only a request bearing the configured admin secret (`ADMIN_TOKEN`);
/// without one configured, nobody passes.
fn admin(node: &Node, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = bearer(headers).unwrap_or_default();
    let allowed = node.config.admin_token.as_deref().is_some_and(|secret| same_secret(secret, &given));
    if allowed { Ok(()) } else { Err(ApiError::Forbidden) }
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
