//! Payment providers: the step between a hold and its booking
//! (`seats::checkout` runs the saga around them).
//!
//! Two providers: [`PaymentProvider::Demo`], the default, which approves
//! every payment and labels it `demo` (nothing is charged), and
//! [`PaymentProvider::Toss`], an HTTP adapter for Toss Payments' API:
//! `POST /v1/payments/confirm` `{paymentKey, orderId, amount}`,
//! `POST /v1/payments/{paymentKey}/cancel` `{cancelReason}` and
//! `GET /v1/payments/orders/{orderId}`, with Basic auth of the secret key
//! followed by `:`, and an `Idempotency-Key` header on every write so a
//! retried request never charges or refunds twice. Errors are Toss's JSON
//! `{code, message}`.
//!
//! An answer that never came (a timeout, a broken connection, a 5xx) is
//! [`PaymentError::Unknown`]: the payment may or may not have happened, and
//! the caller must [`PaymentProvider::lookup`] the order before deciding.

use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;

/// Toss Payments' production API.
pub const TOSS_API_BASE: &str = "https://api.tosspayments.com";
/// How long one provider request may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The provider name recorded for the demo provider.
pub const DEMO: &str = "demo";
/// The provider name recorded for Toss Payments.
pub const TOSS: &str = "toss";

/// Why a payment step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The payment was refused (card declined, limit, balance): nothing was
    /// charged.
    #[error("payment declined: {code}: {message}")]
    Declined {
        /// The provider's code (`REJECT_CARD_PAYMENT`…).
        code: String,
        /// The provider's message, for the customer.
        message: String,
    },
    /// No answer (timeout, connection, 5xx): the outcome is unknown; look
    /// the order up before deciding.
    #[error("payment outcome unknown: {0}")]
    Unknown(String),
    /// The provider refused the request itself (4xx other than a decline:
    /// bad key, bad request); nothing was charged.
    #[error("payment request rejected ({status}): {code}: {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The provider's code.
        code: String,
        /// The provider's message.
        message: String,
    },
    /// The provider approved another amount than the one asked for.
    #[error("payment amount mismatch: asked {expected}, provider says {actual}")]
    AmountMismatch {
        /// What the store computed.
        expected: i64,
        /// What the provider reported.
        actual: i64,
    },
    /// The configuration is unusable (bad base URL, no secret key).
    #[error("payment provider misconfigured: {0}")]
    Config(String),
}

/// An approved payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// `demo` or `toss`.
    pub provider: &'static str,
    /// The provider's payment key (cancel with it).
    pub payment_key: String,
    /// The order (the hold id).
    pub order_id: String,
    /// The amount approved, in won.
    pub amount: i64,
    /// Whether this is the demo provider's approval (nothing was charged).
    pub demo: bool,
}

/// What the provider knows of an order ([`PaymentProvider::lookup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// The provider has no payment for this order: nothing was charged.
    Missing,
    /// Approved (Toss status `DONE`).
    Approved(Approval),
    /// Cancelled (refunded), fully or partly.
    Cancelled {
        /// Its payment key.
        payment_key: String,
    },
    /// Any other state (`READY`, `IN_PROGRESS`, `ABORTED`, `EXPIRED`…):
    /// not charged.
    Other(String),
}

/// A payment to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmRequest {
    /// The key the client got from the provider's payment window (ignored
    /// by the demo provider).
    pub payment_key: String,
    /// The order: the hold id.
    pub order_id: String,
    /// The amount the store computed, in won.
    pub amount: i64,
    /// Sent as `Idempotency-Key`: the same key never charges twice.
    pub idempotency_key: String,
}

/// A payment provider. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub enum PaymentProvider {
    /// Approves everything, charges nothing; every approval says `demo`.
    #[default]
    Demo,
    /// Toss Payments over HTTPS.
    Toss(TossClient),
}

impl PaymentProvider {
    /// `demo` or `toss`.
    pub fn name(&self) -> &'static str {
        match self {
            PaymentProvider::Demo => DEMO,
            PaymentProvider::Toss(_) => TOSS,
        }
    }

    /// Confirms (captures) the payment.
    pub async fn confirm(&self, req: &ConfirmRequest) -> Result<Approval, PaymentError> {
        match self {
            PaymentProvider::Demo => Ok(demo_approval(&req.order_id, req.amount)),
            PaymentProvider::Toss(t) => t.confirm(req).await,
        }
    }

    /// Cancels (refunds) the payment `payment_key` in full.
    pub async fn cancel(&self, payment_key: &str, reason: &str, idempotency_key: &str) -> Result<(), PaymentError> {
        match self {
            PaymentProvider::Demo => Ok(()),
            PaymentProvider::Toss(t) => t.cancel(payment_key, reason, idempotency_key).await,
        }
    }

    /// What the provider knows of `order_id`. The demo provider keeps
    /// nothing and answers [`OrderState::Missing`].
    pub async fn lookup(&self, order_id: &str) -> Result<OrderState, PaymentError> {
        match self {
            PaymentProvider::Demo => Ok(OrderState::Missing),
            PaymentProvider::Toss(t) => t.lookup(order_id).await,
        }
    }
}

