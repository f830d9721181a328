//! The plain gateway binary: reads the configuration, starts logging, binds,
//! and runs until SIGTERM or Ctrl-C, then drains. It links no model service:
//! a node that answers chat needs MODEL_SVC_URL (the `marquee` binary is the
//! same server with model-svc in process).

use anyhow::Context;
use clap::Parser;
use gateway::{Config, process};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    process::init_logging(&config.log_format);
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(config.addr).await.with_context(|| format!("bind {}", config.addr))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(process::cancel_on_signal(shutdown.clone()));
    gateway::run(listener, config, shutdown).await?;
    Ok(())
}
