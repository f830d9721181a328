//! How a dispatcher reaches the model service: over gRPC at a configured
//! URL, or, when none is configured, at one this process starts on a
//! loopback port (model-svc's library with its built-in catalog), so a
//! single `cargo run` answers chat with the same gRPC path as a cluster.

use std::time::Duration;

use proto::v1::model_service_client::ModelServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

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
    Config(String),
}

/// A client for `url` (connected lazily: a service that is down now is
/// retried on every call, so dispatchers start before it).
pub fn connect(url: &str) -> Result<ModelServiceClient<Channel>, ModelError> {
    let channel =
        Endpoint::from_shared(url.to_owned())?.connect_timeout(Duration::from_secs(2)).tcp_nodelay(true).connect_lazy();
    Ok(ModelServiceClient::new(channel))
}

/// Starts model-svc in this process on a free loopback port; it stops when
/// `shutdown` is cancelled. Returns its URL.
pub async fn start_in_process(shutdown: CancellationToken) -> Result<String, ModelError> {
    use clap::Parser as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = model_svc::Config::try_parse_from(["model-svc", "--addr", &addr.to_string()])
        .map_err(|e| ModelError::Config(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = model_svc::run(listener, config, shutdown.cancelled_owned()).await {
            tracing::error!(error = %e, "in-process model service stopped");
        }
    });
    tracing::info!(%addr, "model service running in process");
    Ok(format!("http://{addr}"))
}
