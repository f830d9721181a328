// tools: the booking tools' wire names, one table. It mirrors `Tool` in the
// Rust crate booking-tools (tools/src/lib.rs), whose test checks that this
// file names exactly those tools; the result shapes are in docs/protocol.md
// ("Booking tools"). Nothing else in web/ spells a tool name.

export const TOOL = Object.freeze({
  FIND_SHOWTIMES: "find_showtimes",
  HOLD_BEST_AVAILABLE: "hold_best_available",
  EXTEND_HOLD: "extend_hold",
  RELEASE_HOLD: "release_hold",
  CONFIRM_BOOKING: "confirm_booking",
  CANCEL_BOOKING: "cancel_booking",
  LIST_BOOKINGS: "list_bookings",
});
