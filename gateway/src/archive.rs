//! Room history past the bus's bound: the archive writer that copies every
//! `room:<id>` publication from the bus's bounded history into the ledger
//! (`room_messages`), and the reads that extend a `history` page with what
//! only the archive still holds. See docs/design/history.md.
//!
//! The writer is never on the delivery path: a publish only marks its room
//! in a bounded set ([`Archive::note`], a brief std mutex, no await), and the
//! writer, a task of its own, follows each marked room's history from the
//! highest offset the ledger holds for the room's epoch (its resumable
//! position, shared by every node) and writes what is new. Rows are keyed by
//! (topic, epoch, offset), so two nodes writing one room, or a rewrite after
//! a restart, keep one row each. A database that is slow or down delays only
//! the writer, which retries with backoff; the bus's history is its queue,
//! bounded by `HISTORY_SIZE`/`HISTORY_BYTES` per room.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Bus, BusError, Entry, HistoryPage, Topic, TopicKind};
use bytes::Bytes;
use ledger::{Ledger, LedgerError, RoomMessage};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Most rooms waiting for the writer. Past it a room's notice is dropped
/// (counted in `marquee_archive_dropped_notices_total`): the room is written
/// at its next notice (publish, subscribe or history read on any node), from
/// where the archive stopped, as long as the bus still holds it.
pub const MAX_PENDING_ROOMS: usize = 10_000;
/// Publications read from the bus (and written in one transaction) per step.
pub const ARCHIVE_BATCH: usize = 200;
/// Steps one room gets per pass before it goes to the back of the queue, so
/// one busy room cannot starve the others.
pub const STEPS_PER_PASS: usize = 10;
/// First wait after a failed pass (database or bus unreachable); doubles up
/// to [`RETRY_MAX`].
pub const RETRY_MIN: Duration = Duration::from_millis(100);
/// Longest wait between attempts while the database stays unreachable.
pub const RETRY_MAX: Duration = Duration::from_secs(5);
/// Longest one room's step may take (bus reads and the ledger's
/// transaction). A call that hangs (a connection to a database host that
/// died mid-query) fails the pass instead of stalling the writer: the room
/// is noted again and retried with backoff, on a fresh connection.
pub const ROOM_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the writer goes on writing after the node's sessions have
/// closed (the in-process bus's history dies with the process).
pub const FINAL_FLUSH: Duration = Duration::from_secs(3);
/// How long a `history` request waits for the archive before it answers
/// with what the bus holds (a session's task must not hang on a stalled
/// database: its live publications wait meanwhile).
pub const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// The node's archive writer handle. Cheap to clone.
#[derive(Clone)]
pub struct Archive {
    inner: Arc<Inner>,
}

struct Inner {
    pending: Mutex<Pending>,
    wake: Notify,
    metrics: Arc<Metrics>,
}

/// Rooms to write, each once, oldest notice first.
#[derive(Default)]
struct Pending {
    set: HashSet<Topic>,
    order: VecDeque<Topic>,
}

/// Why writing a room stopped.
#[derive(Debug, thiserror::Error)]
enum ArchiveError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("writing a room took longer than {0:?}")]
    Timeout(Duration),
}

/// How far one pass over a room got.
enum Progress {
    /// Everything the bus held is archived.
    Done,
    /// More to write: the room goes to the back of the queue.
    More,
}

impl Archive {
    /// A writer handle with nothing pending; [`Archive::run`] does the writing.
    pub fn new(metrics: Arc<Metrics>) -> Archive {
        Archive { inner: Arc::new(Inner { pending: Mutex::new(Pending::default()), wake: Notify::new(), metrics }) }
    }

    /// Marks `topic` as having publications to archive, if it is a room
    /// (seat maps and user topics are not archived). Never blocks.
    pub fn note(&self, topic: &Topic) {
        if topic.kind() != TopicKind::Room {
            return;
        }
        let added = {
            let mut p = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            if p.set.contains(topic) {
                return;
            }
            if p.set.len() >= MAX_PENDING_ROOMS {
                false
            } else {
                p.set.insert(topic.clone());
                p.order.push_back(topic.clone());
                self.inner.metrics.archive_pending_rooms.store(p.set.len() as i64, Relaxed);
                true
            }
        };
        if added {
            self.inner.wake.notify_one();
        } else {
            self.inner.metrics.archive_dropped_notices.fetch_add(1, Relaxed);
        }
    }

