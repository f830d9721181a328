//! A local server speaking Toss Payments' protocol (confirm, cancel, order
//! lookup) on a free loopback port, for the `payment` adapter's and the
//! checkout saga's tests. It keeps its payments in memory, replays the
//! answer of a repeated `Idempotency-Key` as Toss does, and records every
//! request so a test can assert that a customer was charged once.
//!
//! What the next confirms do is scripted with [`TossServer::script`];
//! unscripted confirms approve.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// What the server does with one confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Charges and answers `DONE`.
    Approve,
    /// Refuses with 400 `{code, message}` (nothing charged).
    Decline {
        /// E.g. `REJECT_CARD_PAYMENT`.
        code: String,
        /// The message shown to the customer.
        message: String,
    },
    /// Charges, then holds the answer back for this long (longer than the
    /// client's timeout: the client sees no answer although it was charged).
    ChargeThenStall(Duration),
    /// Answers 500 without charging.
    Fail5xx,
    /// Answers 500 after charging (the charge happened; the answer says not).
    ChargeThenFail5xx,
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `POST` or `GET`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body (`null` for none).
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Behaviour>,
    requests: Vec<Request>,
    /// Payments by order id: (payment key, amount, status).
    payments: HashMap<String, (String, i64, String)>,
    /// Answers given per idempotency key (replayed).
    answers: HashMap<String, (u16, Value)>,
    charges: usize,
    cancels: usize,
    /// How many of the next cancels answer 500 without cancelling.
    failing_cancels: usize,
}

/// The running server; stops when dropped.
pub struct TossServer {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TossServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<Inner>>;

impl TossServer {
    /// Starts the server on 127.0.0.1 (a free port). Needs a Tokio runtime.
    pub async fn start() -> TossServer {
        let inner: Shared = Arc::default();
        let app = axum::Router::new()
            .route("/v1/payments/confirm", post(confirm))
            .route("/v1/payments/{key}/cancel", post(cancel))
            .route("/v1/payments/orders/{order}", get(lookup))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TossServer { addr, inner, task }
    }

    /// `http://127.0.0.1:<port>`: the adapter's `TOSS_API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues what the next confirms do, in order.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.inner.lock().unwrap().script.extend(behaviours);
    }

    /// Makes the next `n` cancels answer 500 without cancelling (nothing
    /// refunded, nothing remembered for their idempotency keys).
    pub fn fail_cancels(&self, n: usize) {
        self.inner.lock().unwrap().failing_cancels = n;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// How many payments were charged (a replayed or refused confirm is no charge).
    pub fn charges(&self) -> usize {
        self.inner.lock().unwrap().charges
    }

    /// How many payments were cancelled (refunded).
    pub fn cancels(&self) -> usize {
        self.inner.lock().unwrap().cancels
    }

    /// The status of `order_id`'s payment (`DONE`, `CANCELED`), if any.
    pub fn status_of(&self, order_id: &str) -> Option<String> {
        self.inner.lock().unwrap().payments.get(order_id).map(|p| p.2.clone())
    }
}

fn record(s: &Shared, method: &str, path: String, headers: &HeaderMap, body: Value) {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    s.lock().unwrap().requests.push(Request {
        method: method.to_owned(),
        path,
        idempotency_key: h("idempotency-key"),
        authorization: h("authorization"),
        body,
    });
}

fn payment_json(key: &str, order: &str, amount: i64, status: &str) -> Value {
    json!({"paymentKey": key, "orderId": order, "status": status, "totalAmount": amount, "method": "카드"})
}

fn error(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message})
}

async fn confirm(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    record(&s, "POST", "/v1/payments/confirm".into(), &headers, body.clone());
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (answer, stall) = {
        let mut g = s.lock().unwrap();
        if let Some(k) = &key
            && let Some((status, v)) = g.answers.get(k)
        {
            return (StatusCode::from_u16(*status).unwrap(), Json(v.clone()));
        }
        let payment_key = body["paymentKey"].as_str().unwrap_or_default().to_owned();
        let order = body["orderId"].as_str().unwrap_or_default().to_owned();
        let amount = body["amount"].as_i64().unwrap_or_default();
        let behaviour = g.script.pop_front().unwrap_or(Behaviour::Approve);
        let charge = |g: &mut Inner| -> (u16, Value) {
            if g.payments.contains_key(&order) {
                return (400, error("ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다."));
            }
            g.payments.insert(order.clone(), (payment_key.clone(), amount, "DONE".into()));
            g.charges += 1;
            (200, payment_json(&payment_key, &order, amount, "DONE"))
        };
        let (answer, stall, remember) = match behaviour {
            Behaviour::Approve => (charge(&mut g), None, true),
            Behaviour::Decline { code, message } => ((400, error(&code, &message)), None, true),
            Behaviour::ChargeThenStall(d) => (charge(&mut g), Some(d), true),
            Behaviour::Fail5xx => {
                ((500, error("FAILED_INTERNAL_SYSTEM_PROCESSING", "내부 시스템 처리 오류")), None, false)
            }
            Behaviour::ChargeThenFail5xx => {
                charge(&mut g);
                ((500, error("FAILED_INTERNAL_SYSTEM_PROCESSING", "내부 시스템 처리 오류")), None, false)
            }
        };
        if remember && let Some(k) = key {
            g.answers.insert(k, answer.clone());
        }
        (answer, stall)
    };
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    (StatusCode::from_u16(answer.0).unwrap(), Json(answer.1))
}

async fn cancel(
    State(s): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(&s, "POST", format!("/v1/payments/{key}/cancel"), &headers, body);
    let idem = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut g = s.lock().unwrap();
    if let Some(k) = &idem
        && let Some((status, v)) = g.answers.get(k)
    {
        return (StatusCode::from_u16(*status).unwrap(), Json(v.clone()));
    }
    if g.failing_cancels > 0 {
        g.failing_cancels -= 1;
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(error("FAILED_INTERNAL_SYSTEM_PROCESSING", "내부 시스템 처리 작업이 실패했습니다.")),
        );
    }
    let found = g.payments.iter().find(|(_, p)| p.0 == key).map(|(o, p)| (o.clone(), p.clone()));
    let answer = match found {
        None => (404, error("NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.")),
        Some((_, (_, _, status))) if status == "CANCELED" => {
            (400, error("ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다."))
        }
        Some((order, (pk, amount, _))) => {
            g.payments.insert(order.clone(), (pk.clone(), amount, "CANCELED".into()));
            g.cancels += 1;
            (200, payment_json(&pk, &order, amount, "CANCELED"))
        }
    };
    if let Some(k) = idem {
        g.answers.insert(k, answer.clone());
    }
    (StatusCode::from_u16(answer.0).unwrap(), Json(answer.1))
}

async fn lookup(State(s): State<Shared>, Path(order): Path<String>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
    record(&s, "GET", format!("/v1/payments/orders/{order}"), &headers, Value::Null);
    let g = s.lock().unwrap();
    match g.payments.get(&order) {
        None => (StatusCode::NOT_FOUND, Json(error("NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다."))),
        Some((pk, amount, status)) => (StatusCode::OK, Json(payment_json(pk, &order, *amount, status))),
    }
}
