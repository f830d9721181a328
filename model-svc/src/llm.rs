//! Generation through an OpenAI-compatible chat-completions endpoint
//! (async-openai), streamed, with the retrieved passages in the prompt and
//! the booking tools declared as functions.
//!
//! This module turns the endpoint's stream into [`LlmEvent`]s and its
//! failures into [`LlmError`]; deciding between falling back to the composer
//! and ending the gRPC stream with a status is `answer`'s job. Every wait on
//! the network is bounded by a timeout, so a stalled endpoint can never hang
//! an Answer.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionStreamResponse};
use futures_util::{Stream, StreamExt};
use serde_json::json;

use crate::answer::Turn;
use crate::compose::{ToolCall, ToolOutcome};
use crate::index::{Hit, Sentiment};

/// Settings of the LLM endpoint.
#[derive(Clone)]
pub struct LlmConfig {
    /// Base URL, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// API key (may be empty for local servers).
    pub api_key: String,
    /// Model name.
    pub model: String,
    /// Longest wait for the response head and first chunk.
    pub first_token_timeout: Duration,
    /// Longest wait between two chunks.
    pub idle_timeout: Duration,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is never printed.
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

/// What the endpoint produced.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    /// A piece of answer text.
    Text(String),
    /// A complete, validated tool call.
    ToolCall {
        /// The model's call id.
        id: String,
        /// The tool and its arguments.
        call: ToolCall,
    },
}

/// Why generation through the endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// No response or chunk within the timeout.
    #[error("the LLM endpoint did not answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint rejected the request or failed (HTTP status, API error).
    #[error("the LLM endpoint failed: {0}")]
    Api(String),
    /// The stream could not be parsed.
    #[error("malformed LLM stream: {0}")]
    Malformed(String),
}

impl From<OpenAIError> for LlmError {
    fn from(e: OpenAIError) -> Self {
        match e {
            OpenAIError::JSONDeserialize(err, _) => Self::Malformed(err.to_string()),
            other => Self::Api(other.to_string()),
        }
    }
}

/// A stream of LLM events.
pub type LlmStream = Pin<Box<dyn Stream<Item = Result<LlmEvent, LlmError>> + Send>>;

/// A configured endpoint.
#[derive(Debug, Clone)]
pub struct Llm {
    client: Client<OpenAIConfig>,
    config: LlmConfig,
}

impl Llm {
    /// A client for `config`.
    pub fn new(config: LlmConfig) -> Self {
        // The workspace builds reqwest with rustls but no default crypto
        // provider (ring is chosen in the root manifest); a client built
        // before one is installed panics, so install it here, once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let oc = OpenAIConfig::new().with_api_base(config.base_url.clone()).with_api_key(config.api_key.clone());
        Self { client: Client::with_config(oc), config }
    }

    /// The generator name reported in Final events.
    pub fn name(&self) -> String {
        format!("llm:{}", self.config.model)
    }

    /// Starts a streamed completion for `question` grounded in `passages`.
    ///
    /// # Errors
    /// When the request fails or no first chunk arrives within the timeout.
    pub async fn stream(
        &self,
        korean: bool,
        question: &str,
        turns: &[Turn],
        passages: &str,
        tool_results: &[ToolOutcome],
    ) -> Result<LlmStream, LlmError> {
        let request = request(&self.config.model, korean, question, turns, passages, tool_results)?;
        let timeout = self.config.first_token_timeout;
        let inner = tokio::time::timeout(timeout, self.client.chat().create_stream(request))
            .await
            .map_err(|_| LlmError::Timeout(timeout))??;
        Ok(Box::pin(events(inner, self.config.idle_timeout, timeout)))
    }
}

/// The chat-completions request (built from JSON so the wire shape is explicit).
fn request(
    model: &str,
    korean: bool,
    question: &str,
    turns: &[Turn],
    passages: &str,
    tool_results: &[ToolOutcome],
) -> Result<CreateChatCompletionRequest, LlmError> {
    let language = if korean { "Korean (polite 해요체)" } else { "English" };
    let system = format!(
        "You are Marquee, a cinema assistant. Answer in {language}. Use only the movies and reviews in the \
         passages below; if they do not answer the question, say so. Recommend at most three movies, each with \
         a one-line reason, summarise what reviewers say, and propose the next step. Write plain sentences \
         without ids. To book, call a tool instead of describing it.\n\nPassages:\n{passages}"
    );
    let mut messages = vec![json!({"role": "system", "content": system})];
    let start = turns.len().saturating_sub(8);
    for t in &turns[start..] {
        let role = if t.from_user { "user" } else { "assistant" };
        messages.push(json!({"role": role, "content": t.text}));
    }
    messages.push(json!({"role": "user", "content": question}));
    // A continued turn: the calls the model made last round and what the
    // gateway's tools answered, in the chat-completions tool-message shape.
    if !tool_results.is_empty() {
        let calls: Vec<serde_json::Value> = tool_results
            .iter()
            .map(|r| json!({"id": r.call_id, "type": "function", "function": {"name": r.result.tool.name(), "arguments": "{}"}}))
            .collect();
        messages.push(json!({"role": "assistant", "tool_calls": calls}));
        for r in tool_results {
            messages.push(json!({"role": "tool", "tool_call_id": r.call_id, "content": r.result.to_json()}));
        }
    }
    let body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "tools": tool_definitions(),
    });
    serde_json::from_value(body).map_err(|e| LlmError::Malformed(format!("request: {e}")))
}

