//! `rsp-images serve`: runs the service until SIGTERM, SIGINT or SIGHUP, then drains and
//! exits 0.
//!
//! SIGHUP stops the service as SIGTERM does rather than reloading the configuration: a
//! reload would have to swap the registry client, the watchers and the routes under running
//! requests, while a restart (what Kubernetes does when a ConfigMap changes and the pod is
//! rolled) gets the same result with the start-up checks. What matters is that the drain
//! runs: prepull pods in flight are deleted and the Lease is released.

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
    if let Some(listen) = &args.listen {
        rsp_config::check_listen(listen)
            .map_err(|message| CliError::Usage(format!("--listen: {message}")))?;
    }
    let listen = args.listen.unwrap_or_else(|| config.server.listen.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::Failed(format!("cannot start the async runtime: {error}")))?;
    runtime
        .block_on(serve(
            config,
            &rsp_config::config_dir(&args.config),
            &listen,
            Environment::from_process(),
            shutdown_signal(),
        ))
        .map_err(|error| match error {
            ServeError::Config(message) => CliError::Usage(message),
            ServeError::Failed(message) => CliError::Failed(message),
        })
}

/// Completes on SIGTERM (Kubernetes stopping the pod), SIGINT (Ctrl-C) or SIGHUP (the
/// terminal went away, or an operator asking for a restart).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        /// The next delivery of a signal; never, when it cannot be listened for.
        async fn next(kind: SignalKind, name: &str) {
            let stream: std::io::Result<Signal> = signal(kind);
            match stream {
                Ok(mut stream) => {
                    stream.recv().await;
                    tracing::info!("{name} received");
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for {name}");
                    std::future::pending::<()>().await;
                }
            }
        }
        tokio::select! {
            _ = interrupt => {}
            () = next(SignalKind::terminate(), "SIGTERM") => {}
            () = next(SignalKind::hangup(), "SIGHUP") => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("Shutdown requested");
}
