//! [`WorkQueue`]: a Redis Stream read by a consumer group, at least once.
//! The one place that knows consumer-group commands: creating the group
//! (`BUSYGROUP` is success), reading new entries, re-reading this consumer's
//! own pending entries after a restart, taking over entries a dead consumer
//! left (`XAUTOCLAIM`), acknowledging, and moving an entry that can never be
//! processed to the stream's dead-letter stream. The chat queue and the
//! booking notifier are built on it.
//!
//! A read against a missing group (the stream was deleted, or Redis
//! restarted without persistence) creates the group and reads nothing this
//! time; a read that finds nothing — nil or an empty list, depending on the
//! command — is an empty batch, never an error.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::BusError;
use crate::handle::{Arg, RedisHandle, Reply};

/// Approximate length a dead-letter stream is trimmed to.
pub const DEAD_LETTER_MAXLEN: i64 = 10_000;

/// The cursor of [`WorkQueue::claim_idle_from`] at the start of the pending
/// list, and the one it returns when the scan is complete.
pub const CLAIM_START: &str = "0-0";

/// One entry of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    /// Its stream id.
    pub id: String,
    /// Its fields, in order.
    pub fields: Vec<(String, Bytes)>,
}

impl WorkItem {
    /// The text of field `name`, if present and UTF-8.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// A stream with one consumer group.
pub struct WorkQueue {
    handle: RedisHandle,
    /// Blocking reads run on their own connection, made on first use.
    reader: OnceCell<RedisHandle>,
    stream: String,
    group: String,
}

impl WorkQueue {
    /// The queue on `stream` read by `group` (created on first use).
    pub fn new(handle: RedisHandle, stream: impl Into<String>, group: impl Into<String>) -> WorkQueue {
        WorkQueue { handle, reader: OnceCell::new(), stream: stream.into(), group: group.into() }
    }

    /// The stream's key.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The key of the dead-letter stream: `<stream>:dead`.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}:dead", self.stream)
    }

