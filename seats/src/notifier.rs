//! The outbox worker: delivers the booking events the ledger's transactional
//! outbox holds (written in the transaction of the booking or cancellation
//! they announce), one row per event and channel:
//! - `live`: the event on topic `user:<id>`, so every device of the buyer
//!   sees the booking;
//! - `webhook`: a POST to the booking webhook (the SMS or mail gateway of a
//!   real deployment) with `Idempotency-Key: <booking>:<status>:webhook`;
//! - `email`: the confirmation or cancellation e-mailed over SMTP to the
//!   address the buyer's token carried ([`crate::mail`]), its `Message-Id`
//!   derived from `<booking>:<status>:email`.
//!
//! Workers run on every node and claim events with a time lease
//! ([`ledger::Ledger::claim_events`]), not a consumer name, so a node that
//! dies strands nothing whatever `NODE_ID` its replacement has. Each event is
//! tried on its own: a failure puts only that event back, due after its own
//! exponential backoff, and after [`OutboxConfig::max_attempts`] (or at once
//! for a permanent failure such as a 4xx) it is dead-lettered: kept in the
//! ledger with its last error, counted in /metrics, listed for operators.
//! At least once: receivers dedupe by the idempotency key.

use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::SeatStore;
use crate::mail::{EMAIL_CHANNEL, MailConfig, MailEvent, MailFailure, Mailer};
use crate::types::BookingEvent;
use crate::webhook::{Failure, Webhook};

/// The channel of the booking webhook.
pub const WEBHOOK_CHANNEL: &str = "webhook";

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// The webhook URL is not `http(s)://host[:port][/path]`.
    #[error("webhook url must be http(s)://host[:port][/path]: {0}")]
    BadUrl(String),
    /// The webhook client could not be built.
    #[error("webhook: {0}")]
    Webhook(String),
    /// The SMTP URL is not one of the forms the e-mail channel knows.
    #[error("SMTP_URL {0:?} must be smtp://host[:port], smtp://host[:port]?tls=required or smtps://host[:port]: {1}")]
    BadSmtpUrl(String, String),
    /// The sender or the CA file of the e-mail channel is unusable.
    #[error("e-mail: {0}")]
    Mail(String),
}

/// How the outbox is drained.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// `http(s)://host[:port][/path]` of the booking webhook; `None`: no
    /// webhook channel.
    pub webhook_url: Option<String>,
    /// The SMTP server and sender of the booking e-mail; `None`: no
    /// `email` channel.
    pub mail: Option<MailConfig>,
    /// Events claimed per round.
    pub batch: i64,
    /// How long a claim is this worker's alone: longer than one delivery
    /// can take, so an event is not delivered twice while it is tried.
    pub lease: Duration,
    /// The longest wait between rounds when nothing wakes the worker.
    pub poll_interval: Duration,
    /// First retry delay of a failed event; doubles per attempt up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Attempts before a failing event is dead-lettered.
    pub max_attempts: i64,
    /// Time limit of one webhook request or one e-mail's SMTP exchange.
    pub request_timeout: Duration,
}

impl OutboxConfig {
    /// Defaults, with the webhook at `webhook_url` if any.
    pub fn new(webhook_url: Option<String>) -> OutboxConfig {
        OutboxConfig {
            webhook_url,
            mail: None,
            batch: 32,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(300),
            max_attempts: 12,
            request_timeout: Duration::from_secs(5),
        }
    }

    /// The channels to queue events for besides `live`.
    pub fn channels(&self) -> Vec<&'static str> {
        let mut channels = Vec::new();
        if self.webhook_url.is_some() {
            channels.push(WEBHOOK_CHANNEL);
        }
        if self.mail.is_some() {
            channels.push(EMAIL_CHANNEL);
        }
        channels
    }

    /// The delay before attempt `attempts + 1` (jittered ±20 % so events that
    /// failed together do not retry together).
    pub fn backoff(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
        let base = self.min_backoff.saturating_mul(2u32.saturating_pow(exp)).min(self.max_backoff);
        base.mul_f64(0.8 + 0.4 * rand::random::<f64>())
    }
}

/// What one delivery attempt came to.
enum Outcome {
    Delivered,
    /// Worth trying again later.
    Retry(String),
    /// Retrying cannot help (a 4xx, an unreadable event, an unknown channel).
    Permanent(String),
}

