//! One POST of a booking event to the booking webhook over HTTP or HTTPS
//! (reqwest with rustls): the `webhook` channel of [`crate::notifier`], which
//! decides about retries. This module knows nothing of where events come from.
//!
//! Every request carries `Idempotency-Key: <booking id>:<status>:webhook`, so
//! the webhook can dedupe the redeliveries that at-least-once delivery makes.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};

use crate::notifier::NotifierError;

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
    pub(crate) fn new(webhook_url: &str, request_timeout: Duration) -> Result<Webhook, NotifierError> {
        let bad = || NotifierError::BadUrl(webhook_url.to_owned());
        let url = reqwest::Url::parse(webhook_url).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(bad());
        }
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(request_timeout)
            .timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Header names as written here ("Idempotency-Key"), not lower-cased:
            // some webhook receivers match them case-sensitively.
            .http1_title_case_headers()
            .build()
            .map_err(|e| NotifierError::Webhook(e.to_string()))?;
        Ok(Webhook { client, url, request_timeout })
    }

    /// One POST; Ok only for a 2xx status. reqwest's own timeout bounds the
    /// request; the outer one also bounds a body upload that trickles.
    pub(crate) async fn post(&self, key: &str, body: &str) -> Result<(), Failure> {
        tokio::time::timeout(self.request_timeout, self.post_once(key, body)).await.unwrap_or(Err(Failure::Timeout))
    }

    async fn post_once(&self, key: &str, body: &str) -> Result<(), Failure> {
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
pub(crate) enum Failure {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hook(url: &str) -> Result<Webhook, NotifierError> {
        Webhook::new(url, Duration::from_secs(1))
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
