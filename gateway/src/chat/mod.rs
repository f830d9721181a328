//! Chat with the bot: the pipeline from a `chat` frame to an answer on the
//! user's topic.
//!
//! - [`queue`]: the queue of requests (Redis Stream + consumer group, or in
//!   process), per-message fences and tool journal, conversations.
//! - [`dispatcher`]: the worker that answers requests with the model service
//!   over gRPC and runs the booking tools it proposes ([`tools`]).
//! - [`events`]: the events published on `user:<id>`.
//! - [`model`]: how a dispatcher reaches the model service (a URL, or one
//!   the binary links in, started in process).
//! - [`schedule`]: the seat store's schedule names sent with each request.
//!
//! The session side (validating `chat`/`voice_*` frames and accepting them)
//! lives in `session.rs`; see ARCHITECTURE.md for the whole path.

pub mod consent;
pub mod dispatcher;
pub mod events;
pub mod model;
pub mod queue;
pub mod schedule;
pub mod tools;

pub use queue::ChatQueue;

/// Longest message or utterance id, and conversation id.
pub const MAX_ID_LEN: usize = 64;
/// Longest chat text, in characters: the model service's limit, so a
/// message accepted here is never refused there.
pub const MAX_TEXT_CHARS: usize = proto::MAX_CHAT_TEXT_CHARS;

/// Whether `id` is 1–64 of `A-Z a-z 0-9 _ . : -`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Why a chat text is refused, if it is.
pub fn text_problem(text: &str) -> Option<&'static str> {
    if text.trim().is_empty() {
        Some("`text` is empty")
    } else if text.chars().count() > MAX_TEXT_CHARS {
        Some("`text` is longer than 2000 characters")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_texts_are_checked() {
        assert!(valid_id("m-1.a:b_C"));
        assert!(!valid_id(""));
        assert!(!valid_id("has space"));
        assert!(!valid_id(&"x".repeat(65)));
        assert!(!valid_id("한글"));
        assert_eq!(text_problem("  "), Some("`text` is empty"));
        assert!(text_problem(&"가".repeat(2000)).is_none());
        assert!(text_problem(&"가".repeat(2001)).is_some());
    }
}
