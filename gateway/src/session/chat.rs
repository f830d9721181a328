//! The session's chat and voice frames: a typed message or a final voice
//! transcript is cleaned (`auth::text::message_text`, the rule display names
//! follow too), checked and queued for the bot (the answer comes on
//! `user:<id>`); voice partials only keep their revision order; a cancelled
//! utterance is never finalised on this connection.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::Ordering;

use super::{End, Session};
use crate::auth::text;
use crate::chat;
use crate::wire::{self, ErrorCode, ReqId, ServerMsg};

/// A chat message as a session received it.
pub(super) struct ChatIn {
    pub(super) message_id: String,
    pub(super) conversation: String,
    pub(super) text: String,
    pub(super) locale: Option<wire::Locale>,
    pub(super) context: wire::ChatContext,
}

/// Utterances whose partial revisions a session follows at most (oldest
/// forgotten first: a forgotten one only loses the order of its partials,
/// which are never acted on).
const MAX_UTTERANCES: usize = 32;

/// Cancelled utterances a session remembers at most. A cancel is never
/// forgotten: once this many are remembered, the connection refuses every
/// later `voice_final` (the client reconnects to start afresh). 8 bytes
/// each, about 72 KiB with the set's overhead at the bound, and only for a
/// client that cancels that much.
const MAX_CANCELLED: usize = 4096;

/// Voice transcripts in progress: per utterance, the highest revision seen
/// (the newest [`MAX_UTTERANCES`]), and every utterance cancelled on this
/// connection (up to [`MAX_CANCELLED`]). Utterances are kept as keyed 64-bit
/// hashes of their ids (the key is random per session, so no client can
/// choose colliding ids).
#[derive(Default)]
pub(super) struct Voice {
    keys: RandomState,
    revisions: VecDeque<(u64, u64)>,
    cancelled: HashSet<u64>,
    /// A cancel arrived with [`MAX_CANCELLED`] already remembered.
    full: bool,
}

/// Why a `voice_final` is refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// This utterance was cancelled.
    Cancelled,
    /// More than [`MAX_CANCELLED`] cancels on this connection.
    TooManyCancels,
}

impl Voice {
    fn key(&self, utterance: &str) -> u64 {
        self.keys.hash_one(utterance)
    }

    /// Records a partial; false when it is stale (not above the highest revision) or cancelled.
    fn partial(&mut self, utterance: &str, revision: u64) -> bool {
        let key = self.key(utterance);
        if self.cancelled.contains(&key) {
            return false;
        }
        match self.revisions.iter_mut().find(|(k, _)| *k == key) {
            Some((_, seen)) if revision <= *seen && *seen != 0 => false,
            Some((_, seen)) => {
                *seen = revision;
                true
            }
            None => {
                if self.revisions.len() == MAX_UTTERANCES {
                    self.revisions.pop_front();
                }
                self.revisions.push_back((key, revision));
                true
            }
        }
    }

    fn cancel(&mut self, utterance: &str) {
        let key = self.key(utterance);
        self.revisions.retain(|(k, _)| *k != key);
        if self.cancelled.len() < MAX_CANCELLED {
            self.cancelled.insert(key);
        } else if !self.cancelled.contains(&key) {
            self.full = true;
        }
    }

    /// Whether a final for `utterance` may be acted on.
    fn may_finalise(&self, utterance: &str) -> Result<(), Refused> {
        if self.cancelled.contains(&self.key(utterance)) {
            Err(Refused::Cancelled)
        } else if self.full {
            Err(Refused::TooManyCancels)
        } else {
            Ok(())
        }
    }
}

impl Session {
    /// Queues a chat message for the bot; the answer comes on `user:<id>`.
    pub(super) async fn chat(&mut self, id: ReqId, mut msg: ChatIn, voice: bool) -> Result<(), End> {
        // Cleaned before any check, so what is checked, queued, answered and
        // echoed is the same text.
        msg.text = text::message_text(&msg.text);
        let ids_ok = msg.message_id.len() <= chat::MAX_ID_LEN + "voice:".len()
            && (voice || chat::valid_id(&msg.message_id))
            && chat::valid_id(&msg.conversation);
        if !ids_ok {
            return self
                .error(Some(id), ErrorCode::BadRequest, "`message_id` and `conversation`: 1-64 of A-Z a-z 0-9 _ . : -")
                .await;
        }
        if let Some(problem) = chat::text_problem(&msg.text) {
            return self.error(Some(id), ErrorCode::BadRequest, problem).await;
        }
        if !self.chat_bucket.take() {
            return self.error(Some(id), ErrorCode::RateLimited, "chatting too fast; wait a moment").await;
        }
        let req = chat::queue::Request {
            user: self.claims.sub.clone(),
            message_id: msg.message_id,
            conversation: msg.conversation,
            text: msg.text,
            locale: msg.locale,
            context: msg.context,
            voice,
            accepted_at: self.node.seats.clock().now_ms(),
        };
        let echo = chat::events::encode(
            &req.message_id,
            &req.conversation,
            chat::events::Event::Message { text: &req.text, voice },
        );
        match self.node.chat.accept(&req, echo).await {
            Ok(accepted) => {
                let (position, duplicate) = match accepted {
                    chat::queue::Accepted::Queued(p) => {
                        self.node.metrics.chats_accepted.fetch_add(1, Ordering::Relaxed);
                        (p, false)
                    }
                    chat::queue::Accepted::Duplicate => (0, true),
                };
                self.reply(ServerMsg::ChatAccepted { id, message_id: &req.message_id, position, duplicate }).await
            }
            Err(chat::queue::ChatError::Overloaded) => {
                self.error(Some(id), ErrorCode::Overloaded, "the bot has too many questions waiting; try again soon")
                    .await
            }
            Err(chat::queue::ChatError::Bus(e)) => self.unavailable(id, e).await,
        }
    }

