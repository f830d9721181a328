//! How a dispatcher reaches the model service: over gRPC at a configured
//! URL, or, when none is configured, at one this process starts on a
//! loopback port through the [`InProcessModel`] its binary injected (the
//! `marquee` binary injects model-svc's library with its built-in catalog),
//! so a single `cargo run` answers chat with the same gRPC path as a
//! cluster. This crate never depends on model-svc: a plain gateway build
//! compiles no ML crate.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use proto::v1::model_service_client::ModelServiceClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

/// Any error of an injected model service (the gateway only logs or reports it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A model service serving until its shutdown token is cancelled.
pub type ModelServe = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// Starts a model service (the `marquee.v1.ModelService` gRPC server) on a
/// listener this process bound: checks its configuration at once (an error
/// stops the gateway before it serves) and returns the serving future, which
/// must end when the token is cancelled.
type StartFn = dyn Fn(TcpListener, CancellationToken) -> Result<ModelServe, BoxError> + Send + Sync;

/// A model service a binary links in, started by dispatchers that have no
/// `MODEL_SVC_URL`. Cheap to clone.
#[derive(Clone)]
pub struct InProcessModel(Arc<StartFn>);

impl InProcessModel {
    /// Wraps `start` (see [`StartFn`] for its contract).
    pub fn new(
        start: impl Fn(TcpListener, CancellationToken) -> Result<ModelServe, BoxError> + Send + Sync + 'static,
    ) -> InProcessModel {
        InProcessModel(Arc::new(start))
    }
}

impl fmt::Debug for InProcessModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcessModel")
    }
}

/// Why the model service cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The URL is not a valid endpoint.
    #[error("MODEL_SVC_URL: {0}")]
    Url(#[from] tonic::transport::Error),
    /// The in-process service could not bind.
    #[error("in-process model service: {0}")]
    Bind(#[from] std::io::Error),
    /// The in-process service's configuration is invalid.
    #[error("in-process model service: {0}")]
    Config(BoxError),
    /// This node answers chat, but there is neither a URL nor a linked-in service.
    #[error(
        "MODEL_SVC_URL must be set: this node answers chat (MARQUEE_ROLE all or dispatcher) and this \
         binary has no in-process model service (the `marquee` binary has one)"
    )]
    Missing,
}

/// A client for `url` (connected lazily: a service that is down now is
/// retried on every call, so dispatchers start before it).
pub fn connect(url: &str) -> Result<ModelServiceClient<Channel>, ModelError> {
    let channel =
        Endpoint::from_shared(url.to_owned())?.connect_timeout(Duration::from_secs(2)).tcp_nodelay(true).connect_lazy();
    Ok(ModelServiceClient::new(channel))
}

/// Starts `model` in this process on a free loopback port; it stops when
/// `shutdown` is cancelled. Returns its URL.
pub async fn start_in_process(model: &InProcessModel, shutdown: CancellationToken) -> Result<String, ModelError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serve = (model.0)(listener, shutdown).map_err(ModelError::Config)?;
    tokio::spawn(async move {
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "in-process model service stopped");
        }
    });
    tracing::info!(%addr, "model service running in process");
    Ok(format!("http://{addr}"))
}
