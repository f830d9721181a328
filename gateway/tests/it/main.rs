//! Gateway integration tests: real nodes on free loopback ports, a real
//! redis-server for cluster tests, real WebSocket clients.

#![allow(clippy::unwrap_used, missing_docs)]

mod admin;
mod bookings;
mod chat;
mod chat_booking;
mod chat_consent;
mod cluster;
mod history;
mod http;
mod mail;
mod openapi;
mod payment;
mod protocol;
mod seats;
mod support;
mod tickets;
