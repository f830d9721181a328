//! The Redis engine: any number of nodes share one Redis.
//!
//! Publishing runs one function (`topic_publish`) that assigns the offset, appends to the
//! bounded history stream and `PUBLISH`es on the topic's channel, so offsets,
//! history and delivery order agree. A node `SUBSCRIBE`s only to channels of
//! topics its own clients subscribe to. After a reconnect, or when the pub/sub
//! receiver lagged, the engine resubscribes and asks the sink to resync, since
//! messages may have been lost in between.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::prelude::{Builder, Config, ReconnectPolicy};
use fred::types::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::functions::Function;
use crate::handle::{Arg, RedisHandle, Reply};
use crate::keys::{TopicKeys, topic_of_channel, user_rooms_key};
use crate::{
    BusConfig, BusError, BusEvent, Deliver, Entry, HistoryDir, HistoryPage, Position, Published, Topic, new_epoch,
};

/// How long one Redis command may take before it fails (Redis down or stuck).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Capacity of the pub/sub receive buffer; overflowing it triggers a resync.
pub const PUBSUB_BUFFER: usize = 65_536;

/// The Redis engine. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct RedisBus {
    inner: Arc<Inner>,
}

struct Inner {
    config: BusConfig,
    handle: RedisHandle,
    subscriber: SubscriberClient,
}

