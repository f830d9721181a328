//! Delivery of one booking event to the booking webhook over HTTP or HTTPS
//! (reqwest with rustls), retried with exponential backoff until the webhook
//! answers 2xx or the notifier is cancelled. Both notifiers (stream and
//! in-process queue, in [`crate::notifier`]) deliver through here; this
//! module knows nothing of where the events come from.
//!
//! Every request carries `Idempotency-Key: <booking id>:<event>`, so the
//! webhook can dedupe the redeliveries that at-least-once delivery makes.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio_util::sync::CancellationToken;

use crate::notifier::{NotifierConfig, NotifierError};
use crate::types::{BookingEvent, BookingStatus};

/// The header the webhook dedupes on.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// A webhook endpoint and the HTTP client that reaches it.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    request_timeout: Duration,
}

impl Webhook {
    /// Checks the URL (`http://` or `https://` with a host) and builds the
    /// client. Redirects are not followed: a webhook that moved is a
    /// configuration error, not something to chase with a booking in hand.
    pub(crate) fn new(config: &NotifierConfig) -> Result<Webhook, NotifierError> {
        let bad = || NotifierError::BadUrl(config.webhook_url.clone());
        let url = reqwest::Url::parse(&config.webhook_url).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(bad());
        }
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(config.request_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Header names as written here ("Idempotency-Key"), not lower-cased:
            // some webhook receivers match them case-sensitively.
            .http1_title_case_headers()
            .build()
            .map_err(|e| NotifierError::Webhook(e.to_string()))?;
        Ok(Webhook { client, url, request_timeout: config.request_timeout })
    }

    /// One POST; Ok only for a 2xx status.
    async fn post(&self, key: &str, body: &str) -> Result<(), Failure> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.to_owned());
        if !key.is_empty() {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        let response = request.send().await.map_err(Failure::from)?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(Failure::Status(status.as_u16())) }
    }
}

/// Why one attempt failed (a bounded set: it is a metric label).
#[derive(Debug)]
enum Failure {
    /// No answer within the request timeout.
    Timeout,
    /// The connection failed or broke.
    Transport(String),
    /// The webhook answered, but not 2xx.
    Status(u16),
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Failure {
        if e.is_timeout() { Failure::Timeout } else { Failure::Transport(e.to_string()) }
    }
}

impl Failure {
    /// The metric label of this failure.
    fn reason(&self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Transport(_) => "transport",
            Failure::Status(_) => "status",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout => f.write_str("timed out"),
            Failure::Transport(e) => f.write_str(e),
            Failure::Status(s) => write!(f, "status {s}"),
        }
    }
}

/// rustls needs one process-wide crypto provider; `ring` is the one compiled
/// in. Installing fails harmlessly when another part of the process (or an
/// earlier webhook) already installed one.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The idempotency key of a booking event: one per booking and event.
fn idempotency_key(data: &str) -> String {
    match serde_json::from_str::<BookingEvent>(data) {
        Ok(e) if e.event == BookingStatus::Confirmed => format!("{}:confirmed", e.booking.booking_id),
        Ok(e) => format!("{}:cancelled", e.booking.booking_id),
        Err(_) => String::new(),
    }
}

/// Retries until the webhook accepts; returns false when cancelled first.
pub(crate) async fn deliver_with_retry(
    hook: &Webhook,
    config: &NotifierConfig,
    data: &str,
    shutdown: &CancellationToken,
) -> bool {
    let key = idempotency_key(data);
    let mut backoff = config.min_backoff;
    loop {
        if shutdown.is_cancelled() {
            return false;
        }
        // reqwest's own timeout bounds the request; this one also bounds a
        // body upload that trickles.
        let attempt = tokio::time::timeout(hook.request_timeout, hook.post(&key, data)).await;
        match attempt.unwrap_or(Err(Failure::Timeout)) {
            Ok(()) => {
                crate::metrics::notification_delivered();
                return true;
            }
            Err(e) => {
                crate::metrics::notification_failed(e.reason());
                tracing::warn!(error = %e, booking = %key, "webhook delivery failed; retrying");
            }
        }
        sleep_or_cancel(shutdown, backoff).await;
        backoff = (backoff * 2).min(config.max_backoff);
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

    fn hook(url: &str) -> Result<Webhook, NotifierError> {
        Webhook::new(&NotifierConfig::new(url, "n"))
    }

    #[test]
    fn accepts_http_and_https_urls_only() {
        assert_eq!(hook("http://127.0.0.1:9000/hooks/booking").unwrap().url.port(), Some(9000));
        assert_eq!(hook("http://example.org").unwrap().url.path(), "/");
        assert_eq!(hook("https://example.org/b").unwrap().url.scheme(), "https");
        for bad in ["ftp://example.org", "http://:x/", "http://a b/", "example.org", "unix:/tmp/s"] {
            assert!(matches!(hook(bad), Err(NotifierError::BadUrl(_))), "{bad}");
        }
    }
}