/// The demo provider's approval of `order_id`.
pub fn demo_approval(order_id: &str, amount: i64) -> Approval {
    Approval {
        provider: DEMO,
        payment_key: format!("demo-{order_id}"),
        order_id: order_id.to_owned(),
        amount,
        demo: true,
    }
}

/// The Toss Payments adapter.
#[derive(Debug, Clone)]
pub struct TossClient {
    client: reqwest::Client,
    base: reqwest::Url,
    auth: HeaderValue,
    timeout: Duration,
}

/// Toss's error body.
#[derive(Debug, Deserialize)]
struct TossErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The part of Toss's Payment object used here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TossPayment {
    payment_key: String,
    order_id: String,
    status: String,
    #[serde(default)]
    total_amount: i64,
}

/// Codes of a confirm that mean the customer's payment was refused (not a
/// fault of the request).
const DECLINE_CODES: &[&str] = &[
    "REJECT_CARD_PAYMENT",
    "REJECT_CARD_COMPANY",
    "REJECT_ACCOUNT_PAYMENT",
    "REJECT_TOSSPAY_INVALID_ACCOUNT",
    "EXCEED_MAX_DAILY_PAYMENT_COUNT",
    "EXCEED_MAX_PAYMENT_AMOUNT",
    "EXCEED_MAX_AMOUNT",
    "NOT_AVAILABLE_PAYMENT",
    "INVALID_CARD_EXPIRATION",
    "INVALID_STOPPED_CARD",
    "INVALID_CARD_LOST_OR_STOLEN",
    "NOT_ENOUGH_BALANCE",
    "PAY_PROCESS_CANCELED",
    "PAY_PROCESS_ABORTED",
];

impl TossClient {
    /// A client of the API at `base` (e.g. [`TOSS_API_BASE`]) with
    /// `secret_key`; every request gives up after `timeout`.
    pub fn new(base: &str, secret_key: &str, timeout: Duration) -> Result<TossClient, PaymentError> {
        let base = reqwest::Url::parse(base).map_err(|e| PaymentError::Config(format!("TOSS_API_BASE: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none_or(str::is_empty) {
            return Err(PaymentError::Config("TOSS_API_BASE must be http(s)://host".into()));
        }
        if secret_key.is_empty() {
            return Err(PaymentError::Config("TOSS_SECRET_KEY is empty".into()));
        }
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{secret_key}:"));
        let mut auth = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| PaymentError::Config("TOSS_SECRET_KEY is not a header value".into()))?;
        auth.set_sensitive(true);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PaymentError::Config(e.to_string()))?;
        Ok(TossClient { client, base, auth, timeout })
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, PaymentError> {
        self.base.join(path).map_err(|e| PaymentError::Config(e.to_string()))
    }

    /// One request; the status and body, or `Unknown` when no answer came.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Vec<u8>), PaymentError> {
        let mut req = self.client.request(method, self.url(path)?).header(AUTHORIZATION, self.auth.clone());
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            req = req.header(CONTENT_TYPE, HeaderValue::from_static("application/json")).body(body.to_string());
        }
        let once = async {
            let resp = req.send().await.map_err(|e| PaymentError::Unknown(e.to_string()))?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.map_err(|e| PaymentError::Unknown(e.to_string()))?;
            Ok((status, bytes.to_vec()))
        };
        tokio::time::timeout(self.timeout, once)
            .await
            .unwrap_or_else(|_| Err(PaymentError::Unknown("timed out".into())))
    }

    async fn confirm(&self, req: &ConfirmRequest) -> Result<Approval, PaymentError> {
        let body = serde_json::json!({"paymentKey": req.payment_key, "orderId": req.order_id, "amount": req.amount});
        let (status, bytes) =
            self.send(reqwest::Method::POST, "/v1/payments/confirm", Some(body), Some(&req.idempotency_key)).await?;
        if status == 200 {
            let p = payment_of(&bytes)?;
            if p.status != "DONE" {
                return Err(PaymentError::Unknown(format!("confirm answered status {}", p.status)));
            }
            return approval_of(p, req.amount);
        }
        let err = error_of(status, &bytes)?;
        if err.code == "ALREADY_PROCESSED_PAYMENT" {
            // Confirmed before (an earlier try whose answer was lost): what was it?
            return match self.lookup(&req.order_id).await? {
                OrderState::Approved(a) if a.amount == req.amount => Ok(a),
                OrderState::Approved(a) => Err(PaymentError::AmountMismatch { expected: req.amount, actual: a.amount }),
                other => Err(PaymentError::Unknown(format!("already processed, now {other:?}"))),
            };
        }
        if DECLINE_CODES.contains(&err.code.as_str()) {
            return Err(PaymentError::Declined { code: err.code, message: err.message });
        }
        Err(PaymentError::Rejected { status, code: err.code, message: err.message })
    }

    async fn cancel(&self, payment_key: &str, reason: &str, idempotency_key: &str) -> Result<(), PaymentError> {
        let path = format!("/v1/payments/{}/cancel", path_segment(payment_key)?);
        let body = serde_json::json!({"cancelReason": reason});
        let (status, bytes) = self.send(reqwest::Method::POST, &path, Some(body), Some(idempotency_key)).await?;
        if status == 200 {
            return Ok(());
        }
        let err = error_of(status, &bytes)?;
        if err.code == "ALREADY_CANCELED_PAYMENT" {
            return Ok(());
        }
        Err(PaymentError::Rejected { status, code: err.code, message: err.message })
    }

    async fn lookup(&self, order_id: &str) -> Result<OrderState, PaymentError> {
        let path = format!("/v1/payments/orders/{}", path_segment(order_id)?);
        let (status, bytes) = self.send(reqwest::Method::GET, &path, None, None).await?;
        if status == 404 {
            return Ok(OrderState::Missing);
        }
        if status != 200 {
            let err = error_of(status, &bytes)?;
            if err.code == "NOT_FOUND_PAYMENT" {
                return Ok(OrderState::Missing);
            }
            return Err(PaymentError::Rejected { status, code: err.code, message: err.message });
        }
        let p = payment_of(&bytes)?;
        Ok(match p.status.as_str() {
            "DONE" => OrderState::Approved(approval_of_any(p)),
            "CANCELED" | "PARTIAL_CANCELED" => OrderState::Cancelled { payment_key: p.payment_key },
            other => OrderState::Other(other.to_owned()),
        })
    }
}

