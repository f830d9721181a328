//! The session's chat and voice frames: a typed message or a final voice
//! transcript is cleaned (`auth::text::message_text`, the rule display names
//! follow too), checked and queued for the bot (the answer comes on
//! `user:<id>`); voice partials only keep their revision order.

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

/// Utterances a session keeps track of at most (oldest forgotten first).
const MAX_UTTERANCES: usize = 32;

/// Voice transcripts in progress: per utterance, the highest revision seen
/// and whether it was cancelled.
#[derive(Default)]
pub(super) struct Voice {
    utterances: std::collections::VecDeque<(String, u64, bool)>,
}

impl Voice {
    fn entry(&mut self, utterance: &str) -> &mut (String, u64, bool) {
        match self.utterances.iter().position(|(u, _, _)| u == utterance) {
            Some(i) => &mut self.utterances[i],
            None => {
                if self.utterances.len() == MAX_UTTERANCES {
                    self.utterances.pop_front();
                }
                self.utterances.push_back((utterance.to_owned(), 0, false));
                let last = self.utterances.len() - 1;
                &mut self.utterances[last]
            }
        }
    }

    /// Records a partial; false when it is stale (not above the highest revision) or cancelled.
    fn partial(&mut self, utterance: &str, revision: u64) -> bool {
        let e = self.entry(utterance);
        if e.2 || (revision <= e.1 && e.1 != 0) {
            return false;
        }
        e.1 = revision;
        true
    }

    fn cancel(&mut self, utterance: &str) {
        self.entry(utterance).2 = true;
    }

    fn cancelled(&self, utterance: &str) -> bool {
        self.utterances.iter().any(|(u, _, c)| u == utterance && *c)
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
        if self.voice.as_ref().is_some_and(|v| v.cancelled(&utterance_id)) {
            return self.error(Some(id), ErrorCode::BadRequest, "this utterance was cancelled").await;
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
