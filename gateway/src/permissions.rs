//! Who may do what with a topic. One function, derived from the token's
//! claims and the topic's kind, so every request path asks the same question.

use bus::{Topic, TopicKind};

use crate::auth::Claims;

/// What a client wants to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Subscribe (and so join a room), read history or presence.
    Read,
    /// Publish.
    Publish,
}

/// Whether `claims` allow `action` on `topic`. `joined` says whether the
/// connection is subscribed to the topic (rooms are published to by members).
pub fn allowed(claims: &Claims, topic: &Topic, action: Action, joined: bool) -> bool {
    match (topic.kind(), action) {
        (TopicKind::Room, Action::Read) => claims.rooms.as_ref().is_none_or(|r| r.iter().any(|id| id == topic.id())),
        (TopicKind::Room, Action::Publish) => joined,
        (TopicKind::Showtime, Action::Read) => true,
        // Seat changes come from the seat store only.
        (TopicKind::Showtime, Action::Publish) => false,
        (TopicKind::User, _) => topic.id() == claims.sub,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(rooms: Option<Vec<&str>>) -> Claims {
        Claims {
            sub: "u1".into(),
            name: "n".into(),
            exp: 0,
            rooms: rooms.map(|r| r.into_iter().map(String::from).collect()),
        }
    }

    fn t(s: &str) -> Topic {
        Topic::parse(s).expect("valid")
    }

    #[test]
    fn rules() {
        let any = claims(None);
        let only_a = claims(Some(vec!["a"]));
        assert!(allowed(&any, &t("room:x"), Action::Read, false));
        assert!(!allowed(&any, &t("room:x"), Action::Publish, false), "publish needs membership");
        assert!(allowed(&any, &t("room:x"), Action::Publish, true));
        assert!(allowed(&only_a, &t("room:a"), Action::Read, false));
        assert!(!allowed(&only_a, &t("room:b"), Action::Read, false));
        assert!(allowed(&any, &t("showtime:1"), Action::Read, false));
        assert!(!allowed(&any, &t("showtime:1"), Action::Publish, true));
        assert!(allowed(&any, &t("user:u1"), Action::Read, false));
        assert!(allowed(&any, &t("user:u1"), Action::Publish, true));
        assert!(!allowed(&any, &t("user:u2"), Action::Read, false));
    }
}