    pub(super) async fn voice_partial(
        &mut self,
        utterance_id: String,
        revision: u64,
        conversation: String,
        text: String,
    ) -> Result<(), End> {
        if !chat::valid_id(&utterance_id) || !chat::valid_id(&conversation) {
            return self
                .error(None, ErrorCode::BadRequest, "`utterance_id` and `conversation`: 1-64 of A-Z a-z 0-9 _ . : -")
                .await;
        }
        if text.chars().count() > chat::MAX_TEXT_CHARS {
            return self.error(None, ErrorCode::BadRequest, "`text` is longer than 2000 characters").await;
        }
        // Shown by the client, never acted on: only the revision order is kept.
        let fresh = self.voice.get_or_insert_with(Box::default).partial(&utterance_id, revision);
        tracing::trace!(%utterance_id, revision, fresh, "voice partial");
        Ok(())
    }

    pub(super) async fn voice_final(
        &mut self,
        id: ReqId,
        utterance_id: String,
        conversation: String,
        text: String,
        locale: Option<wire::Locale>,
        context: Option<wire::ChatContext>,
    ) -> Result<(), End> {
        if !chat::valid_id(&utterance_id) {
            return self.error(Some(id), ErrorCode::BadRequest, "`utterance_id`: 1-64 of A-Z a-z 0-9 _ . : -").await;
        }
        match self.voice.as_ref().map_or(Ok(()), |v| v.may_finalise(&utterance_id)) {
            Ok(()) => {}
            Err(Refused::Cancelled) => {
                return self.error(Some(id), ErrorCode::BadRequest, "this utterance was cancelled").await;
            }
            Err(Refused::TooManyCancels) => {
                let why = "too many cancelled utterances on this connection; reconnect";
                return self.error(Some(id), ErrorCode::BadRequest, why).await;
            }
        }
        let msg = ChatIn {
            message_id: format!("voice:{utterance_id}"),
            conversation,
            text,
            locale,
            context: context.unwrap_or_default(),
        };
        self.chat(id, msg, true).await
    }

    pub(super) fn voice_cancel(&mut self, utterance_id: String) -> Result<(), End> {
        if chat::valid_id(&utterance_id) {
            self.voice.get_or_insert_with(Box::default).cancel(&utterance_id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_is_never_forgotten_and_memory_stays_bounded() {
        let mut v = Voice::default();
        v.cancel("early");
        assert!(!v.partial("early", 5), "a cancelled utterance takes no partials");
        for i in 0..10 * MAX_UTTERANCES {
            assert!(v.partial(&format!("u{i}"), 1));
        }
        assert_eq!(v.revisions.len(), MAX_UTTERANCES, "revisions are bounded");
        assert_eq!(v.may_finalise("early"), Err(Refused::Cancelled));
        assert_eq!(v.may_finalise("u3"), Ok(()));
        // Cancels of ids never seen (future ones) fill a bounded set; past it
        // the connection takes no finals rather than forgetting a cancel.
        for i in 0..MAX_CANCELLED + 100 {
            v.cancel(&format!("future-{i}"));
        }
        assert_eq!(v.cancelled.len(), MAX_CANCELLED);
        assert_eq!(v.may_finalise("early"), Err(Refused::Cancelled));
        assert_eq!(v.may_finalise("future-1"), Err(Refused::Cancelled));
        assert_eq!(v.may_finalise("fresh"), Err(Refused::TooManyCancels));
        assert_eq!(v.may_finalise(&format!("future-{}", MAX_CANCELLED + 50)), Err(Refused::TooManyCancels));
    }

    #[test]
    fn partials_keep_their_revision_order() {
        let mut v = Voice::default();
        assert!(v.partial("u", 1));
        assert!(v.partial("u", 3));
        assert!(!v.partial("u", 2), "stale");
        assert!(!v.partial("u", 3), "not above");
        assert!(v.partial("u", 4));
    }
}
