//! The session's seat-store requests: showtimes, seat maps, holds and their
//! extension and release, confirmation, bookings and best-available seats,
//! with store failures answered by their stable error codes.

use ::seats::{SeatClass, SeatError, Tickets};

use super::{End, Session};
use crate::seating;
use crate::wire::{self, ErrorCode, ReqId, ServerMsg};

impl Session {
    pub(super) async fn showtimes(
        &mut self,
        id: ReqId,
        date: Option<String>,
        movie: Option<String>,
        district: Option<String>,
        near: Option<String>,
    ) -> Result<(), End> {
        let schedule = self.node.seats.schedule();
        match seating::ShowtimeFilter::new(date.as_deref(), movie.as_deref(), district.as_deref(), near.as_deref()) {
            Ok(filter) => {
                let showtimes = seating::list_showtimes_by(&schedule, &filter);
                self.reply(ServerMsg::Showtimes { id, showtimes }).await
            }
            Err(e) => self.seat_error(id, &e).await,
        }
    }

    pub(super) async fn seat_map(&mut self, id: ReqId, showtime: String) -> Result<(), End> {
        match self.node.seats.snapshot(&showtime, Some(&self.claims.sub)).await {
            Ok(map) => self.reply(ServerMsg::SeatMap { id, map: &map }).await,
            Err(e) => self.seat_error(id, &e).await,
        }
    }

    pub(super) async fn hold(
        &mut self,
        id: ReqId,
        showtime: String,
        seats: Vec<String>,
        ttl_secs: Option<u64>,
        idempotency_key: String,
        tickets: Option<Tickets>,
    ) -> Result<(), End> {
        let req = seating::hold_request(showtime, &self.claims.sub, seats, ttl_secs, idempotency_key, tickets);
        match self.node.seats.hold(req).await {
            Ok(hold) => self.reply(ServerMsg::Held { id, hold: &hold }).await,
            Err(e) => self.seat_error(id, &e).await,
        }
    }

    pub(super) async fn extend_hold(&mut self, id: ReqId, showtime: String, hold_id: String) -> Result<(), End> {
        match self.node.seats.extend(&showtime, &self.claims.sub, &hold_id).await {
            Ok(hold) => self.reply(ServerMsg::Extended { id, hold: &hold }).await,
            Err(e) => self.seat_error(id, &e).await,
        }
    }

    pub(super) async fn release(
        &mut self,
        id: ReqId,
        showtime: String,
        hold_id: Option<String>,
        seats: Option<Vec<String>>,
    ) -> Result<(), End> {
        let r = match seating::release_target(hold_id, seats) {
            Ok(target) => self.node.seats.release(&showtime, &self.claims.sub, target).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(released) => self.reply(ServerMsg::Released { id, showtime: &showtime, released: &released }).await,
            Err(e) => self.seat_error(id, &e).await,
        }
    }

    pub(super) async fn confirm(
        &mut self,
        id: ReqId,
        showtime: String,
        hold_id: String,
        tickets: Option<Tickets>,
        payment: wire::PaymentBody,
    ) -> Result<(), End> {
        let input = match payment.input() {
            Ok(input) => input,
            Err(why) => return self.seat_error(id, &SeatError::Invalid(why)).await,
        };
        let provider = &self.node.config.payments;
        let user = &self.claims.sub;
        let seats = &self.node.seats;
        match ::seats::checkout::checkout(seats, provider, &showtime, user, &hold_id, tickets, &input).await {
            Ok(booking) => self.reply(ServerMsg::Confirmed { id, booking: &booking }).await,
            Err(::seats::checkout::CheckoutError::Seat(e)) => self.seat_error(id, &e).await,
            Err(e) => {
                let code = wire::checkout_code(&e);
                self.node.metrics.error(code);
                let message = e.to_string();
                self.reply(ServerMsg::Error { id: Some(id), code, message: &message, seats: None }).await
            }
        }
    }

    pub(super) async fn cancel_booking(&mut self, id: ReqId, booking_id: String) -> Result<(), End> {
        match self.node.seats.cancel_booking(&self.claims.sub, &booking_id).await {
            Ok(booking) => self.reply(ServerMsg::BookingCancelled { id, booking: &booking }).await,
            Err(e) => self.seat_error(id, &e).await,
        }
    }

    pub(super) async fn my_bookings(&mut self, id: ReqId) -> Result<(), End> {
        match self.node.seats.my_bookings(&self.claims.sub).await {
            Ok(bookings) => self.reply(ServerMsg::Bookings { id, bookings: &bookings }).await,
            Err(e) => self.seat_error(id, &e).await,
        }
    }

    pub(super) async fn best_available(
        &mut self,
        id: ReqId,
        showtime: String,
        count: usize,
        class: Option<SeatClass>,
    ) -> Result<(), End> {
        match self.node.seats.best_available(&showtime, count, class).await {
            Ok(seats) => self.reply(ServerMsg::BestAvailable { id, showtime: &showtime, seats: &seats }).await,
            Err(e) => self.seat_error(id, &e).await,
        }
    }

    /// Answers a failed seat operation with its stable code and, for a hold,
    /// the seats that were not free. Storage failures are logged here, once.
    async fn seat_error(&mut self, id: ReqId, e: &SeatError) -> Result<(), End> {
        if e.is_retryable() {
            tracing::warn!(error = %e, "seat store request failed");
        }
        self.node.metrics.error(ErrorCode::from(e));
        let message = e.to_string();
        let seats = wire::error_seats(e);
        self.reply(ServerMsg::Error { id: Some(id), code: ErrorCode::from(e), message: &message, seats }).await
    }
}