/// Ids in paths: Toss's keys and our hold ids are URL-safe; anything else
/// is refused rather than escaped.
fn path_segment(s: &str) -> Result<&str, PaymentError> {
    let ok = !s.is_empty() && s.len() <= 200 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(s)
    } else {
        Err(PaymentError::Rejected { status: 0, code: "INVALID_KEY".into(), message: "bad key".into() })
    }
}

fn payment_of(bytes: &[u8]) -> Result<TossPayment, PaymentError> {
    serde_json::from_slice(bytes).map_err(|e| PaymentError::Unknown(format!("unreadable payment: {e}")))
}

fn approval_of_any(p: TossPayment) -> Approval {
    Approval { provider: TOSS, payment_key: p.payment_key, order_id: p.order_id, amount: p.total_amount, demo: false }
}

fn approval_of(p: TossPayment, expected: i64) -> Result<Approval, PaymentError> {
    if p.total_amount != expected {
        return Err(PaymentError::AmountMismatch { expected, actual: p.total_amount });
    }
    Ok(approval_of_any(p))
}

/// A non-2xx answer: 5xx is an unknown outcome, 4xx Toss's `{code, message}`.
fn error_of(status: u16, bytes: &[u8]) -> Result<TossErrorBody, PaymentError> {
    if status >= 500 {
        return Err(PaymentError::Unknown(format!("provider status {status}")));
    }
    Ok(serde_json::from_slice(bytes).unwrap_or(TossErrorBody {
        code: format!("HTTP_{status}"),
        message: String::from_utf8_lossy(bytes).chars().take(200).collect(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn config_is_checked() {
        assert!(TossClient::new("ftp://x", "k", DEFAULT_TIMEOUT).is_err());
        assert!(TossClient::new(TOSS_API_BASE, "", DEFAULT_TIMEOUT).is_err());
        let c = TossClient::new(TOSS_API_BASE, "test_sk_x", DEFAULT_TIMEOUT).unwrap();
        assert_eq!(c.auth.to_str().unwrap(), format!("Basic {}", "dGVzdF9za194Og=="));
    }

    #[test]
    fn demo_is_labelled() {
        let a = demo_approval("h0123456789abcdef", 15000);
        assert!(a.demo);
        assert_eq!(a.provider, "demo");
    }
}