    /// Creates the group at the start of the stream (and the stream) unless
    /// it exists.
    pub async fn ensure_group(&self) -> Result<(), BusError> {
        let args = vec![
            Arg::from("CREATE"),
            Arg::from(self.stream.as_str()),
            Arg::from(self.group.as_str()),
            Arg::from("0"),
            Arg::from("MKSTREAM"),
        ];
        match self.handle.cmd("XGROUP", args).await {
            Err(BusError::Redis(e)) if e.contains("BUSYGROUP") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Appends an entry; `maxlen` trims the stream approximately. Returns its id.
    pub async fn add(&self, fields: Vec<(&str, Arg)>, maxlen: Option<i64>) -> Result<String, BusError> {
        let mut args = vec![Arg::from(self.stream.as_str())];
        if let Some(n) = maxlen {
            args.extend([Arg::from("MAXLEN"), Arg::from("~"), Arg::from(n)]);
        }
        args.push(Arg::from("*"));
        for (k, v) in fields {
            args.push(Arg::from(k));
            args.push(v);
        }
        let id = self.handle.cmd("XADD", args).await?;
        id.to_text().ok_or_else(|| BusError::Protocol("XADD answered no id".into()))
    }

    /// Up to `count` entries never delivered to the group, waiting up to
    /// `block` for one (`None`: do not wait).
    pub async fn read_new(
        &self,
        consumer: &str,
        count: usize,
        block: Option<Duration>,
    ) -> Result<Vec<WorkItem>, BusError> {
        self.read(consumer, count, block, ">").await
    }

    /// Up to `count` entries delivered to `consumer` and not acknowledged
    /// (what it had read before it restarted).
    pub async fn read_own_pending(&self, consumer: &str, count: usize) -> Result<Vec<WorkItem>, BusError> {
        self.read(consumer, count, None, "0").await
    }

    async fn read(
        &self,
        consumer: &str,
        count: usize,
        block: Option<Duration>,
        from: &str,
    ) -> Result<Vec<WorkItem>, BusError> {
        let mut args =
            vec![Arg::from("GROUP"), Arg::from(self.group.as_str()), Arg::from(consumer), Arg::from("COUNT")];
        args.push(Arg::from(count as i64));
        if let Some(b) = block {
            args.extend([Arg::from("BLOCK"), Arg::from(b.as_millis() as i64)]);
        }
        args.extend([Arg::from("STREAMS"), Arg::from(self.stream.as_str()), Arg::from(from)]);
        let handle = match block {
            Some(_) => self.reader.get_or_try_init(|| self.handle.dedicated()).await?,
            None => &self.handle,
        };
        let reply = match handle.cmd("XREADGROUP", args).await {
            Err(BusError::Redis(e)) if e.contains("NOGROUP") => {
                self.ensure_group().await?;
                return Ok(Vec::new());
            }
            other => other?,
        };
        // [[stream, [[id, [field, value, ...]], ...]]], or nil when nothing came.
        let raw: Vec<Reply> = reply
            .into_array()
            .into_iter()
            .flat_map(|per_stream| per_stream.into_array().into_iter().nth(1).map(Reply::into_array))
            .flatten()
            .collect();
        let (items, gone) = split_items(raw);
        // Pending entries deleted from the stream meanwhile: nothing to do.
        for id in gone {
            self.ack(&id, false).await?;
        }
        Ok(items)
    }

    /// Takes over up to `count` entries another consumer has not touched for
    /// `idle` (it died, or stalled past `idle`), from the start of the
    /// pending list.
    pub async fn claim_idle(&self, consumer: &str, idle: Duration, count: usize) -> Result<Vec<WorkItem>, BusError> {
        Ok(self.claim_idle_from(consumer, idle, count, CLAIM_START).await?.0)
    }

    /// Like [`WorkQueue::claim_idle`], scanning the pending list from
    /// `cursor` ([`CLAIM_START`] for its start); also returns the cursor to
    /// go on from, [`CLAIM_START`] once the whole list was scanned. One call
    /// scans at most about ten times `count` pending entries, so finding
    /// every idle entry behind many live ones takes several calls.
    pub async fn claim_idle_from(
        &self,
        consumer: &str,
        idle: Duration,
        count: usize,
        cursor: &str,
    ) -> Result<(Vec<WorkItem>, String), BusError> {
        let args = vec![
            Arg::from(self.stream.as_str()),
            Arg::from(self.group.as_str()),
            Arg::from(consumer),
            Arg::from(idle.as_millis() as i64),
            Arg::from(cursor),
            Arg::from("COUNT"),
            Arg::from(count.max(1) as i64),
        ];
        let reply = match self.handle.cmd("XAUTOCLAIM", args).await {
            Err(BusError::Redis(e)) if e.contains("NOGROUP") => {
                self.ensure_group().await?;
                return Ok((Vec::new(), CLAIM_START.to_owned()));
            }
            other => other?,
        };
        // [next cursor, [[id, fields], ...], [deleted ids]]
        // (Redis 7 drops deleted entries from the pending list itself.)
        let mut parts = reply.into_array().into_iter();
        let next = parts.next().and_then(|c| c.to_text()).unwrap_or_else(|| CLAIM_START.to_owned());
        let raw = parts.next().map(Reply::into_array).unwrap_or_default();
        Ok((split_items(raw).0, next))
    }

    /// Resets the idle time of an entry `consumer` still works on.
    pub async fn touch(&self, consumer: &str, id: &str) -> Result<(), BusError> {
        let args = vec![
            Arg::from(self.stream.as_str()),
            Arg::from(self.group.as_str()),
            Arg::from(consumer),
            Arg::Int(0),
            Arg::from(id),
            Arg::from("JUSTID"),
        ];
        self.handle.cmd("XCLAIM", args).await.map(|_| ())
    }

    /// Acknowledges an entry; with `delete`, also removes it from the stream
    /// (a queue whose length is its depth).
    pub async fn ack(&self, id: &str, delete: bool) -> Result<(), BusError> {
        let args = vec![Arg::from(self.stream.as_str()), Arg::from(self.group.as_str()), Arg::from(id)];
        self.handle.cmd("XACK", args).await?;
        if delete {
            self.handle.cmd("XDEL", vec![Arg::from(self.stream.as_str()), Arg::from(id)]).await?;
        }
        Ok(())
    }

    /// Moves an entry that can never be processed to the dead-letter stream
    /// (its fields, plus `reason` and `from`, the original id), then
    /// acknowledges and deletes it.
    pub async fn dead_letter(&self, item: &WorkItem, reason: &str) -> Result<(), BusError> {
        let mut args = vec![
            Arg::from(self.dead_letter_stream()),
            Arg::from("MAXLEN"),
            Arg::from("~"),
            Arg::from(DEAD_LETTER_MAXLEN),
            Arg::from("*"),
        ];
        for (k, v) in &item.fields {
            args.push(Arg::from(k.as_str()));
            args.push(Arg::Data(v.clone()));
        }
        args.extend([Arg::from("reason"), Arg::from(reason), Arg::from("from"), Arg::from(item.id.as_str())]);
        self.handle.cmd("XADD", args).await?;
        self.ack(&item.id, true).await
    }

    /// Entries in the stream (waiting and in progress, when acknowledged
    /// entries are deleted).
    pub async fn backlog(&self) -> Result<u64, BusError> {
        Ok(self.handle.cmd("XLEN", vec![Arg::from(self.stream.as_str())]).await?.as_u64().unwrap_or(0))
    }

    /// Entries in the dead-letter stream.
    pub async fn dead_letters(&self) -> Result<u64, BusError> {
        Ok(self.handle.cmd("XLEN", vec![Arg::from(self.dead_letter_stream())]).await?.as_u64().unwrap_or(0))
    }
}

/// Items `[id, [field, value, ...]]`, and the ids whose fields are nil (an
/// entry deleted while pending). A malformed item is skipped.
fn split_items(raw: Vec<Reply>) -> (Vec<WorkItem>, Vec<String>) {
    let mut items = Vec::with_capacity(raw.len());
    let mut gone = Vec::new();
    for item in raw {
        let mut parts = item.into_array().into_iter();
        let (Some(id), Some(fields)) = (parts.next().and_then(|i| i.to_text()), parts.next()) else { continue };
        if fields.is_nil() {
            gone.push(id);
            continue;
        }
        let fields = fields
            .into_array()
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((k.to_text()?, v.as_bytes()?.clone())),
                _ => None,
            })
            .collect();
        items.push(WorkItem { id, fields });
    }
    (items, gone)
}
