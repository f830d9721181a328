//! The booking notifier: reads the notifications stream with a consumer group
//! and POSTs every event to a webhook (the SMS or mail gateway of a real
//! deployment), retrying with exponential backoff. At least once: an entry is
//! acknowledged only after the webhook answered 2xx, entries of a crashed
//! consumer are claimed by another after [`NotifierConfig::claim_idle`], so
//! the webhook must dedupe by the `Idempotency-Key` header.
//!
//! Without Redis, [`run_local_notifier`] does the same from the in-process
//! store's bounded queue ([`crate::SeatStore::local_notifications`]): one
//! event at a time, in order, retried until 2xx. At least once as far as one
//! process can: events still queued when the process stops are lost.
//!
//! The HTTP client is a deliberately tiny HTTP/1.1 POST over plain TCP
//! (`http://` only, no TLS, no redirects) to keep the dependency tree lean;
//! it must not grow into a general client.

use std::collections::HashMap;
use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::{ClientLike, StreamsInterface};
use fred::types::{ClusterHash, CustomCommand, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::redis::NOTIFY_STREAM_KEY;
use crate::types::{BookingEvent, BookingStatus};

/// Consumer group of the notifier on the notifications stream.
pub const NOTIFIER_GROUP: &str = "webhook";

/// Why the notifier could not start or a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// The webhook URL is not `http://host[:port][/path]`.
    #[error("webhook url must be http://host[:port][/path]: {0}")]
    BadUrl(String),
    /// Redis failed.
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
    /// The webhook could not be reached or answered badly.
    #[error("webhook: {0}")]
    Webhook(String),
}

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// `http://host[:port][/path]`.
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

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Webhook {
    host: String,
    port: u16,
    path: String,
}

