//! `rsp-images serve`: runs the service until SIGTERM or SIGINT, then drains and exits 0.

use super::plan::config_dir;
use super::setup::load_config;
use super::CliError;
use clap::Args;
use rsp_service::run::{serve, Environment, ServeError};
use std::path::PathBuf;

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (a Nublado controller config works unchanged).
    #[arg(long, default_value = "/etc/rsp-images/config.yaml")]
    config: PathBuf,
    /// Address to listen on; overrides `server.listen`.
    #[arg(long)]
    listen: Option<String>,
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let config = load_config(&args.config)?;
    let listen = args.listen.unwrap_or_else(|| config.server.listen.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::Failed(format!("cannot start the async runtime: {error}")))?;
    runtime
        .block_on(serve(
            config,
            &config_dir(&args.config),
            &listen,
            Environment::from_process(),
            shutdown_signal(),
        ))
        .map_err(|error| match error {
            ServeError::Config(message) => CliError::Usage(message),
            ServeError::Failed(message) => CliError::Failed(message),
        })
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the service");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("Shutdown requested");
}
