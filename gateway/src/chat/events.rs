//! The chat events the dispatcher publishes on `user:<id>`, as types.
//! docs/protocol.md ("Chat with the bot") documents each one.

use serde::Serialize;
use serde_json::value::RawValue;

/// A quick reply shown as a large button.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Suggestion {
    /// What the button shows.
    pub label: String,
    /// What is sent as the user's message when it is chosen.
    pub text: String,
    /// Set when the suggestion is a showtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub showtime: Option<String>,
}

/// One event of one message's answer.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// The user's message, echoed to the user's other devices.
    Message {
        /// What the user wrote or said.
        text: &'a str,
        /// A voice final.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        voice: bool,
    },
    /// The answer is waiting for the model service.
    Queued {
        /// Position in the queue, counting this message.
        position: u64,
    },
    /// An answer attempt begins.
    Start {
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// A piece of the answer text.
    Delta {
        /// Attempt number.
        attempt: u32,
        /// The text.
        text: &'a str,
    },
    /// A record the answer relies on.
    Citation {
        /// Attempt number.
        attempt: u32,
        /// Movie id.
        movie: &'a str,
        /// Review id, when the snippet is from a review.
        #[serde(skip_serializing_if = "Option::is_none")]
        review: Option<&'a str>,
        /// The passage used.
        snippet: &'a str,
        /// Credit to show with it.
        attribution: &'a str,
    },
    /// A booking action run for the user.
    Action {
        /// Attempt number.
        attempt: u32,
        /// Tool name.
        tool: &'a str,
        /// The arguments it ran with (null when they were not JSON).
        arguments: &'a RawValue,
        /// Whether it succeeded.
        ok: bool,
        /// Its result (or `{"error","message"}`).
        result: &'a RawValue,
    },
    /// The previous attempt stopped; discard its text.
    Restart {
        /// The new attempt number.
        attempt: u32,
    },
    /// The answer is complete.
    Final {
        /// Attempt number.
        attempt: u32,
        /// The whole answer text.
        text: &'a str,
        /// Plain text for read-aloud.
        speech: &'a str,
        /// Quick replies.
        suggestions: &'a [Suggestion],
    },
    /// The answer did not come in time; it still will.
    Apology {
        /// What to show.
        text: &'a str,
        /// What to read aloud.
        speech: &'a str,
    },
    /// A hold the bot made expires soon.
    Warning {
        /// The hold.
        hold_id: &'a str,
        /// Its showtime.
        showtime: &'a str,
        /// When it expires (Unix ms).
        expires_at: i64,
        /// What to show.
        text: &'a str,
        /// What to read aloud.
        speech: &'a str,
        /// Quick replies (extend).
        suggestions: &'a [Suggestion],
    },
}

/// An event with the fields every chat event carries.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message_id: &'a str,
    conversation: &'a str,
    #[serde(flatten)]
    event: Event<'a>,
}

/// The JSON text published on `user:<id>` for `event` of `message_id`.
pub fn encode(message_id: &str, conversation: &str, event: Event<'_>) -> String {
    let env = Envelope { kind: "chat", message_id, conversation, event };
    // Plain structs of strings and numbers: serialization cannot fail.
    serde_json::to_string(&env).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_type_event_and_ids() {
        let json = encode("m1", "c1", Event::Delta { attempt: 2, text: "안녕" });
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["type"], "chat");
        assert_eq!(v["event"], "delta");
        assert_eq!(v["message_id"], "m1");
        assert_eq!(v["conversation"], "c1");
        assert_eq!(v["attempt"], 2);
        assert_eq!(v["text"], "안녕");
        let m: serde_json::Value =
            serde_json::from_str(&encode("m1", "c1", Event::Message { text: "x", voice: false })).expect("json");
        assert!(m.get("voice").is_none());
    }
}
