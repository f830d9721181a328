//! Requests of the load generator: send a frame with an id and wait for the
//! reply with that id (typed and borrowed on the hot path), and the
//! subscribe retry docs/protocol.md asks for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::Ws;

/// How often a subscribe answered `unavailable` (the bus timed out) is retried.
const SUBSCRIBE_ATTEMPTS: u32 = 5;

/// Subscribes to `topic`, retrying as docs/protocol.md asks when the answer is
/// `unavailable` (each retry is counted in `retries`); any other error fails.
pub(crate) async fn subscribe_with_retry(ws: &mut Ws, topic: &str, retries: &AtomicU64) -> anyhow::Result<()> {
    for attempt in 1..=SUBSCRIBE_ATTEMPTS {
        let reply = call(ws, u64::from(attempt), json!({"type": "subscribe", "topic": topic})).await?;
        match reply["type"].as_str() {
            Some("subscribed") => return Ok(()),
            Some("error") if reply["code"] == "unavailable" && attempt < SUBSCRIBE_ATTEMPTS => {
                retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            _ => bail!("subscribe refused: {reply}"),
        }
    }
    bail!("subscribe: no answer")
}

/// Sends a request and returns the reply with the same id (other frames are skipped).
pub(crate) async fn call(ws: &mut Ws, id: u64, mut req: Value) -> anyhow::Result<Value> {
    req["id"] = json!(id);
    ws.send(Message::text(req.to_string())).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["id"] == json!(id) {
                    return Ok(v);
                }
            }
            Some(Ok(_)) => continue,
            other => bail!("connection ended: {other:?}"),
        }
    }
}

/// The fields of a hold or release reply a holder needs (borrowed, so the
/// load generator spends little CPU of the machine it shares with the nodes).
#[derive(serde::Deserialize)]
struct Reply<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, borrow)]
    hold: Option<HoldId<'a>>,
}

#[derive(serde::Deserialize)]
struct HoldId<'a> {
    #[serde(borrow)]
    hold_id: &'a str,
}

/// Sends a prepared request text and returns (whether it succeeded: `held`,
/// `released` or `confirmed`, and the hold id) of the reply with the same id;
/// other frames are skipped.
pub(crate) async fn call_fast(ws: &mut Ws, id: u64, req: String) -> anyhow::Result<(bool, String)> {
    ws.send(Message::text(req)).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let r: Reply<'_> = serde_json::from_str(t.as_str())?;
                if r.id == Some(id) {
                    let held = matches!(r.kind, "held" | "released" | "confirmed");
                    return Ok((held, r.hold.map(|h| h.hold_id.to_owned()).unwrap_or_default()));
                }
            }
            Some(Ok(_)) => continue,
            other => bail!("connection ended: {other:?}"),
        }
    }
}
