//! The service's error type and its one conversion to `tonic::Status`.
//!
//! Handlers return `ModelError`; only `From<ModelError> for Status` decides
//! codes and client-visible messages. Internal details are logged here,
//! once, and never sent to clients.

use crate::catalog::CatalogError;

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The initial catalog is still loading.
    #[error("the index is still loading")]
    NotReady,
    /// The request is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Ingested records are invalid.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The LLM endpoint failed after part of the answer was already sent,
    /// so falling back to the composer would repeat or contradict it.
    #[error("generation interrupted: {0}")]
    Upstream(String),
    /// A bug or a failed background task.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ModelError> for tonic::Status {
    fn from(e: ModelError) -> Self {
        crate::metrics::error(&e);
        match e {
            ModelError::NotReady => Self::unavailable("index is loading; retry shortly"),
            ModelError::InvalidArgument(m) => Self::invalid_argument(m),
            ModelError::Catalog(c) => Self::invalid_argument(c.to_string()),
            ModelError::ShuttingDown => Self::unavailable("server is shutting down"),
            ModelError::Upstream(m) => {
                tracing::warn!(error = %m, "LLM stream failed mid-answer");
                Self::unavailable("answer generation was interrupted; please retry")
            }
            ModelError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Self::internal("internal error")
            }
        }
    }
}
