//! The session's writer: queued publications and events to the socket in
//! batches, kept gap-free per topic (duplicates dropped, gaps repaired from
//! history or answered with `reset`), and the slow-consumer bound on every
//! write.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
use bus::Topic;
use tokio::sync::mpsc;

use super::{End, Session, SubState};
use crate::hub::Outbound;
use crate::node::Node;
use crate::wire::{self, ServerMsg, close};

/// Items written to the socket before one flush.
const WRITE_BATCH: usize = 64;
/// How long a close frame may take to go out.
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a slow consumer's close frame (4008) may wait. Its socket is
/// full, and the frame goes after what is already buffered there, so it is
/// written only once the client reads again. The session has already left
/// its topics by then (nothing more is queued), so waiting holds only the
/// socket and its bounded write buffer; a client that resumes reading within
/// this time still learns why it was closed, a later one sees the
/// connection end without a close frame.
pub(super) const SLOW_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

impl Session {
    /// Writes one queued item and whatever else is queued, then flushes once.
    pub(super) async fn write_batch(&mut self, first: Outbound, rx: &mut mpsc::Receiver<Outbound>) -> Result<(), End> {
        let mut item = Some(first);
        let mut n = 0;
        while let Some(it) = item.take() {
            if self.shared.slow.is_cancelled() {
                return Err(slow_consumer(&self.node));
            }
            let len = it.queued_bytes();
            self.write_outbound(it).await?;
            self.shared.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            n += 1;
            if n < WRITE_BATCH {
                item = rx.try_recv().ok();
            }
        }
        self.flush().await
    }

    async fn write_outbound(&mut self, item: Outbound) -> Result<(), End> {
        match item {
            Outbound::Pub(d) => {
                let Some(st) = self.subs.get(&d.topic) else { return Ok(()) };
                if st.epoch != d.epoch {
                    return self.repair(&d.topic, Some(d.offset)).await;
                }
                if d.offset <= st.offset {
                    return Ok(()); // already sent from history
                }
                if d.offset > st.offset + 1 {
                    self.repair(&d.topic, Some(d.offset - 1)).await?;
                }
                if let Some(st) = self.subs.get_mut(&d.topic)
                    && d.offset == st.offset + 1
                {
                    st.offset = d.offset;
                    self.feed(d.frame.clone()).await?;
                }
                Ok(())
            }
            Outbound::Event(event) => {
                let (topic, frame) = &*event;
                if self.subs.contains_key(topic) {
                    self.feed(frame.clone()).await?;
                }
                Ok(())
            }
            Outbound::Position(item) => {
                let (topic, pos) = &*item;
                let Some(st) = self.subs.get(topic) else { return Ok(()) };
                if st.epoch != pos.epoch || pos.offset > st.offset {
                    self.repair(topic, Some(pos.offset)).await?;
                }
                Ok(())
            }
        }
    }

    /// Sends what the client missed of `topic` up to `upto` from history, or,
    /// when history no longer has it (trimmed, or a new epoch), a `reset`.
    pub(super) async fn repair(&mut self, topic: &Topic, upto: Option<u64>) -> Result<(), End> {
        let Some(st) = self.subs.get(topic) else { return Ok(()) };
        let (epoch, from) = (st.epoch.clone(), st.offset);
        let want = upto.map_or(0, |u| u.saturating_sub(from)) as usize;
        let page = match self
            .node
            .count_bus(self.node.bus.history_after(topic, from, want.min(self.node.config.max_recover)).await)
        {
            Ok(p) => p,
            Err(e) => {
                // Cannot repair now; the next resync will try again.
                tracing::warn!(%topic, error = %e, "repair failed");
                return Ok(());
            }
        };
        let contiguous = page.position.epoch == epoch
            && page.entries.len() == want
            && page.entries.iter().enumerate().all(|(i, e)| e.offset == from + 1 + i as u64);
        if contiguous {
            for e in &page.entries {
                let frame = wire::pub_frame(topic.as_str(), e.offset, &e.data);
                self.feed(frame).await?;
            }
            if let Some(st) = self.subs.get_mut(topic) {
                st.offset = from + want as u64;
            }
        } else {
            let pos = page.position;
            let frame = ServerMsg::Reset { topic: topic.as_str(), epoch: &pos.epoch, offset: pos.offset }.encode();
            self.feed(frame).await?;
            self.subs.insert(topic.clone(), SubState { epoch: pos.epoch, offset: pos.offset });
        }
        Ok(())
    }

    pub(super) async fn reply(&mut self, msg: ServerMsg<'_>) -> Result<(), End> {
        let frame = msg.encode();
        self.send_now(frame).await
    }

    pub(super) async fn send_now(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        self.feed(frame).await?;
        self.flush().await
    }

    /// Writes a frame. A write blocked on a full socket gives way when the
    /// mailbox overflows, so a stalled client cannot pin its session.
    pub(super) async fn feed(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        use futures_util::SinkExt;
        self.node.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            r = self.socket.feed(Message::Text(frame)) => r.map_err(|_| End::Gone),
            _ = self.shared.slow.cancelled() => Err(slow_consumer(&self.node)),
        }
    }

    pub(super) async fn flush(&mut self) -> Result<(), End> {
        use futures_util::SinkExt;
        tokio::select! {
            r = self.socket.flush() => r.map_err(|_| End::Gone),
            _ = self.shared.slow.cancelled() => Err(slow_consumer(&self.node)),
        }
    }
}

/// Counts a slow consumer and says how to close it.
pub(super) fn slow_consumer(node: &Node) -> End {
    node.metrics.slow_disconnects.fetch_add(1, Ordering::Relaxed);
    End::Close(close::SLOW_CONSUMER, "slow consumer: outbound queue overflow")
}
