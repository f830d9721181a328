//! Every Redis name Marquee writes. No other crate formats one.
//!
//! Every key of one topic carries the topic name as a hash tag (`{room:lobby}`)
//! so that all of them live in one Redis Cluster slot and a function may touch
//! them together: the seat store's keys of a showtime ([`ShowtimeKeys`]) and
//! the chat state of a user ([`ChatKeys`]) live under the tag of their topic
//! (`showtime:<id>`, `user:<id>`), so their functions publish in the same
//! atomic step. Keys that span showtimes or users (indexes, streams) have tags
//! of their own and are written right after a function, never inside one.

use crate::Topic;

/// Prefix of every key Marquee writes.
pub const PREFIX: &str = "mq";

/// The Redis names belonging to one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicKeys {
    /// Stream of publications; entry ids are `0-<offset>`, field `d` holds the data.
    pub stream: String,
    /// Hash with `e` (epoch), `o` (last assigned offset) and `b` (payload
    /// bytes in the stream, for the history byte budget).
    pub meta: String,
    /// Pub/sub channel the nodes subscribe to.
    pub channel: String,
    /// Hash: session id → presence info (JSON).
    pub presence: String,
    /// Sorted set: session id → presence expiry (unix ms).
    pub presence_expiry: String,
    /// Hash: user id → last offset the user has read.
    pub reads: String,
    /// Hash: publish idempotency key → `<offset> <epoch>` of its publication.
    pub idempotency: String,
    /// Sorted set: publish idempotency key → remembered until (unix ms).
    pub idempotency_expiry: String,
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
            idempotency: format!("{tag}:i"),
            idempotency_expiry: format!("{tag}:iz"),
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

/// The seat store's keys of one showtime, under `mq:{showtime:<id>}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowtimeKeys {
    /// Hash seat → `h|<hold id>` or `s|<booking id>` (absent = free).
    pub seats: String,
    /// The version counter.
    pub version: String,
    /// Hash hold id → hold JSON.
    pub holds: String,
    /// Sorted set live hold id → expiry (ms).
    pub hold_expiry: String,
    /// Sorted set ended hold id → end time (tombstones).
    pub holds_ended: String,
    /// Hash booking id → `{"user":…}`: the cache of the ledger's bookings.
    pub bookings: String,
    /// Set once the showtime's sold seats were rebuilt from the ledger.
    pub synced: String,
    /// The keys of topic `showtime:<id>`.
    pub topic: TopicKeys,
    tag: String,
}

impl ShowtimeKeys {
    /// The names for the showtime whose topic is `topic` (`showtime:<id>`).
    pub fn new(topic: &Topic) -> ShowtimeKeys {
        let tag = TopicKeys::tag(topic);
        ShowtimeKeys {
            seats: format!("{tag}:seats"),
            version: format!("{tag}:ver"),
            holds: format!("{tag}:holds"),
            hold_expiry: format!("{tag}:hz"),
            holds_ended: format!("{tag}:hend"),
            bookings: format!("{tag}:bookings"),
            synced: format!("{tag}:synced"),
            topic: TopicKeys::new(topic),
            tag,
        }
    }

    /// The KEYS every seat function takes, in the order `bus/lua/seats.lua`
    /// documents (1 to 10).
    pub fn function_keys(&self) -> Vec<String> {
        vec![
            self.seats.clone(),
            self.version.clone(),
            self.holds.clone(),
            self.hold_expiry.clone(),
            self.holds_ended.clone(),
            self.bookings.clone(),
            self.synced.clone(),
            self.topic.stream.clone(),
            self.topic.meta.clone(),
            self.topic.channel.clone(),
        ]
    }

    /// The idempotency key of a hold request by `user` with client key `key`.
    pub fn hold_idempotency(&self, user: &str, key: &str) -> String {
        format!("{}:idem:{user}:{key}", self.tag)
    }
}

/// The seat store's keys that span showtimes.
pub mod seats {
    /// Sorted set: showtime id → earliest time one of its holds may expire.
    pub const HOLD_INDEX: &str = "mq:{seats}:holdidx";
    /// Hash of the cluster's schedule: `v` (version) and `doc` (JSON).
    pub const SCHEDULE: &str = "mq:{seats}:schedule";
}

/// The chat pipeline's keys.
pub struct ChatKeys;

impl ChatKeys {
    /// The stream of chat requests.
    pub const STREAM: &'static str = "mq:{chat}:q";
    /// Sorted set of hold-expiry warnings due (score: when, Unix ms).
    pub const WARNINGS: &'static str = "mq:{chat}:warn";

    /// Per-message state: hash with `a` (attempt), `q` (queued), `d`, `ap`, `o` and `r:<call>`.
    pub fn message(user: &str, message_id: &str) -> String {
        format!("mq:{{user:{user}}}:chat:{message_id}")
    }

    /// A conversation's turns (list) and dialogue state (string).
    pub fn conversation(user: &str, conversation: &str) -> (String, String) {
        (format!("mq:{{user:{user}}}:conv:{conversation}:t"), format!("mq:{{user:{user}}}:conv:{conversation}:d"))
    }
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
        let all = [&k.stream, &k.meta, &k.channel, &k.presence, &k.presence_expiry, &k.reads, &k.idempotency];
        for key in all.into_iter().chain([&k.idempotency_expiry]) {
            assert!(key.starts_with("mq:{showtime:42}:"), "{key}");
        }
        assert_eq!(topic_of_channel(&k.channel), Some("showtime:42"));
        assert_eq!(topic_of_channel("other"), None);
    }

    #[test]
    fn showtime_and_chat_keys_stay_in_their_topic_slot() {
        let t = Topic::parse("showtime:42").expect("valid");
        let k = ShowtimeKeys::new(&t);
        let mut all = k.function_keys();
        all.push(k.hold_idempotency("u1", "abc"));
        for key in &all {
            assert!(key.starts_with("mq:{showtime:42}:"), "{key}");
        }
        assert_eq!(all[0], "mq:{showtime:42}:seats");
        assert_eq!(all[9], k.topic.channel);
        let (turns, state) = ChatKeys::conversation("u1", "c1");
        for key in [ChatKeys::message("u1", "m1"), turns, state] {
            assert!(key.starts_with("mq:{user:u1}:"), "{key}");
        }
    }
}
