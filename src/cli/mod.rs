//! Argument parsing and dispatch for the subcommands.
//!
//! Every subcommand returns `Result<(), CliError>`; the error kind decides the exit status
//! (2 for bad usage or configuration, 1 for an operation that failed), and its message is
//! printed to stderr as one sentence.

mod plan;
mod plan_table;
mod progress;
mod serve;
mod setup;
mod snapshot;
mod tags;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rsp-images",
    version,
    about = "Lab images for JupyterLab platforms on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, sort, subset and filter image tags.
    #[command(subcommand)]
    Tags(tags::TagsCommand),
    /// Run the service until SIGTERM, SIGINT or SIGHUP.
    Serve(serve::ServeArgs),
    /// One refresh against the registry and a NodeList file: what would be served and pulled.
    Plan(plan::PlanArgs),
    /// Save the registry's full listing as JSON, for a `snapshot` source.
    Snapshot(snapshot::SnapshotArgs),
}

/// Why a subcommand failed, which decides the exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments or configuration: exit status 2.
    #[error("{0}")]
    Usage(String),
    /// An operation that was attempted and failed: exit status 1.
    #[error("{0}")]
    Failed(String),
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with exit 0, usage errors with exit 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Tags(command) => tags::run(command),
        Command::Serve(args) => {
            setup::init_logging("info");
            serve::run(args)
        }
        Command::Snapshot(args) => {
            setup::init_logging("warn");
            snapshot::run(args)
        }
        Command::Plan(args) => {
            setup::init_logging("warn");
            plan::run(args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One sentence, however long the value it quotes.
            eprintln!("rsp-images: {}", rsp_config::shorten(err.to_string()));
            ExitCode::from(match err {
                CliError::Usage(_) => 2,
                CliError::Failed(_) => 1,
            })
        }
    }
}

/// Writes a command's result to stdout. A reader that went away (`plan | head`) is not a
/// failure, and never a panic as `print!` would make it.
pub fn write_stdout(text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Failed(
            format!("cannot write to standard output: {error}"),
        )),
        _ => Ok(()),
    }
}