impl RedisBus {
    /// Connects to `url` (`redis://host:port[/db]`), starts the pub/sub reader
    /// that feeds `sink`, and returns once both connections are up. The
    /// background tasks stop when `shutdown` is cancelled.
    pub async fn connect(
        url: &str,
        config: BusConfig,
        sink: Arc<dyn Deliver>,
        shutdown: CancellationToken,
    ) -> Result<RedisBus, BusError> {
        let mut redis_config = Config::from_url(url)?;
        redis_config.fail_fast = true;
        let mut builder = Builder::from_config(redis_config);
        builder
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2))
            .with_connection_config(|c| {
                c.connection_timeout = COMMAND_TIMEOUT;
                c.internal_command_timeout = COMMAND_TIMEOUT;
                c.max_command_attempts = 2;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = COMMAND_TIMEOUT;
                p.broadcast_channel_capacity = PUBSUB_BUFFER;
            });
        let client = builder.build()?;
        let subscriber = builder.build_subscriber_client()?;
        client.init().await?;
        subscriber.init().await?;
        let handle = RedisHandle::new(client);
        handle.load_functions().await?;

        let bus = RedisBus { inner: Arc::new(Inner { config, handle, subscriber }) };
        bus.spawn_reader(sink, shutdown);
        Ok(bus)
    }

    /// The handle other stores sharing this Redis use (the seat store, the
    /// chat queue, the notifier); it shares the bus's command connection.
    pub fn handle(&self) -> &RedisHandle {
        &self.inner.handle
    }

    fn spawn_reader(&self, sink: Arc<dyn Deliver>, shutdown: CancellationToken) {
        let subscriber = self.inner.subscriber.clone();
        let mut messages = subscriber.message_rx();
        let mut reconnects = subscriber.reconnect_rx();
        let handle = self.inner.handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    msg = messages.recv() => match msg {
                        Ok(msg) => on_message(&*sink, &msg.channel, msg.value),
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(lost = n, "pub/sub receiver lagged; resyncing");
                            sink.resync();
                        }
                        Err(RecvError::Closed) => break,
                    },
                    r = reconnects.recv() => match r {
                        Ok(server) => {
                            tracing::info!(%server, "redis subscriber reconnected; resubscribing");
                            if let Err(e) = subscriber.resubscribe_all().await {
                                tracing::warn!(error = %e, "resubscribe failed");
                            }
                            sink.resync();
                        }
                        Err(RecvError::Lagged(_)) => sink.resync(),
                        Err(RecvError::Closed) => break,
                    },
                }
            }
            let _ = subscriber.quit().await;
            handle.quit().await;
        });
    }

    pub(crate) async fn publish(&self, topic: &Topic, data: Bytes) -> Result<Position, BusError> {
        Ok(self.publish_with(topic, data, "").await?.position)
    }

    pub(crate) async fn publish_idempotent(
        &self,
        topic: &Topic,
        data: Bytes,
        key: &str,
    ) -> Result<Published, BusError> {
        self.publish_with(topic, data, key).await
    }

    /// One `topic_publish` call; `key` empty = no idempotency key. Without a
    /// key the call carries only what publishing needs (the hot path); the
    /// idempotency keys and arguments follow only with a key.
    async fn publish_with(&self, topic: &Topic, data: Bytes, key: &str) -> Result<Published, BusError> {
        let k = TopicKeys::new(topic);
        let c = &self.inner.config;
        let mut args = vec![
            Arg::Data(data),
            Arg::Int(c.history_size as i64),
            Arg::Int(c.history_ttl.as_secs() as i64),
            Arg::from(new_epoch()),
            Arg::Int(c.history_bytes as i64),
        ];
        let mut keys = vec![k.stream, k.meta, k.channel];
        if !key.is_empty() {
            args.extend([
                Arg::from(key),
                Arg::Int(now_ms()),
                Arg::Int(c.idempotency_window.as_millis().max(1) as i64),
                Arg::Int(c.max_idempotency_keys.max(1) as i64),
            ]);
            keys.extend([k.idempotency, k.idempotency_expiry]);
        }
        let reply = self.inner.handle.call(Function::TopicPublish, keys, args).await?.into_array();
        match reply.as_slice() {
            // A library loaded by an older node answers `{offset, epoch}`.
            [offset, epoch, rest @ ..] if rest.len() <= 1 => Ok(Published {
                position: Position {
                    offset: offset.as_u64().ok_or_else(|| protocol("publish offset"))?,
                    epoch: epoch.as_str().ok_or_else(|| protocol("publish epoch"))?.into(),
                },
                duplicate: rest.first().and_then(Reply::as_i64) == Some(1),
            }),
            _ => Err(protocol("publish reply")),
        }
    }

    pub(crate) async fn history(&self, topic: &Topic, dir: HistoryDir, limit: usize) -> Result<HistoryPage, BusError> {
        let k = TopicKeys::new(topic);
        let (mode, bound) = match dir {
            HistoryDir::After(o) => ("after", o),
            HistoryDir::Before(o) => ("before", o),
        };
        let ttl = self.inner.config.history_ttl.as_secs() as i64;
        let args = vec![
            Arg::from(new_epoch()),
            Arg::from(mode),
            Arg::Int(signed(bound)),
            Arg::Int(limit as i64),
            Arg::Int(ttl),
        ];
        let reply = self.inner.handle.call(Function::TopicHistory, vec![k.stream, k.meta], args).await?;
        let mut it = reply.into_array().into_iter();
        let epoch: Arc<str> = it.next().and_then(|v| v.as_str().map(|s| s.into())).ok_or_else(|| protocol("epoch"))?;
        let top = it.next().and_then(|v| v.as_u64()).ok_or_else(|| protocol("top"))?;
        let first_available = it.next().and_then(|v| v.as_u64()).ok_or_else(|| protocol("first"))?;
        let mut entries = Vec::new();
        while let Some(offset) = it.next() {
            let offset = offset.as_u64().ok_or_else(|| protocol("entry offset"))?;
            let data = it.next().and_then(|v| v.as_bytes().cloned()).ok_or_else(|| protocol("entry"))?;
            entries.push(Entry { offset, data });
        }
        Ok(HistoryPage { position: Position { epoch, offset: top }, first_available, entries })
    }

    /// Subscribes this node to `topic`'s channel and returns once Redis has
    /// processed the `SUBSCRIBE`. fred's `subscribe` can return before that
    /// (seen here: a publication made right after it returned was not
    /// delivered, about one run in two of the bus suite once publishing took
    /// one round trip); a `PING` on the same connection is answered in order,
    /// so when it returns the subscription is live.
    pub(crate) async fn subscribe_node(&self, topic: &Topic) -> Result<(), BusError> {
        self.inner.subscriber.subscribe(TopicKeys::new(topic).channel).await?;
        let _: Value = self.inner.subscriber.ping(None).await?;
        Ok(())
    }

    pub(crate) async fn unsubscribe_node(&self, topic: &Topic) -> Result<(), BusError> {
        Ok(self.inner.subscriber.unsubscribe(TopicKeys::new(topic).channel).await?)
    }

    pub(crate) fn node_topics(&self) -> Vec<Topic> {
        let channels = self.inner.subscriber.tracked_channels();
        channels.iter().filter_map(|c| topic_of_channel(c).and_then(|t| Topic::parse(t).ok())).collect()
    }

    pub(crate) async fn presence_add(&self, topic: &Topic, session: &str, info: Bytes) -> Result<(), BusError> {
        let k = TopicKeys::new(topic);
        let ttl = self.inner.config.presence_ttl;
        let expiry = now_ms() + ttl.as_millis() as i64;
        let args =
            vec![Arg::from(session), Arg::Data(info), Arg::Int(expiry), Arg::Int(ttl.as_secs().max(1) as i64 * 2)];
        self.inner.handle.call(Function::PresenceAdd, vec![k.presence, k.presence_expiry, k.channel], args).await?;
        Ok(())
    }

    pub(crate) async fn presence_remove(&self, topic: &Topic, session: &str) -> Result<(), BusError> {
        let k = TopicKeys::new(topic);
        let keys = vec![k.presence, k.presence_expiry, k.channel];
        self.inner.handle.call(Function::PresenceRemove, keys, vec![Arg::from(session)]).await?;
        Ok(())
    }

    pub(crate) async fn presence_list(&self, topic: &Topic) -> Result<Vec<Bytes>, BusError> {
        let k = TopicKeys::new(topic);
        let keys = vec![k.presence, k.presence_expiry, k.channel];
        let reply = self.inner.handle.call(Function::PresenceList, keys, vec![Arg::Int(now_ms())]).await?.into_array();
        // HGETALL: session, info, session, info, ... sorted by session for a stable answer.
        let mut pairs: Vec<(String, Bytes)> = reply
            .chunks(2)
            .filter_map(|p| match p {
                [s, i] => Some((s.to_text()?, i.as_bytes()?.clone())),
                _ => None,
            })
            .collect();
        pairs.sort();
        Ok(pairs.into_iter().map(|(_, i)| i).collect())
    }

    pub(crate) async fn add_member(&self, user: &str, topic: &Topic) -> Result<(), BusError> {
        let ttl = Arg::Int(self.inner.config.history_ttl.as_secs() as i64);
        let keys = vec![user_rooms_key(user)];
        self.inner.handle.call(Function::RoomMemberAdd, keys, vec![Arg::from(topic.as_str()), ttl]).await?;
        Ok(())
    }

    pub(crate) async fn mark_read(&self, topic: &Topic, user: &str, offset: u64) -> Result<u64, BusError> {
        let k = TopicKeys::new(topic);
        let ttl = self.inner.config.history_ttl.as_secs() as i64;
        let args = vec![Arg::from(user), Arg::Int(signed(offset)), Arg::Int(ttl)];
        let unread = self.inner.handle.call(Function::MarkRead, vec![k.reads, k.meta], args).await?;
        unread.as_u64().ok_or_else(|| protocol("unread"))
    }

    pub(crate) async fn unread(&self, user: &str) -> Result<Vec<(String, u64)>, BusError> {
        let rooms = self.inner.handle.cmd("SMEMBERS", vec![Arg::from(user_rooms_key(user))]).await?;
        let rooms: Vec<String> = rooms.into_array().iter().filter_map(Reply::to_text).collect();
        let mut out = Vec::with_capacity(rooms.len());
        for room in rooms {
            let Ok(topic) = Topic::parse(&room) else { continue };
            // Marking read "up to 0" never moves the read position and returns the count.
            out.push((room, self.mark_read(&topic, user, 0).await?));
        }
        out.sort();
        Ok(out)
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.inner.handle.is_connected() && self.inner.subscriber.is_connected()
    }

    pub(crate) async fn probe(&self, deadline: Duration) -> bool {
        self.is_ready() && self.inner.handle.ping(deadline).await
    }
}

