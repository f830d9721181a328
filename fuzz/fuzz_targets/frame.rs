//! Fuzz target: a WebSocket text frame from a client, through every step the
//! session runs before it acts on it — the frame decoder, the request-id
//! salvage of a frame that failed, the error code, the topic name parser and
//! the permission check. None of them may panic, whatever the text.
#![no_main]

use auth::Claims;
use bus::Topic;
use gateway::permissions::{self, Action};
use gateway::wire::{self, ClientMsg, PublisherInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The WebSocket layer hands the session only valid UTF-8 text.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let claims = Claims { sub: "guest-fuzz".into(), name: "fuzz".into(), exp: u64::MAX, rooms: None };
    match wire::decode(text) {
        Ok(msg) => {
            if let ClientMsg::Publish { topic, data: Some(data), .. } = &msg {
                let stored = wire::stored_payload(data, &PublisherInfo { user: "guest-fuzz", name: "fuzz" });
                assert!(stored.starts_with("{\"data\":"));
                check_topic(&claims, topic);
            }
            for topic in topics(&msg) {
                check_topic(&claims, topic);
            }
        }
        Err(e) => {
            let _ = e.code();
            let _ = wire::salvage_id(text);
        }
    }
    // Topic names arrive inside frames, but the parser must hold on its own too.
    check_topic(&claims, text);
});

fn check_topic(claims: &Claims, name: &str) {
    if let Ok(topic) = Topic::parse(name) {
        assert_eq!(topic.as_str(), name, "a parsed topic keeps its name");
        for action in [Action::Read, Action::Publish] {
            let _ = permissions::allowed(claims, &topic, action, false);
            let _ = permissions::allowed(claims, &topic, action, true);
        }
    }
}

/// The topic names a decoded frame carries.
fn topics(msg: &ClientMsg) -> Vec<&str> {
    match msg {
        ClientMsg::Subscribe { topic, .. }
        | ClientMsg::Unsubscribe { topic, .. }
        | ClientMsg::Publish { topic, .. }
        | ClientMsg::History { topic, .. } => vec![topic.as_str()],
        _ => Vec::new(),
    }
}
