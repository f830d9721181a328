//! Redis key and channel names for a topic.
//!
//! Every key of one topic carries the topic name as a hash tag (`{room:lobby}`)
//! so that all of them live in one Redis Cluster slot and a Lua script may touch
//! them together. Other crates (the seat store) add keys of their own under the
//! same tag and call [`crate::lua::PUBLISH_FN`] from their scripts.

use crate::Topic;

/// Prefix of every key Marquee writes.
pub const PREFIX: &str = "mq";

/// The Redis names belonging to one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicKeys {
    /// Stream of publications; entry ids are `0-<offset>`, field `d` holds the data.
    pub stream: String,
    /// Hash with `e` (epoch) and `o` (last assigned offset).
    pub meta: String,
    /// Pub/sub channel the nodes subscribe to.
    pub channel: String,
    /// Hash: session id → presence info (JSON).
    pub presence: String,
    /// Sorted set: session id → presence expiry (unix ms).
    pub presence_expiry: String,
    /// Hash: user id → last offset the user has read.
    pub reads: String,
}

impl TopicKeys {
    /// The names for `topic`.
    pub fn new(topic: &Topic) -> TopicKeys {
        let tag = format!("{PREFIX}:{{{topic}}}");
        TopicKeys {
            stream: format!("{tag}:s"),
            meta: format!("{tag}:m"),
            channel: format!("{tag}:c"),
            presence: format!("{tag}:p"),
            presence_expiry: format!("{tag}:pz"),
            reads: format!("{tag}:r"),
        }
    }

    /// The key prefix shared by all keys of the topic, `mq:{<topic>}`; other
    /// crates append their own suffixes to it to stay in the same slot.
    pub fn tag(topic: &Topic) -> String {
        format!("{PREFIX}:{{{topic}}}")
    }
}

/// Set of rooms a user has joined (for unread counts).
pub fn user_rooms_key(user: &str) -> String {
    format!("{PREFIX}:{{user:{user}}}:rooms")
}

/// Recovers the topic name from a channel name built by [`TopicKeys`].
pub fn topic_of_channel(channel: &str) -> Option<&str> {
    channel.strip_prefix("mq:{")?.strip_suffix("}:c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag_and_channel_round_trips() {
        let t = Topic::parse("showtime:42").expect("valid");
        let k = TopicKeys::new(&t);
        for key in [&k.stream, &k.meta, &k.channel, &k.presence, &k.presence_expiry, &k.reads] {
            assert!(key.starts_with("mq:{showtime:42}:"), "{key}");
        }
        assert_eq!(topic_of_channel(&k.channel), Some("showtime:42"));
        assert_eq!(topic_of_channel("other"), None);
    }
}