/// Parses one pub/sub message: `p <offset> <epoch> <data>`, `j <info>` or `l <info>`.
fn on_message(sink: &dyn Deliver, channel: &str, value: Value) {
    let Some(topic) = topic_of_channel(channel).and_then(|t| Topic::parse(t).ok()) else {
        return;
    };
    let Some(raw) = value.as_bytes().map(Bytes::copy_from_slice) else {
        return;
    };
    let event = match parse_payload(raw) {
        Some(e) => e,
        None => {
            tracing::warn!(%topic, "unparseable bus payload dropped");
            return;
        }
    };
    sink.deliver(&topic, event);
}

/// Anyone who can reach Redis can publish on a topic channel, so every
/// length is checked before slicing: a malformed message is dropped.
fn parse_payload(raw: Bytes) -> Option<BusEvent> {
    let (kind, rest) = match raw.get(..2)? {
        [kind, b' '] => (*kind, raw.slice(2..)),
        _ => return None,
    };
    match kind {
        b'p' => {
            let mut parts = rest.splitn(3, |b| *b == b' ');
            let offset = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
            let epoch: Arc<str> = std::str::from_utf8(parts.next()?).ok()?.into();
            let data_len = parts.next()?.len();
            let data = rest.slice(rest.len() - data_len..);
            Some(BusEvent::Publication { offset, epoch, data })
        }
        b'j' => Some(BusEvent::Join(rest)),
        b'l' => Some(BusEvent::Leave(rest)),
        _ => None,
    }
}