    /// Rooms waiting for the writer now.
    pub fn pending(&self) -> usize {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner()).set.len()
    }

    fn take(&self) -> Vec<Topic> {
        let mut p = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.set.clear();
        self.inner.metrics.archive_pending_rooms.store(0, Relaxed);
        p.order.drain(..).collect()
    }

    /// Writes noted rooms until `stop` is cancelled (after the node's
    /// sessions have closed), then for at most [`FINAL_FLUSH`] more.
    pub async fn run(self, bus: Bus, ledger: Ledger, stop: CancellationToken) {
        let mut backoff = RETRY_MIN;
        let mut failing = false;
        loop {
            if self.pending() == 0 {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = self.inner.wake.notified() => {}
                }
            }
            match self.pass(&bus, &ledger).await {
                Ok(()) => {
                    if failing {
                        tracing::info!("archive writer reaches the database again; catching up");
                    }
                    failing = false;
                    backoff = RETRY_MIN;
                }
                Err(e) => {
                    self.inner.metrics.archive_errors.fetch_add(1, Relaxed);
                    if !failing {
                        tracing::warn!(error = %e, "archive writer cannot write; retrying with backoff");
                    }
                    failing = true;
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        }
        let flush = async {
            while self.pending() > 0 {
                if self.pass(&bus, &ledger).await.is_err() {
                    tokio::time::sleep(RETRY_MIN).await;
                }
            }
        };
        if tokio::time::timeout(FINAL_FLUSH, flush).await.is_err() {
            tracing::warn!(rooms = self.pending(), "archive writer stopped with rooms left to write");
        }
    }

    /// One pass over the rooms noted so far. On the first failure the rest
    /// are noted again (the database is likely down for all of them).
    async fn pass(&self, bus: &Bus, ledger: &Ledger) -> Result<(), ArchiveError> {
        let rooms = self.take();
        let mut rooms = rooms.into_iter();
        while let Some(topic) = rooms.next() {
            let step = tokio::time::timeout(ROOM_TIMEOUT, self.write_room(bus, ledger, &topic)).await;
            match step.unwrap_or(Err(ArchiveError::Timeout(ROOM_TIMEOUT))) {
                Ok(Progress::Done) => {}
                Ok(Progress::More) => self.note(&topic),
                Err(e) => {
                    self.note(&topic);
                    rooms.for_each(|t| self.note(&t));
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Archives what the bus holds of `topic` beyond the archive's top, for
    /// up to [`STEPS_PER_PASS`] batches.
    async fn write_room(&self, bus: &Bus, ledger: &Ledger, topic: &Topic) -> Result<Progress, ArchiveError> {
        let head = bus.history_after(topic, 0, 0).await?;
        let epoch = head.position.epoch;
        let mut top = head.position.offset;
        let mut done = ledger.last_archived(topic.as_str(), &epoch).await?;
        for _ in 0..STEPS_PER_PASS {
            if done >= top {
                return Ok(Progress::Done);
            }
            let page = bus.history_after(topic, done, ARCHIVE_BATCH).await?;
            if page.position.epoch != epoch {
                // The bus lost the room's history meanwhile: start over in
                // the new epoch.
                return Ok(Progress::More);
            }
            top = page.position.offset;
            let (Some(first), Some(last)) = (page.entries.first(), page.entries.last()) else {
                return Ok(Progress::Done);
            };
            if first.offset > done + 1 {
                let lost = first.offset - done - 1;
                self.inner.metrics.archive_lost.fetch_add(lost, Relaxed);
                tracing::warn!(%topic, lost, "publications left the bus's history before they were archived");
            }
            let last = last.offset;
            let rows: Vec<(u64, Cow<'_, str>)> =
                page.entries.iter().map(|e| (e.offset, String::from_utf8_lossy(&e.data))).collect();
            let rows: Vec<(u64, &str)> = rows.iter().map(|(o, p)| (*o, p.as_ref())).collect();
            let added = ledger.archive_messages(topic.as_str(), &epoch, &rows, now_ms()).await?;
            self.inner.metrics.archive_messages.fetch_add(added, Relaxed);
            done = last;
        }
        Ok(if done >= top { Progress::Done } else { Progress::More })
    }
}

/// Extends a page read with [`Bus::history_before`] (newest first) with
/// archived publications of the same epoch older than both the page's
/// oldest entry and the bus's oldest kept one, up to `limit` entries in all.
/// Returns whether older publications exist beyond the page (`more`).
/// `before` is the request's bound (`None` or 0: from the newest).
///
/// # Errors
/// Only when the archive is unreachable and the bus had nothing for the
/// page; with something from the bus, the page is that, and `more` is true
/// (asking for the next page then fails until the archive is back).
pub async fn older(
    ledger: &Ledger,
    topic: &Topic,
    page: &mut HistoryPage,
    before: Option<u64>,
    limit: usize,
) -> Result<bool, LedgerError> {
    let bound = before.filter(|b| *b > 0).unwrap_or(page.position.offset.saturating_add(1));
    let low = page.entries.last().map_or(bound.min(page.first_available), |e| e.offset);
    if low <= 1 {
        return Ok(false);
    }
    let (topic, epoch) = (topic.as_str(), page.position.epoch.clone());
    if page.entries.len() >= limit {
        // The page is full; only say whether another one exists.
        if low > page.first_available {
            return Ok(true);
        }
        // Unreachable archive: say yes; asking for the next page tells.
        let rows = read(ledger.messages_before(topic, &epoch, low, 1)).await;
        return Ok(!matches!(rows, Ok(r) if r.is_empty()));
    }
    let need = limit - page.entries.len();
    match read(ledger.messages_before(topic, &epoch, low, need + 1)).await {
        Ok(rows) => {
            let more = rows.len() > need;
            page.entries.extend(rows.into_iter().take(need).map(entry));
            Ok(more)
        }
        Err(_) if !page.entries.is_empty() => Ok(true),
        Err(e) => Err(e),
    }
}

/// Puts archived publications of the same epoch above `after` and below the
/// bus's oldest kept one in front of a page read with
/// [`Bus::history_after`] (oldest first), keeping at most `limit` entries.
/// Returns whether newer publications exist beyond the page (`more`). When
/// the archive is unreachable the page stays what the bus holds (its
/// `first` tells the client what is missing).
pub async fn newer(ledger: &Ledger, topic: &Topic, page: &mut HistoryPage, after: u64, limit: usize) -> bool {
    if after.saturating_add(1) < page.first_available && limit > 0 {
        let read_archive =
            ledger.messages_after(topic.as_str(), &page.position.epoch, after, page.first_available, limit);
        if let Ok(rows) = read(read_archive).await {
            let mut entries: Vec<Entry> = rows.into_iter().map(entry).collect();
            entries.append(&mut page.entries);
            entries.truncate(limit);
            page.entries = entries;
        }
    }
    page.entries.last().is_some_and(|e| e.offset < page.position.offset)
}

/// Whether a page read from the bus alone has more in its direction.
pub fn bus_more(page: &HistoryPage, backwards: bool) -> bool {
    match (backwards, page.entries.last()) {
        (true, Some(e)) => e.offset > page.first_available,
        (false, Some(e)) => e.offset < page.position.offset,
        (_, None) => false,
    }
}

/// A ledger read under [`READ_TIMEOUT`].
async fn read<T>(f: impl Future<Output = Result<T, LedgerError>>) -> Result<T, LedgerError> {
    match tokio::time::timeout(READ_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(LedgerError::Unavailable("archive read timed out".to_owned())),
    }
}

fn entry(m: RoomMessage) -> Entry {
    Entry { offset: m.offset, data: Bytes::from(m.payload) }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rooms_are_noted_once_each_and_the_set_is_bounded() {
        let metrics = Arc::new(Metrics::default());
        let archive = Archive::new(metrics.clone());
        for name in ["showtime:st1", "user:alice"] {
            archive.note(&Topic::parse(name).expect("valid"));
        }
        assert_eq!(archive.pending(), 0, "seat maps and user topics are not archived");
        let room = Topic::parse("room:a").expect("valid");
        archive.note(&room);
        archive.note(&room);
        assert_eq!(archive.pending(), 1, "a room waits once however often it is noted");
        for i in 0..MAX_PENDING_ROOMS + 5 {
            archive.note(&Topic::parse(&format!("room:r{i}")).expect("valid"));
        }
        assert_eq!(archive.pending(), MAX_PENDING_ROOMS);
        assert_eq!(metrics.archive_dropped_notices.load(Relaxed), 6, "past the bound a notice is dropped and counted");
        assert_eq!(metrics.archive_pending_rooms.load(Relaxed), MAX_PENDING_ROOMS as i64);
        let taken = archive.take();
        assert_eq!((taken.len(), &taken[0]), (MAX_PENDING_ROOMS, &room), "oldest notice first");
        assert_eq!(archive.pending(), 0);
    }
}
