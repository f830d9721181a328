//! model-svc: retrieval over movies and reviews, grounded streaming answers,
//! and booking tool proposals, served over gRPC (`marquee.v1.ModelService`).
//!
//! `run` is the whole server; `main.rs` only parses config and starts
//! telemetry. The service never touches seats or sessions: it proposes tool
//! calls that the gateway executes.

pub mod answer;
pub mod candle_embed;
pub mod catalog;
pub mod compose;
pub mod config;
pub mod crosslingual;
pub mod dense;
pub mod embed;
pub mod error;
pub mod index;
pub mod intent;
pub mod lexical;
pub mod llm;
pub mod metrics;
pub mod names;
pub mod query;
pub mod service;
pub mod text;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::answer::Stats;
use crate::catalog::{Catalog, CatalogError};
pub use crate::config::Config;
use crate::embed::{Embedder, HashEmbedder};
use crate::index::{Index, Store};

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The gRPC transport failed.
    #[error("grpc transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Reflection could not be built from the descriptor set.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// A future producing the initial catalog.
pub type CatalogLoader = Pin<Box<dyn Future<Output = Result<Catalog, CatalogError>> + Send>>;

/// The loader `run` uses: the data directory from `config`, or the built-in catalog.
pub fn config_loader(config: &Config) -> CatalogLoader {
    let dir = config.data_dir.clone();
    Box::pin(async move {
        tokio::task::spawn_blocking(move || match dir {
            Some(d) => Catalog::load_dir(&d),
            None => Catalog::builtin(),
        })
        .await
        .unwrap_or_else(|e| Err(CatalogError::Io { path: "<loader>".into(), source: std::io::Error::other(e) }))
    })
}

/// The configured embedding model, or the weight-free default when none is
/// configured or it fails to load (logged: the service must still start).
pub fn choose_embedder(model_dir: Option<&std::path::Path>) -> Arc<dyn Embedder> {
    let Some(dir) = model_dir else { return Arc::new(HashEmbedder::default()) };
    match candle_embed::CandleEmbedder::load(dir) {
        Ok(model) => {
            tracing::info!(model = model.name(), dim = model.dim(), "embedding model loaded");
            Arc::new(model)
        }
        Err(e) => {
            tracing::error!(error = %e, dir = %dir.display(), "embedding model failed to load; using the n-gram hashing embedder");
            Arc::new(HashEmbedder::default())
        }
    }
}

/// Serves on `listener` until `shutdown` completes, loading the catalog named by `config`.
///
/// # Errors
/// When the transport fails.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let loader = config_loader(&config);
    run_with(listener, config, shutdown, loader, Arc::new(Stats::default())).await
}

/// As [`run`], with the initial catalog from `loader` and answer counters in
/// `stats`. Health reports NOT_SERVING until the loaded catalog is indexed.
///
/// # Errors
/// When the transport fails.
pub async fn run_with(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    loader: CatalogLoader,
    stats: Arc<Stats>,
) -> Result<(), ServeError> {
    use proto::v1::model_service_server::ModelServiceServer;

    let store = Store::new(Arc::new(HashEmbedder::default()));
    let model_dir = config.embed_model_dir.clone();
    let token = CancellationToken::new();
    let tasks = TaskTracker::new();

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_not_serving::<ModelServiceServer<service::ModelApi>>().await;
    health.set_service_status("", tonic_health::ServingStatus::NotServing).await;

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::v1::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    // Load and index the catalog in the background; flip health when done.
    {
        let store = store.clone();
        let token = token.clone();
        tasks.spawn(async move {
            let started = std::time::Instant::now();
            let built = tokio::select! {
                c = loader => c,
                () = token.cancelled() => return,
            };
            let index = match built {
                Ok(catalog) => {
                    tokio::task::spawn_blocking(move || Index::build(choose_embedder(model_dir.as_deref()), catalog))
                        .await
                }
                Err(e) => {
                    tracing::error!(error = %e, "catalog failed to load; staying NOT_SERVING");
                    return;
                }
            };
            match index {
                Ok(Ok(index)) => {
                    tracing::info!(
                        movies = index.movie_count(),
                        reviews = index.review_count(),
                        ms = started.elapsed().as_millis(),
                        "index loaded"
                    );
                    store.install(index);
                    health.set_serving::<ModelServiceServer<service::ModelApi>>().await;
                    health.set_service_status("", tonic_health::ServingStatus::Serving).await;
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "catalog is invalid; staying NOT_SERVING")
                }
                Err(e) => {
                    tracing::error!(error = %e, "index build task failed; staying NOT_SERVING")
                }
            }
        });
    }

    let llm = config.llm().map(|c| {
        tracing::info!(llm = ?c, "answers come from the LLM endpoint (composer as fallback)");
        Arc::new(llm::Llm::new(c))
    });
    // Validated before binding in main; a bad file here (tests) means no names, not a crash.
    // Only requests without a schedule of their own use these.
    let fallback = config.names().unwrap_or_else(|e| {
        tracing::error!(error = %e, "schedule names unreadable; requests without a schedule know no theaters");
        dialog::Lexicon::new()
    });
    let names = Arc::new(names::Names::new(fallback));
    let opts = answer::StreamOptions { delta_interval: config.delta_interval(), llm, names };
    let api = service::ModelApi::new(store, stats, opts, token.clone(), tasks.clone());
    let local = listener.local_addr().ok();
    tracing::info!(addr = ?local, "model-svc listening");

    let signal = {
        let token = token.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: stopping answers");
            token.cancel();
        }
    };
    let result = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(ModelServiceServer::new(api))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal)
        .await;

    token.cancel();
    tasks.close();
    let grace = std::time::Duration::from_millis(config.shutdown_grace_ms);
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("tasks still running after the shutdown grace period");
    }
    result.map_err(ServeError::from)
}