/// An offset as Redis keeps it (signed); past `i64::MAX` it is clamped, never
/// turned negative (the gateway refuses such offsets before they get here).
fn signed(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

fn protocol(what: &str) -> BusError {
    BusError::Protocol(what.to_owned())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bus_payloads() {
        match parse_payload(Bytes::from_static(b"p 12 ab12cd34 {\"a\": \"x y\"}")) {
            Some(BusEvent::Publication { offset, epoch, data }) => {
                assert_eq!(offset, 12);
                assert_eq!(&*epoch, "ab12cd34");
                assert_eq!(&data[..], b"{\"a\": \"x y\"}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(parse_payload(Bytes::from_static(b"j {}")), Some(BusEvent::Join(d)) if &d[..] == b"{}"));
        assert!(matches!(parse_payload(Bytes::from_static(b"l {}")), Some(BusEvent::Leave(_))));
        assert!(parse_payload(Bytes::from_static(b"p x")).is_none());
        assert!(parse_payload(Bytes::from_static(b"")).is_none());
    }

    #[test]
    fn short_or_malformed_payloads_are_dropped_not_a_panic() {
        // Anyone with Redis access can publish these on a topic channel.
        let malformed: [&[u8]; 10] = [b"p", b"j", b"l", b"x", b"x 1", b"p ", b"p 1", b"p 1 e", b"p -1 e d", b"jx"];
        for raw in malformed {
            assert!(parse_payload(Bytes::copy_from_slice(raw)).is_none(), "{:?}", String::from_utf8_lossy(raw));
        }
        assert!(matches!(parse_payload(Bytes::from_static(b"j ")), Some(BusEvent::Join(d)) if d.is_empty()));
        // An empty publication is still well-formed framing.
        assert!(
            matches!(parse_payload(Bytes::from_static(b"p 1 e ")), Some(BusEvent::Publication { data, .. }) if data.is_empty())
        );
    }
}
