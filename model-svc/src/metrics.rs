//! The model service's metrics (per-RPC latency, errors by kind), registered
//! once into [`telemetry::global`], and the optional `/metrics` listener of a
//! stand-alone model-svc process (`--metrics-addr`). In-process (inside the
//! gateway) the same series appear on the gateway's `/metrics`.

use std::sync::LazyLock;
use std::time::Instant;

use telemetry::{CounterFamily, HistogramFamily};
use tokio::net::TcpListener;

use crate::error::ModelError;

struct ModelMetrics {
    rpc_seconds: HistogramFamily,
    errors: CounterFamily,
}

static METRICS: LazyLock<ModelMetrics> = LazyLock::new(|| {
    let m = ModelMetrics { rpc_seconds: telemetry::latency_family(), errors: CounterFamily::default() };
    let mut r = telemetry::global();
    r.register(
        "marquee_model_rpc_seconds",
        "Time to handle one model-svc RPC, by method (for Answer: until the stream is open)",
        m.rpc_seconds.clone(),
    );
    r.register(
        "marquee_model_rpc_errors_total",
        "model-svc RPCs and answer streams that failed, by kind of error",
        m.errors.clone(),
    );
    drop(r);
    m
});

/// Registers the model service's metrics (they appear before first use).
pub fn init() {
    LazyLock::force(&METRICS);
}

/// Times one RPC from now until the guard is dropped.
pub(crate) fn rpc(method: &'static str) -> RpcTimer {
    RpcTimer { method, started: Instant::now() }
}

/// See [`rpc`].
pub(crate) struct RpcTimer {
    method: &'static str,
    started: Instant,
}

impl Drop for RpcTimer {
    fn drop(&mut self) {
        METRICS.rpc_seconds.get_or_create(&[("method", self.method)]).observe(self.started.elapsed().as_secs_f64());
    }
}

/// Counts one error on its way to the client.
pub(crate) fn error(e: &ModelError) {
    let kind = match e {
        ModelError::NotReady => "not_ready",
        ModelError::InvalidArgument(_) => "invalid_argument",
        ModelError::Catalog(_) => "catalog",
        ModelError::ShuttingDown => "shutting_down",
        ModelError::Upstream(_) => "upstream",
        ModelError::Internal(_) => "internal",
    };
    METRICS.errors.get_or_create(&[("kind", kind)]).inc();
}

/// Serves `GET /metrics` (the process-wide registry) on `listener` until
/// `shutdown` completes.
///
/// # Errors
/// When the listener fails.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    use axum::http::header;
    use axum::routing::get;

    init();
    let app = axum::Router::new().route(
        "/metrics",
        get(|| async {
            let mut body = String::new();
            telemetry::encode_global(&mut body);
            ([(header::CONTENT_TYPE, telemetry::CONTENT_TYPE)], body)
        }),
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
