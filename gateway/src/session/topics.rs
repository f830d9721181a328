//! The session's topic requests: subscribe (with recovery from history and
//! room presence), unsubscribe, publish, history pages, presence lists and
//! unread counts, each checked against the token's permissions first.

use bus::{Topic, TopicKind};
use bytes::Bytes;

use super::{End, MAX_HISTORY_PAGE, Session, SubState};
use crate::archive;
use crate::auth::Claims;
use crate::permissions::{Action, allowed};
use crate::wire::{self, ErrorCode, RecoverFrom, ReqId, ServerMsg};

impl Session {
    pub(super) async fn subscribe(&mut self, id: ReqId, name: &str, recover: Option<RecoverFrom>) -> Result<(), End> {
        let Some(topic) = self.readable(id, name).await? else { return Ok(()) };
        if self.subs.contains_key(&topic) {
            return self.error(Some(id), ErrorCode::AlreadySubscribed, "already subscribed to this topic").await;
        }
        if self.subs.len() >= self.node.config.max_subscriptions {
            return self.error(Some(id), ErrorCode::TooManySubscriptions, "subscription limit reached").await;
        }
        if let Err(e) = self.node.subscribe(&topic, self.mailbox.clone()).await {
            return self.unavailable(id, e).await;
        }
        // From here on live publications queue up in the mailbox; history is
        // read after, so together they cover everything, and the per-topic
        // offset below drops what both contain.
        let after = recover.as_ref().map_or(0, |r| r.offset);
        let want = if recover.is_some() { self.node.config.max_recover } else { 0 };
        let page = match self.node.count_bus(self.node.bus.history_after(&topic, after, want).await) {
            Ok(page) => page,
            Err(e) => {
                self.node.unsubscribe(&topic, self.id).await;
                return self.unavailable(id, e).await;
            }
        };
        let pos = page.position.clone();
        let recovered = recover.as_ref().map(|r| {
            let missed = pos.offset.saturating_sub(r.offset);
            *r.epoch == *pos.epoch
                && r.offset <= pos.offset
                && page.entries.len() as u64 == missed
                && page.entries.first().is_none_or(|e| e.offset == r.offset + 1)
        });
        let mut unread = None;
        if topic.kind() == TopicKind::Room {
            // A room someone reads is caught up in the archive (its last
            // publications may come from a node that died before writing them).
            self.node.archive.note(&topic);
            let info = presence_info(&self.claims, &self.presence_key);
            let user = self.claims.sub.clone();
            // Whether the presence entry was sent: a join that fails after
            // it (or whose write timed out, and may still run) removes it.
            let mut presence_sent = false;
            let joined = match self.node.bus.add_member(&user, &topic).await {
                Ok(()) => {
                    presence_sent = true;
                    match self.node.presence_join(&topic, self.presence_key.clone(), info).await {
                        Ok(()) => self.node.bus.mark_read(&topic, &user, 0).await,
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match self.node.count_bus(joined) {
                Ok(n) => unread = Some(n),
                Err(e) => {
                    self.node.unsubscribe(&topic, self.id).await;
                    if presence_sent {
                        self.node.presence_undo(&topic, self.presence_key.clone()).await;
                    }
                    return self.unavailable(id, e).await;
                }
            }
        }
        self.subs.insert(topic.clone(), SubState { epoch: pos.epoch.clone(), offset: pos.offset });
        let ack = ServerMsg::Subscribed {
            id,
            topic: topic.as_str(),
            epoch: &pos.epoch,
            offset: pos.offset,
            recovered,
            unread,
        };
        self.feed(ack.encode()).await?;
        if recovered == Some(true) {
            for e in &page.entries {
                self.feed(wire::pub_frame(topic.as_str(), e.offset, &e.data)).await?;
            }
        }
        self.flush().await
    }

    pub(super) async fn unsubscribe(&mut self, id: ReqId, name: &str) -> Result<(), End> {
        let Some(topic) = self.topic(id, name).await? else { return Ok(()) };
        if self.subs.remove(&topic).is_none() {
            return self.error(Some(id), ErrorCode::NotSubscribed, "not subscribed to this topic").await;
        }
        self.leave(&topic).await;
        self.reply(ServerMsg::Unsubscribed { id, topic: topic.as_str() }).await
    }

    pub(super) async fn publish(
        &mut self,
        id: ReqId,
        name: &str,
        data: &serde_json::value::RawValue,
        idem: Option<&str>,
    ) -> Result<(), End> {
        let Some(topic) = self.topic(id, name).await? else { return Ok(()) };
        if !allowed(&self.claims, &topic, Action::Publish, self.subs.contains_key(&topic)) {
            let why = match topic.kind() {
                TopicKind::Showtime => "only the server publishes to showtime topics",
                TopicKind::Room => "join the room (subscribe) before publishing",
                TopicKind::User => "you may only publish to your own user topic",
            };
            return self.error(Some(id), ErrorCode::Forbidden, why).await;
        }
        if !self.bucket.take() {
            return self.error(Some(id), ErrorCode::RateLimited, "publishing too fast; slow down").await;
        }
        let info = wire::PublisherInfo { user: &self.claims.sub, name: &self.claims.name };
        let payload = Bytes::from(wire::stored_payload(data, &info));
        let published = match idem {
            // Scoped by user (user ids have no `:`), so nobody can claim
            // another user's key and swallow their publication.
            Some(key) => {
                let key = format!("{}:{key}", self.claims.sub);
                self.node.bus.publish_idempotent(&topic, payload, &key).await
            }
            None => self
                .node
                .bus
                .publish(&topic, payload)
                .await
                .map(|position| bus::Published { position, duplicate: false }),
        };
        match self.node.count_bus(published) {
            Ok(p) => {
                self.node.archive.note(&topic);
                let (offset, duplicate) = (p.position.offset, p.duplicate);
                self.reply(ServerMsg::Published { id, topic: topic.as_str(), offset, duplicate }).await
            }
            Err(e) => self.unavailable(id, e).await,
        }
    }

    pub(super) async fn history(
        &mut self,
        id: ReqId,
        name: &str,
        before: Option<u64>,
        after: Option<u64>,
        limit: Option<usize>,
    ) -> Result<(), End> {
        let Some(topic) = self.readable(id, name).await? else { return Ok(()) };
        let limit = limit.unwrap_or(MAX_HISTORY_PAGE).min(MAX_HISTORY_PAGE);
        let page = match after {
            Some(after) => self.node.bus.history_after(&topic, after, limit).await,
            None => self.node.bus.history_before(&topic, before, limit).await,
        };
        let mut page = match self.node.count_bus(page) {
            Ok(page) => page,
            Err(e) => return self.unavailable(id, e).await,
        };
        // Rooms page on past the bus's bounded history from the archive,
        // which this read also asks to catch up (a room whose publishing
        // node died before archiving is written now).
        let more = if topic.kind() == TopicKind::Room {
            self.node.archive.note(&topic);
            let ledger = self.node.seats.ledger();
            match after {
                Some(after) => archive::newer(ledger, &topic, &mut page, after, limit).await,
                None => match archive::older(ledger, &topic, &mut page, before, limit).await {
                    Ok(more) => more,
                    Err(e) => {
                        tracing::warn!(error = %e, "history archive read failed");
                        return self.error(Some(id), ErrorCode::Unavailable, "temporarily unavailable; retry").await;
                    }
                },
            }
        } else {
            archive::bus_more(&page, after.is_none())
        };
        self.send_now(wire::history_frame(id, topic.as_str(), &page, more)).await
    }

    pub(super) async fn presence(&mut self, id: ReqId, name: &str) -> Result<(), End> {
        let Some(topic) = self.readable(id, name).await? else { return Ok(()) };
        match self.node.count_bus(self.node.bus.presence_list(&topic).await) {
            Ok(list) => {
                let raw: Vec<Box<serde_json::value::RawValue>> = list
                    .iter()
                    .filter_map(|b| serde_json::from_slice::<Box<serde_json::value::RawValue>>(b).ok())
                    .collect();
                let clients = raw.iter().map(|r| r.as_ref()).collect();
                self.reply(ServerMsg::Presence { id, topic: topic.as_str(), clients }).await
            }
            Err(e) => self.unavailable(id, e).await,
        }
    }

    pub(super) async fn mark_read(&mut self, id: ReqId, name: &str, offset: u64) -> Result<(), End> {
        let Some(topic) = self.readable(id, name).await? else { return Ok(()) };
        if topic.kind() != TopicKind::Room {
            return self.error(Some(id), ErrorCode::BadTopic, "only rooms have unread counts").await;
        }
        let user = self.claims.sub.clone();
        let r = self.node.bus.add_member(&user, &topic).await;
        let r = match r {
            Ok(()) => self.node.bus.mark_read(&topic, &user, offset).await,
            Err(e) => Err(e),
        };
        match self.node.count_bus(r) {
            Ok(n) => self.reply(ServerMsg::Unread { id, counts: [(topic.as_str(), n)].into() }).await,
            Err(e) => self.unavailable(id, e).await,
        }
    }

    pub(super) async fn unread(&mut self, id: ReqId) -> Result<(), End> {
        match self.node.count_bus(self.node.bus.unread(&self.claims.sub).await) {
            Ok(list) => {
                let counts = list.iter().map(|(t, n)| (t.as_str(), *n)).collect();
                self.reply(ServerMsg::Unread { id, counts }).await
            }
            Err(e) => self.unavailable(id, e).await,
        }
    }

    /// Parses a topic name or answers `bad_topic`.
    async fn topic(&mut self, id: ReqId, name: &str) -> Result<Option<Topic>, End> {
        match Topic::parse(name) {
            Ok(t) => Ok(Some(t)),
            Err(e) => self.error(Some(id), ErrorCode::BadTopic, &e.to_string()).await.map(|()| None),
        }
    }

    /// Parses a topic the client may read, or answers the error.
    async fn readable(&mut self, id: ReqId, name: &str) -> Result<Option<Topic>, End> {
        let Some(topic) = self.topic(id, name).await? else { return Ok(None) };
        if !allowed(&self.claims, &topic, Action::Read, self.subs.contains_key(&topic)) {
            self.error(Some(id), ErrorCode::Forbidden, "your token does not allow this topic").await?;
            return Ok(None);
        }
        Ok(Some(topic))
    }

    pub(super) async fn leave(&mut self, topic: &Topic) {
        self.node.unsubscribe(topic, self.id).await;
        if topic.kind() == TopicKind::Room {
            self.node.presence_leave(topic, self.presence_key.clone()).await;
        }
    }
}

/// The presence entry of a session: `{"user":…,"name":…,"session":…}`.
fn presence_info(claims: &Claims, session: &str) -> Bytes {
    let v = serde_json::json!({ "user": claims.sub, "name": claims.name, "session": session });
    Bytes::from(v.to_string())
}