/// The booking tools as chat-completions function definitions (the
/// contract crate's, checked there against the argument types).
pub fn tool_definitions() -> serde_json::Value {
    booking_tools::definitions()
}

/// The retrieved records as prompt text, numbered, with ids for tool calls.
pub fn passages(hits: &[Hit], focus: Option<(&str, Sentiment)>) -> String {
    let mut out = String::new();
    for (i, h) in hits.iter().enumerate() {
        let m = &h.movie;
        out.push_str(&format!(
            "[{}] movie_id={} title={:?} title_ko={:?} year={} genres={} rating={}\n",
            i + 1,
            m.id,
            m.title,
            m.title_ko.as_deref().unwrap_or(""),
            m.year,
            m.genres.join("/"),
            m.rating.map_or("n/a".to_owned(), |r| format!("{r:.1}"))
        ));
        if let Some(s) = m.synopsis_ko.as_deref().or(m.synopsis.as_deref()) {
            out.push_str(&format!("    synopsis: {}\n", crate::text::snippet(s, 400)));
        }
        for r in &h.reviews {
            out.push_str(&format!("    review ({}/10): {}\n", r.review.rating, r.review.text));
        }
    }
    if let Some((id, s)) = focus
        && s.count > 0
    {
        out.push_str(&format!(
            "Reviews of {id}: {} reviews, mean {:.1}/10, {:.0}% positive, {:.0}% negative.\n",
            s.count,
            s.mean,
            s.positive * 100.0,
            s.negative * 100.0
        ));
    }
    out
}

/// A tool call being assembled from chunks.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Adapts the raw chunk stream: text out as it comes, tool calls assembled
/// and validated at the end, every wait bounded.
fn events(
    mut inner: impl Stream<Item = Result<CreateChatCompletionStreamResponse, OpenAIError>> + Send + Unpin + 'static,
    idle: Duration,
    first: Duration,
) -> impl Stream<Item = Result<LlmEvent, LlmError>> + Send {
    async_stream(move |tx| async move {
        let mut calls: BTreeMap<u32, PartialCall> = BTreeMap::new();
        let mut wait = first;
        loop {
            let next = match tokio::time::timeout(wait, inner.next()).await {
                Err(_) => {
                    let _ = tx.send(Err(LlmError::Timeout(wait))).await;
                    return;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            wait = idle;
            for choice in next.choices {
                if let Some(text) = choice.delta.content.filter(|t| !t.is_empty())
                    && tx.send(Ok(LlmEvent::Text(text))).await.is_err()
                {
                    return;
                }
                for c in choice.delta.tool_calls.unwrap_or_default() {
                    let p = calls.entry(c.index).or_default();
                    if let Some(id) = c.id {
                        p.id = id;
                    }
                    if let Some(f) = c.function {
                        if let Some(n) = f.name {
                            p.name.push_str(&n);
                        }
                        if let Some(a) = f.arguments {
                            p.arguments.push_str(&a);
                        }
                    }
                }
            }
        }
        for (_, p) in calls {
            // Parsed once, here, into the typed contract.
            let call = match ToolCall::parse(&p.name, &p.arguments) {
                Ok(call) => call,
                Err(booking_tools::CallError::UnknownTool(_)) => {
                    tracing::warn!(name = %p.name, "LLM called an unknown tool; dropped");
                    continue;
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(LlmError::Malformed(format!("arguments of {} do not fit the tool: {e}", p.name))))
                        .await;
                    return;
                }
            };
            if tx.send(Ok(LlmEvent::ToolCall { id: p.id, call })).await.is_err() {
                return;
            }
        }
    })
}

/// A stream fed by a task through a bounded channel; the task ends when the
/// stream is dropped (its sends fail).
fn async_stream<T, F, Fut>(f: F) -> impl Stream<Item = T> + Send
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let task = tokio::spawn(f(tx));
    let guard = AbortOnDrop(task);
    tokio_stream::wrappers::ReceiverStream::new(rx).map(move |item| {
        let _ = &guard;
        item
    })
}

/// Aborts the task when dropped, so no reader means no work.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
