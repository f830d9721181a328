//! E-tickets: the QR code a door scanner reads, carrying the booking's short
//! code and id (`MARQUEE:<code>:<booking_id>`), rendered as SVG.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use seats::Booking;

/// What the QR code of `booking` says.
pub fn payload(booking: &Booking) -> String {
    format!("MARQUEE:{}:{}", booking.code, booking.booking_id)
}

/// The e-ticket of `booking`: an SVG QR code of [`payload`] (error
/// correction M, with its quiet zone), at least 256 px wide.
pub fn svg(booking: &Booking) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(payload(booking).as_bytes(), EcLevel::M)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}
