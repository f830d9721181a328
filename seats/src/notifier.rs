//! The booking notifier: reads the notifications stream with a consumer group
//! and POSTs every event to a webhook (the SMS or mail gateway of a real
//! deployment), retrying with exponential backoff. At least once: an entry is
//! acknowledged only after the webhook answered 2xx (the consumer-group
//! mechanics are `bus::WorkQueue`'s), entries of a crashed
//! consumer are claimed by another after [`NotifierConfig::claim_idle`], so
//! the webhook must dedupe by the `Idempotency-Key` header.
//!
//! Without Redis, [`run_local_notifier`] does the same from the in-process
//! store's bounded queue ([`crate::SeatStore::local_notifications`]): one
//! event at a time, in order, retried until 2xx. At least once as far as one
//! process can: events still queued when the process stops are lost.
//!
//! The HTTP(S) delivery itself, with its retries, is [`crate::webhook`].

use std::time::Duration;

use bus::{RedisHandle, WorkItem, WorkQueue};
use tokio_util::sync::CancellationToken;

use crate::redis::NOTIFY_STREAM_KEY;
use crate::webhook::{Webhook, deliver_with_retry};

/// Consumer group of the notifier on the notifications stream.
pub const NOTIFIER_GROUP: &str = "webhook";

/// Why the notifier could not start or a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// The webhook URL is not `http(s)://host[:port][/path]`.
    #[error("webhook url must be http(s)://host[:port][/path]: {0}")]
    BadUrl(String),
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] bus::BusError),
    /// The webhook could not be reached or answered badly.
    #[error("webhook: {0}")]
    Webhook(String),
}

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// `http(s)://host[:port][/path]`.
    pub webhook_url: String,
    /// This consumer's name in the group (stable per node, so a restarted
    /// node re-delivers what it had read but not acknowledged).
    pub consumer: String,
    /// Entries read per batch.
    pub batch: u64,
    /// Pause when the stream has nothing new.
    pub poll_interval: Duration,
    /// First retry delay; doubles per failure up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Time limit of one webhook request (connect, send, read the status).
    pub request_timeout: Duration,
    /// Entries pending this long in another consumer are taken over.
    pub claim_idle: Duration,
}

impl NotifierConfig {
    /// Defaults for `webhook_url` and `consumer`.
    pub fn new(webhook_url: impl Into<String>, consumer: impl Into<String>) -> NotifierConfig {
        NotifierConfig {
            webhook_url: webhook_url.into(),
            consumer: consumer.into(),
            batch: 32,
            poll_interval: Duration::from_millis(500),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            request_timeout: Duration::from_secs(5),
            claim_idle: Duration::from_secs(60),
        }
    }
}

/// Default bound of the in-process notification queue (events).
pub const LOCAL_QUEUE_CAPACITY: usize = 4096;

/// Delivers booking events from the in-process queue to the webhook until
/// `shutdown` or until the store is gone. Errors are logged and retried;
/// only a bad URL is returned, before anything runs.
pub async fn run_local_notifier(
    mut queue: tokio::sync::mpsc::Receiver<String>,
    config: NotifierConfig,
    shutdown: CancellationToken,
) -> Result<(), NotifierError> {
    let hook = Webhook::new(&config)?;
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            e = queue.recv() => e,
        };
        let Some(data) = event else { return Ok(()) };
        if !deliver_with_retry(&hook, &config, &data, &shutdown).await {
            return Ok(());
        }
    }
}

/// Delivers booking events from the notifications stream to the webhook
/// until `shutdown`. Errors are logged here and retried, never returned,
/// except a bad URL, which is reported before anything runs.
pub async fn run_notifier(
    redis: RedisHandle,
    config: NotifierConfig,
    shutdown: CancellationToken,
) -> Result<(), NotifierError> {
    let hook = Webhook::new(&config)?;
    let queue = WorkQueue::new(redis, NOTIFY_STREAM_KEY, NOTIFIER_GROUP);
    let mut backoff = config.min_backoff;
    // Entries this consumer read before a restart come first, then new ones.
    let mut own_pending_done = false;
    let mut group_ready = false;
    while !shutdown.is_cancelled() {
        let entries = match next_batch(&queue, &config, &mut own_pending_done, &mut group_ready).await {
            Ok(e) => {
                backoff = config.min_backoff;
                e
            }
            Err(e) => {
                tracing::warn!(error = %e, "notifier cannot read the stream; retrying");
                group_ready = false;
                sleep_or_cancel(&shutdown, backoff).await;
                backoff = (backoff * 2).min(config.max_backoff);
                continue;
            }
        };
        if entries.is_empty() {
            sleep_or_cancel(&shutdown, config.poll_interval).await;
            continue;
        }
        for item in entries {
            let Some(data) = item.field("d") else {
                // No event in it: no retry can deliver it.
                tracing::error!(id = %item.id, "notification entry without an event; dead-lettered");
                if let Err(e) = queue.dead_letter(&item, "no field d").await {
                    tracing::warn!(error = %e, id = %item.id, "dead-letter failed");
                }
                continue;
            };
            if !deliver_with_retry(&hook, &config, data, &shutdown).await {
                return Ok(()); // cancelled; the entry stays pending for next time
            }
            if let Err(e) = queue.ack(&item.id, false).await {
                // Not acknowledged: delivered again later, which at-least-once allows.
                tracing::warn!(error = %e, id = %item.id, "ack failed");
            }
        }
    }
    Ok(())
}

/// The next entries to deliver: this consumer's own pending ones after a
/// restart, then new ones, and when idle, entries stuck at a dead consumer.
async fn next_batch(
    queue: &WorkQueue,
    config: &NotifierConfig,
    own_pending_done: &mut bool,
    group_ready: &mut bool,
) -> Result<Vec<WorkItem>, NotifierError> {
    if !*group_ready {
        queue.ensure_group().await?;
        *group_ready = true;
    }
    let batch = config.batch as usize;
    let mut entries = Vec::new();
    if !*own_pending_done {
        entries = queue.read_own_pending(&config.consumer, batch).await?;
        *own_pending_done = entries.is_empty();
    }
    if entries.is_empty() {
        entries = queue.read_new(&config.consumer, batch, None).await?;
    }
    if entries.is_empty() {
        entries = queue.claim_idle(&config.consumer, config.claim_idle, batch).await?;
    }
    Ok(entries)
}

async fn sleep_or_cancel(shutdown: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}