impl Webhook {
    fn parse(url: &str) -> Result<Webhook, NotifierError> {
        let bad = || NotifierError::BadUrl(url.to_owned());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, 80),
        };
        let clean = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !clean(host) || !clean(path) {
            return Err(bad());
        }
        Ok(Webhook { host: host.to_owned(), port, path: path.to_owned() })
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
    let hook = Webhook::parse(&config.webhook_url)?;
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
    client: Client,
    config: NotifierConfig,
    shutdown: CancellationToken,
) -> Result<(), NotifierError> {
    let hook = Webhook::parse(&config.webhook_url)?;
    let mut backoff = config.min_backoff;
    // Entries this consumer read before a restart come first ("0"), then new ones (">").
    let mut cursor = "0";
    let mut group_ready = false;
    while !shutdown.is_cancelled() {
        let entries = match next_batch(&client, &config, &mut cursor, &mut group_ready).await {
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
        for (id, data) in entries {
            if !deliver_with_retry(&hook, &config, &data, &shutdown).await {
                return Ok(()); // cancelled; the entry stays pending for next time
            }
            if let Err(e) = client.xack::<Value, _, _, _>(NOTIFY_STREAM_KEY, NOTIFIER_GROUP, id.as_str()).await {
                // Not acknowledged: delivered again later, which at-least-once allows.
                tracing::warn!(error = %e, %id, "ack failed");
            }
        }
    }
    Ok(())
}

/// The next entries to deliver: this consumer's own pending ones after a
/// restart, then new ones, and when idle, entries stuck at a dead consumer.
async fn next_batch(
    client: &Client,
    config: &NotifierConfig,
    cursor: &mut &'static str,
    group_ready: &mut bool,
) -> Result<Vec<(String, String)>, NotifierError> {
    if !*group_ready {
        ensure_group(client).await?;
        *group_ready = true;
    }
    let mut entries = read(client, config, cursor).await?;
    if entries.is_empty() {
        if *cursor == "0" {
            *cursor = ">";
            entries = read(client, config, cursor).await?;
        }
        if entries.is_empty() {
            entries = claim(client, config).await?;
        }
    }
    Ok(entries)
}

async fn ensure_group(client: &Client) -> Result<(), NotifierError> {
    match client.xgroup_create::<Value, _, _, _>(NOTIFY_STREAM_KEY, NOTIFIER_GROUP, "0", true).await {
        Ok(_) => Ok(()),
        Err(e) if e.details().starts_with("BUSYGROUP") => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn read(client: &Client, config: &NotifierConfig, id: &str) -> Result<Vec<(String, String)>, NotifierError> {
    let reply: fred::types::streams::XReadResponse<String, String, String, String> = client
        .xreadgroup_map(
            NOTIFIER_GROUP,
            config.consumer.as_str(),
            Some(config.batch),
            None,
            false,
            NOTIFY_STREAM_KEY,
            id,
        )
        .await?;
    Ok(reply
        .into_values()
        .flatten()
        .map(|(id, mut fields): (String, HashMap<String, String>)| {
            let data = fields.remove("d").unwrap_or_default();
            (id, data)
        })
        .collect())
}

/// Takes over entries another consumer read but did not acknowledge in time.
async fn claim(client: &Client, config: &NotifierConfig) -> Result<Vec<(String, String)>, NotifierError> {
    let args: Vec<Value> = vec![
        NOTIFY_STREAM_KEY.into(),
        NOTIFIER_GROUP.into(),
        config.consumer.as_str().into(),
        (config.claim_idle.as_millis() as i64).into(),
        "0-0".into(),
        "COUNT".into(),
        (config.batch as i64).into(),
    ];
    let reply: Value =
        client.custom(CustomCommand::new_static("XAUTOCLAIM", ClusterHash::FirstKey, false), args).await?;
    // [next id, [[id, [field, value, ...]], ...], (Redis 7: [deleted ids])]
    let mut parts = reply.into_array().into_iter();
    let _next = parts.next();
    let mut out = Vec::new();
    for entry in parts.next().map(Value::into_array).unwrap_or_default() {
        let mut e = entry.into_array().into_iter();
        let (Some(id), Some(fields)) = (e.next(), e.next()) else { continue };
        let Some(id) = id.as_string() else { continue };
        let fields = fields.into_array();
        let data = fields
            .chunks(2)
            .find(|kv| kv.first().and_then(Value::as_str).is_some_and(|k| k == "d"))
            .and_then(|kv| kv.get(1).and_then(Value::as_string))
            .unwrap_or_default();
        out.push((id, data));
    }
    Ok(out)
}

/// Retries until the webhook accepts; returns false when cancelled first.
async fn deliver_with_retry(hook: &Webhook, config: &NotifierConfig, data: &str, shutdown: &CancellationToken) -> bool {
    // The webhook dedupes on this: one key per booking and event.
    let key = match serde_json::from_str::<BookingEvent>(data) {
        Ok(e) if e.event == BookingStatus::Confirmed => format!("{}:confirmed", e.booking.booking_id),
        Ok(e) => format!("{}:cancelled", e.booking.booking_id),
        Err(_) => String::new(),
    };
    let mut backoff = config.min_backoff;
    loop {
        if shutdown.is_cancelled() {
            return false;
        }
        match tokio::time::timeout(config.request_timeout, post(hook, &key, data)).await {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => tracing::warn!(error = %e, booking = %key, "webhook delivery failed; retrying"),
            Err(_) => tracing::warn!(booking = %key, "webhook timed out; retrying"),
        }
        sleep_or_cancel(shutdown, backoff).await;
        backoff = (backoff * 2).min(config.max_backoff);
    }
}

/// One HTTP/1.1 POST; Ok only for a 2xx status.
async fn post(hook: &Webhook, key: &str, body: &str) -> Result<(), NotifierError> {
    let err = |e: std::io::Error| NotifierError::Webhook(e.to_string());
    let mut stream = TcpStream::connect((hook.host.as_str(), hook.port)).await.map_err(err)?;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nIdempotency-Key: {}\r\nConnection: close\r\n\r\n{}",
        hook.path,
        hook.host,
        hook.port,
        body.len(),
        key,
        body
    );
    stream.write_all(request.as_bytes()).await.map_err(err)?;
    // The status line is all we need: "HTTP/1.1 200 OK".
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let read = stream.read(&mut head[n..]).await.map_err(err)?;
        if read == 0 {
            break;
        }
        n += read;
    }
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line.split(' ').nth(1).and_then(|s| s.get(..3)).and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(s) if (200..300).contains(&s) => Ok(()),
        Some(s) => Err(NotifierError::Webhook(format!("status {s}"))),
        None => Err(NotifierError::Webhook("no HTTP status line".into())),
    }
}

async fn sleep_or_cancel(shutdown: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_http_urls_only() {
        assert_eq!(
            Webhook::parse("http://127.0.0.1:9000/hooks/booking").unwrap(),
            Webhook { host: "127.0.0.1".into(), port: 9000, path: "/hooks/booking".into() }
        );
        assert_eq!(Webhook::parse("http://example.org").unwrap().port, 80);
        assert!(Webhook::parse("https://example.org").is_err());
        assert!(Webhook::parse("http://:x/").is_err());
        assert!(Webhook::parse("http://a b/").is_err());
    }
}