/// Drains the outbox until `shutdown`. Errors of the database are logged
/// and retried; only a bad webhook URL or e-mail setting is returned, before
/// anything runs.
pub async fn run_outbox(
    store: SeatStore,
    config: OutboxConfig,
    shutdown: CancellationToken,
) -> Result<(), NotifierError> {
    let hook = match &config.webhook_url {
        Some(url) => Some(Webhook::new(url, config.request_timeout)?),
        None => None,
    };
    let mailer = match &config.mail {
        Some(mail) => Some(Mailer::new(mail, config.request_timeout)?),
        None => None,
    };
    let mut db_backoff = config.min_backoff;
    while !shutdown.is_cancelled() {
        let now = store.clock().now_ms();
        let lease = config.lease.as_millis() as i64;
        let events = match store.ledger().claim_events(now, lease, config.batch).await {
            Ok(e) => {
                db_backoff = config.min_backoff;
                e
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot claim events; retrying");
                sleep_or_cancel(&shutdown, db_backoff).await;
                db_backoff = (db_backoff * 2).min(config.max_backoff);
                continue;
            }
        };
        let full = events.len() as i64 == config.batch;
        for event in events {
            let outcome = deliver(&store, hook.as_ref(), mailer.as_ref(), &event).await;
            let now = store.clock().now_ms();
            let ledger = store.ledger();
            let stored = match outcome {
                Outcome::Delivered => {
                    crate::metrics::notification_delivered(&event.channel);
                    ledger.delivered(event.id, now).await
                }
                Outcome::Retry(why) if event.attempts < config.max_attempts => {
                    crate::metrics::notification_failed(&event.channel, "retry");
                    let due = now + config.backoff(event.attempts).as_millis() as i64;
                    tracing::warn!(key = %event.key, attempt = event.attempts, error = %why, "delivery failed; retrying later");
                    ledger.retry_at(event.id, due, &why).await
                }
                Outcome::Retry(why) | Outcome::Permanent(why) => {
                    crate::metrics::notification_failed(&event.channel, "dead_letter");
                    tracing::error!(key = %event.key, attempts = event.attempts, error = %why, "delivery given up; dead-lettered");
                    ledger.dead_letter(event.id, now, &why).await
                }
            };
            if let Err(e) = stored {
                // The lease runs out and the event is tried again: at least once.
                tracing::warn!(key = %event.key, error = %e, "outbox: could not record the outcome");
            }
        }
        if !full {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = store.outbox_kicked() => {}
                _ = tokio::time::sleep(config.poll_interval) => {}
            }
        }
    }
    Ok(())
}

async fn deliver(
    store: &SeatStore,
    hook: Option<&Webhook>,
    mailer: Option<&Mailer>,
    event: &ledger::OutboxEvent,
) -> Outcome {
    match event.channel.as_str() {
        crate::LIVE_CHANNEL => {
            let parsed: Result<BookingEvent, _> = serde_json::from_str(&event.payload);
            let Ok(parsed) = parsed else { return Outcome::Permanent("unreadable booking event".into()) };
            let Ok(topic) = bus::Topic::new(bus::TopicKind::User, &parsed.booking.user) else {
                return Outcome::Permanent("user id is not a topic id".into());
            };
            match store.publish(&topic, Bytes::from(event.payload.clone())).await {
                Ok(()) => Outcome::Delivered,
                Err(e) => Outcome::Retry(e.to_string()),
            }
        }
        WEBHOOK_CHANNEL => {
            let Some(hook) = hook else { return Outcome::Retry("no webhook configured on this node".into()) };
            match hook.post(&event.key, &event.payload).await {
                Ok(()) => Outcome::Delivered,
                Err(f @ Failure::Status(code)) if (400..500).contains(&code) && code != 408 && code != 429 => {
                    Outcome::Permanent(f.to_string())
                }
                Err(f) => Outcome::Retry(f.to_string()),
            }
        }
        EMAIL_CHANNEL => {
            let Some(mailer) = mailer else { return Outcome::Retry("no SMTP server configured on this node".into()) };
            let parsed: Result<MailEvent, _> = serde_json::from_str(&event.payload);
            let Ok(parsed) = parsed else { return Outcome::Permanent("unreadable e-mail event".into()) };
            match mailer.send(&event.key, &parsed, &store.schedule()).await {
                Ok(()) => Outcome::Delivered,
                Err(MailFailure::Permanent(why)) => Outcome::Permanent(why),
                Err(MailFailure::Transient(why)) => Outcome::Retry(why),
            }
        }
        other => Outcome::Permanent(format!("unknown channel {other:?}")),
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
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let c = OutboxConfig::new(None);
        let first = c.backoff(1);
        assert!(first >= Duration::from_millis(160) && first <= Duration::from_millis(240), "{first:?}");
        let third = c.backoff(3);
        assert!(third >= Duration::from_millis(640) && third <= Duration::from_millis(960), "{third:?}");
        assert!(c.backoff(40) <= Duration::from_secs(360));
        assert!(c.channels().is_empty());
        assert_eq!(OutboxConfig::new(Some("http://x".into())).channels(), [WEBHOOK_CHANNEL]);
        let mut c = OutboxConfig::new(None);
        c.mail = Some(MailConfig { smtp_url: "smtp://127.0.0.1:25".into(), from: "a@b.test".into(), ca_file: None });
        assert_eq!(c.channels(), [EMAIL_CHANNEL]);
    }
}
