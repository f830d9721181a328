//! Topic names: parsed and validated once, so nothing downstream matches on
//! raw strings. A topic is `<kind>:<id>` with a known kind.

use std::fmt;
use std::sync::Arc;

/// Longest allowed topic id, in bytes.
pub const MAX_TOPIC_ID_LEN: usize = 64;

/// What a topic is for; decides who may read and publish it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// `room:<id>`: a chat room; members publish, history and presence kept.
    Room,
    /// `showtime:<id>`: seat changes of one showtime; only the server publishes.
    Showtime,
    /// `user:<id>`: private to one user (bot replies, booking confirmations).
    User,
}

impl TopicKind {
    fn prefix(self) -> &'static str {
        match self {
            TopicKind::Room => "room",
            TopicKind::Showtime => "showtime",
            TopicKind::User => "user",
        }
    }
}

/// A validated topic name such as `room:lobby`. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    name: Arc<str>,
    kind: TopicKind,
}

/// Why a topic name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The part before `:` is not a known kind.
    #[error("unknown topic kind (expected room:, showtime: or user:)")]
    UnknownKind,
    /// The id is empty, too long or has characters outside `[A-Za-z0-9_.-]`.
    #[error("topic id must be 1-64 characters of A-Z a-z 0-9 _ . -")]
    BadId,
}

impl Topic {
    /// Parses `kind:id`.
    pub fn parse(s: &str) -> Result<Topic, TopicError> {
        let (prefix, id) = s.split_once(':').ok_or(TopicError::UnknownKind)?;
        let kind = match prefix {
            "room" => TopicKind::Room,
            "showtime" => TopicKind::Showtime,
            "user" => TopicKind::User,
            _ => return Err(TopicError::UnknownKind),
        };
        Topic::new(kind, id)
    }

    /// Builds a topic from its kind and id.
    pub fn new(kind: TopicKind, id: &str) -> Result<Topic, TopicError> {
        let valid = !id.is_empty()
            && id.len() <= MAX_TOPIC_ID_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            return Err(TopicError::BadId);
        }
        Ok(Topic { name: format!("{}:{id}", kind.prefix()).into(), kind })
    }

    /// The topic's kind.
    pub fn kind(&self) -> TopicKind {
        self.kind
    }

    /// The part after `kind:`.
    pub fn id(&self) -> &str {
        &self.name[self.kind.prefix().len() + 1..]
    }

    /// The full name, `kind:id`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The full name as a shared string.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }
}

impl PartialOrd for Topic {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Topic {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name.cmp(&other.name)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({})", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_kinds_and_rejects_the_rest() {
        let t = Topic::parse("room:lobby").expect("valid");
        assert_eq!(t.kind(), TopicKind::Room);
        assert_eq!(t.id(), "lobby");
        assert_eq!(Topic::parse("showtime:st-1").map(|t| t.kind()), Ok(TopicKind::Showtime));
        assert_eq!(Topic::parse("user:u_1").map(|t| t.id().to_owned()), Ok("u_1".to_owned()));
        assert_eq!(Topic::parse("chan:x"), Err(TopicError::UnknownKind));
        assert_eq!(Topic::parse("lobby"), Err(TopicError::UnknownKind));
        assert_eq!(Topic::parse("room:"), Err(TopicError::BadId));
        assert_eq!(Topic::parse("room:a b"), Err(TopicError::BadId));
        assert_eq!(Topic::parse("room:{x}"), Err(TopicError::BadId));
        assert_eq!(Topic::parse(&format!("room:{}", "a".repeat(65))), Err(TopicError::BadId));
    }
}
