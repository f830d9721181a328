//! The `marquee` binary (the workspace's default `cargo run`): the gateway
//! with model-svc linked in, started on a loopback port by dispatchers that
//! have no MODEL_SVC_URL, so one process runs the whole system. Otherwise
//! exactly the plain `gateway` binary: same configuration, logging, drain.
//! The gateway crate never depends on model-svc; this is where the two meet.

use anyhow::Context;
use clap::Parser;
use gateway::chat::model::{InProcessModel, ModelServe};
use gateway::{Config, process};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = Config::parse();
    config.in_process_model = Some(in_process_model());
    process::init_logging(&config.log_format);
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(config.addr).await.with_context(|| format!("bind {}", config.addr))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(process::cancel_on_signal(shutdown.clone()));
    gateway::run(listener, config, shutdown).await?;
    Ok(())
}

/// model-svc with its own configuration (its `MODEL_SVC_*` environment
/// variables; the built-in catalog by default) on the listener the gateway
/// bound.
fn in_process_model() -> InProcessModel {
    InProcessModel::new(|listener, shutdown| {
        let addr = listener.local_addr()?;
        let config = model_svc::Config::try_parse_from(["model-svc", "--addr", &addr.to_string()])?;
        config.validate()?;
        let serve: ModelServe =
            Box::pin(async move { Ok(model_svc::run(listener, config, shutdown.cancelled_owned()).await?) });
        Ok(serve)
    })
}
